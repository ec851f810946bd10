package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Reject and disconnect reasons, the "reason" label of
// veltrix_gateway_rejects_total.
const (
	// Handshakes refused.
	reasonDraining      = "draining"       // 503: shutting down
	reasonStarting      = "starting"       // 503: events not caught up yet
	reasonOrigin        = "origin"         // 403
	reasonHandshakeRate = "handshake_rate" // 503
	reasonMaxConns      = "max_conns"      // 503
	reasonIPLimit       = "ip_limit"       // 429
	reasonUnauthorized  = "unauthorized"   // 401
	reasonUpgrade       = "bad_upgrade"    // not a valid WebSocket upgrade
	// Frames refused (the connection stays).
	reasonRateLimited = "rate_limited"
	reasonBadFrame    = "bad_frame"
	// Connections closed by the gateway.
	reasonFlood        = "flood"         // 1008
	reasonSlow         = "slow"          // 1008: outgoing queue full
	reasonWriteTimeout = "write_timeout" // a write did not complete in time
	reasonTooLarge     = "too_large"     // 1009
	reasonIdle         = "idle"          // nothing received within the idle timeout
	reasonTakeover     = "takeover"      // 1008: a newer connection of the player
)

// metrics are the gateway's Prometheus collectors. They always exist (so
// the code never checks); they are registered only when Options.Metrics is set.
type metrics struct {
	conns      prometheus.GaugeFunc
	accepted   prometheus.Counter
	framesIn   prometheus.Counter
	framesOut  prometheus.Counter
	rejects    *prometheus.CounterVec
	queue      prometheus.GaugeFunc
	eventsIn   *prometheus.CounterVec
	latency    prometheus.Histogram
	handshake  prometheus.Histogram
	resumes    *prometheus.CounterVec
	historyLen prometheus.GaugeFunc
	forwarded  prometheus.Counter
}

func newMetrics(g *Gateway, reg prometheus.Registerer) *metrics {
	const ns, sub = "veltrix", "gateway"
	m := &metrics{
		conns: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "connections",
			Help: "Open player connections."}, func() float64 { return float64(g.open.Load()) }),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "connections_accepted_total",
			Help: "Player connections upgraded to WebSocket."}),
		framesIn: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "frames_in_total",
			Help: "Data frames received from players."}),
		framesOut: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "frames_out_total",
			Help: "Frames written to players."}),
		rejects: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "rejects_total",
			Help: "Handshakes refused, frames refused and connections closed by the gateway, by reason."}, []string{"reason"}),
		queue: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "queue_depth",
			Help: "Frames waiting to be written, over all connections."}, func() float64 { return float64(g.queued.Load()) }),
		eventsIn: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "events_total",
			Help: "Events read from the events topic, by route (player or hunt)."}, []string{"route"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "event_latency_seconds",
			Help:    "From the receive time of the action that caused an event (its ts) to the event written to a player's socket.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}),
		handshake: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "handshake_seconds",
			Help:    "Time to authenticate and upgrade a connection.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .5}}),
		resumes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "resumes_total",
			Help: "Resume requests, by result (replayed, ahead, gap)."}, []string{"result"}),
		historyLen: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "history_bytes",
			Help: "Approximate bytes of recent events kept for resuming clients."}, func() float64 {
			g.mu.RLock()
			defer g.mu.RUnlock()
			return float64(g.hist.bytes)
		}),
		forwarded: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "actions_forwarded_total",
			Help: "Player actions produced to the actions topic."}),
	}
	for _, r := range []string{reasonDraining, reasonStarting, reasonOrigin, reasonHandshakeRate, reasonMaxConns,
		reasonIPLimit, reasonUnauthorized, reasonUpgrade, reasonRateLimited, reasonBadFrame, reasonFlood, reasonSlow,
		reasonWriteTimeout, reasonTooLarge, reasonIdle, reasonTakeover} {
		m.rejects.WithLabelValues(r) // export zeros, so rates work from the start
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.conns, m.accepted, m.framesIn, m.framesOut, m.rejects, m.queue,
			m.eventsIn, m.latency, m.handshake, m.resumes, m.historyLen, m.forwarded} {
			if err := reg.Register(c); err != nil {
				g.log.Warn("gateway: metric not registered", "err", err)
			}
		}
	}
	return m
}

func (m *metrics) reject(reason string) { m.rejects.WithLabelValues(reason).Inc() }
