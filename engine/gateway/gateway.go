// Package gateway is the WebSocket tier. It authenticates players, validates
// and rate-limits their frames, forwards each action to the actions topic
// (key = hunt id) and pushes the events the engine publishes back to the
// right sockets.
//
// It keeps no game state. Per connection it holds routing (player id, joined
// hunt), a write queue that is empty (nil) when idle, a token bucket and the
// goroutine of the read loop: a few KB (see docs/performance.md). Kill a
// gateway and nothing is lost: a player reconnects to any gateway with its
// session id and resume token and resumes after the last event it processed
// (see history.go and docs/protocol.md).
//
// Connections are served by net/http (header and handshake timeouts, a
// handshake rate limit, connection caps, an Origin check, auth) and upgraded
// by the gws Upgrader. Each connection has a bounded outgoing queue written
// with a deadline per frame, a maximum frame size (1009), a message rate
// (1008) and an idle timeout kept alive by pings.
package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/engine/core"
	"github.com/veltrix/veltrix/engine/kafka"
	"github.com/veltrix/veltrix/engine/protocol"
)

// Gateway serves players. Create it with New, serve it with Serve, stop it
// with Shutdown.
type Gateway struct {
	opt      Options
	log      *slog.Logger
	m        *metrics
	cl       *kgo.Client // produces actions
	events   *kgo.Client // reads every events partition
	part     kgo.TopicPartitioner
	nparts   int
	upgrader *gws.Upgrader
	hsLimit  *lockedBucket
	ips      ipCounts

	srvMu sync.Mutex
	srv   *http.Server

	open     atomic.Int64 // connections, including upgrades in progress
	queued   atomic.Int64 // frames queued over all connections
	maxQueue atomic.Int64 // the longest one connection's queue has been
	read     atomic.Int64 // events read from the events topic
	inflight atomic.Int64 // actions forwarded whose result was not delivered yet
	ready    atomic.Bool  // events caught up with the history window
	draining atomic.Bool
	loops    atomic.Int64  // read loops running
	stop     chan struct{} // stops the pinger
	stopOnce sync.Once
	readyCh  chan struct{}
	evDone   chan struct{}

	mu      sync.RWMutex
	players map[string]*client
	hunts   map[string]map[*client]struct{}
	hist    *history
	pending map[int32]int64 // end offsets at start not reached yet
}

// New connects the gateway's Kafka clients and reads the recent events of
// the history window, so that it can serve resuming clients from its first
// connection. It returns once caught up (or fails after 30s).
func New(opt Options) (*Gateway, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	g := &Gateway{
		opt: opt, log: opt.Log,
		hsLimit: newLockedBucket(opt.HandshakeRate, opt.HandshakeBurst),
		ips:     ipCounts{max: opt.MaxConnsPerIP, n: map[netip.Addr]int32{}},
		players: make(map[string]*client),
		hunts:   make(map[string]map[*client]struct{}),
		hist:    newHistory(opt.HistoryWindow.Milliseconds(), opt.HistoryBytes),
		pending: map[int32]int64{},
		stop:    make(chan struct{}),
		readyCh: make(chan struct{}),
		evDone:  make(chan struct{}),
		part:    kgo.StickyKeyPartitioner(nil).ForTopic(opt.Events),
	}
	g.m = newMetrics(g, opt.Metrics)
	g.cl, err = kgo.NewClient(append(kafka.ClientOpts(opt.Seeds, opt.ClientID, opt.Batching, opt.Log),
		kgo.DefaultProduceTopic(opt.Actions))...)
	if err != nil {
		return nil, fmt.Errorf("gateway: kafka producer: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	starts, err := g.startOffsets(ctx)
	if err != nil {
		g.cl.Close()
		return nil, err
	}
	g.nparts = len(starts)
	// Every gateway reads every events partition and keeps what its own
	// sockets need, plus the recent history for resuming clients.
	g.events, err = kgo.NewClient(append(kafka.ClientOpts(opt.Seeds, opt.ClientID+"-events", opt.Batching, opt.Log),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{opt.Events: starts}))...)
	if err != nil {
		g.cl.Close()
		return nil, fmt.Errorf("gateway: kafka consumer: %w", err)
	}
	g.upgrader = gws.NewUpgrader(&handler{g: g}, &gws.ServerOption{
		ReadMaxPayloadSize: opt.MaxFrameBytes,
		ReadBufferSize:     opt.ReadBufferBytes,
		CheckUtf8Enabled:   true,
		HandshakeTimeout:   opt.HandshakeTimeout,
		// Each message on a goroutine of its own, one at a time (a limit of
		// 1 keeps a client's messages in order): the read loop itself stays
		// shallow, so an idle connection's goroutine keeps a 2 KB stack.
		ParallelEnabled: true,
		ParallelGolimit: 1,
		NewSession:      func() gws.SessionStorage { return &client{} },
		Recovery:        gws.Recovery,
		Logger:          gwsLogger{opt.Log},
	})
	go g.consumeEvents()
	select {
	case <-g.readyCh:
	case <-ctx.Done():
		g.events.Close()
		g.cl.Close()
		return nil, fmt.Errorf("gateway: reading the last %s of events (topic %s) took too long", opt.HistoryWindow, opt.Events)
	}
	go g.pingLoop()
	return g, nil
}

// startOffsets chooses where to read each events partition: the start of
// the history window (bounded so the history fits), or the end without a
// history. It records the end offsets to catch up with.
func (g *Gateway) startOffsets(ctx context.Context) (map[int32]kgo.Offset, error) {
	adm := kadm.NewClient(g.cl)
	ends, err := adm.ListEndOffsets(ctx, g.opt.Events)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("gateway: events topic %s: %w", g.opt.Events, err)
	}
	froms := ends
	if g.opt.HistoryBytes >= 0 {
		// Record timestamps are wall-clock: not Options.Now, which tests move.
		froms, err = adm.ListOffsetsAfterMilli(ctx, time.Now().Add(-g.opt.HistoryWindow).UnixMilli(), g.opt.Events)
		if err == nil {
			err = froms.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("gateway: events topic %s: %w", g.opt.Events, err)
		}
	}
	out := map[int32]kgo.Offset{}
	n := len(ends[g.opt.Events])
	if n == 0 {
		return nil, fmt.Errorf("gateway: events topic %s has no partitions", g.opt.Events)
	}
	// At most the records that could fit the history (64 bytes or more each).
	maxBack := int64(max(g.opt.HistoryBytes, 0)/64/n + 1)
	for p, e := range ends[g.opt.Events] {
		start := e.Offset
		if f, ok := froms[g.opt.Events][p]; ok && f.Offset >= 0 && f.Offset < start {
			start = max(f.Offset, e.Offset-maxBack)
		}
		out[p] = kgo.NewOffset().At(start)
		g.hist.setStart(p, start)
		if start < e.Offset {
			g.pending[p] = e.Offset
		}
	}
	if len(g.pending) == 0 {
		g.ready.Store(true)
		close(g.readyCh)
	}
	return out, nil
}

// Handler returns the HTTP handler serving /ws (and /healthz).
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", g.serveWS)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	return mux
}

// Serve accepts players on ln until Shutdown.
func (g *Gateway) Serve(ln net.Listener) error {
	srv := &http.Server{
		Handler:           g.Handler(),
		ReadHeaderTimeout: g.opt.HandshakeTimeout,
		ReadTimeout:       g.opt.HandshakeTimeout, // the upgrade request only: hijacked connections are ours
		WriteTimeout:      g.opt.HandshakeTimeout,
		IdleTimeout:       g.opt.HandshakeTimeout,
		MaxHeaderBytes:    8 << 10,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
	}
	g.srvMu.Lock()
	if g.draining.Load() {
		g.srvMu.Unlock()
		return nil
	}
	g.srv = srv
	g.srvMu.Unlock()
	err := srv.Serve(listener{ln})
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Ready reports whether the gateway takes players (nil) or why not.
func (g *Gateway) Ready() error {
	switch {
	case g.draining.Load():
		return errors.New("gateway: draining")
	case !g.ready.Load():
		return errors.New("gateway: reading recent events")
	}
	return nil
}

func (g *Gateway) refuse(w http.ResponseWriter, status int, reason, msg string) {
	g.m.reject(reason)
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	http.Error(w, msg, status)
}

func (g *Gateway) serveWS(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	switch {
	case g.draining.Load():
		g.refuse(w, http.StatusServiceUnavailable, reasonDraining, "gateway restarting: connect to another one")
		return
	case !g.ready.Load():
		g.refuse(w, http.StatusServiceUnavailable, reasonStarting, "gateway starting")
		return
	case !originAllowed(r, g.opt.AllowedOrigins):
		g.refuse(w, http.StatusForbidden, reasonOrigin, "origin not allowed")
		return
	case !g.hsLimit.allow(start.UnixNano()):
		g.refuse(w, http.StatusServiceUnavailable, reasonHandshakeRate, "too many connections being opened: retry")
		return
	}
	if g.open.Add(1) > int64(g.opt.MaxConns) {
		g.open.Add(-1)
		g.refuse(w, http.StatusServiceUnavailable, reasonMaxConns, "gateway full: connect to another one")
		return
	}
	ip := remoteIP(r)
	if !g.ips.acquire(ip) {
		g.open.Add(-1)
		g.refuse(w, http.StatusTooManyRequests, reasonIPLimit, "too many connections from your address")
		return
	}
	release := func() { g.open.Add(-1); g.ips.release(ip) }
	player, err := g.authenticate(r)
	if err != nil {
		release()
		g.log.Debug("gateway: handshake refused", "remote", r.RemoteAddr, "err", err)
		g.refuse(w, http.StatusUnauthorized, reasonUnauthorized, "unauthorized: "+err.Error())
		return
	}
	conn, err := g.upgrader.Upgrade(w, r)
	if err != nil {
		release()
		g.m.reject(reasonUpgrade)
		g.log.Debug("gateway: upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	if s := sockOf(conn); s != nil {
		s.ws.Store(true)
		if g.opt.SendBufferBytes > 0 {
			_ = s.SetWriteBuffer(g.opt.SendBufferBytes)
		}
	}
	c := clientOf(conn)
	// The id may point into the request line: keep a copy, not the line.
	c.g, c.conn, c.player, c.ip = g, conn, strings.Clone(player), ip
	g.m.accepted.Inc()
	g.m.handshake.Observe(time.Since(start).Seconds())
	g.loops.Add(1) // ended by OnClose
	g.start(c)
	go conn.ReadLoop()
}

// authenticate: a session id with its resume token, or the auth plugin.
func (g *Gateway) authenticate(r *http.Request) (string, error) {
	q := r.URL.Query()
	if tok := q.Get("resume"); tok != "" {
		return verifyResume(g.opt.ResumeSecret, q.Get("session"), tok, g.opt.Now())
	}
	player, err := g.opt.Auth.Authenticate(r)
	if err != nil {
		return "", err
	}
	if !protocol.ValidID(player) {
		return "", errors.New("invalid player id")
	}
	return player, nil
}

// register makes c the player's connection; an older one is closed.
func (g *Gateway) register(c *client) {
	g.mu.Lock()
	if c.gone {
		g.mu.Unlock()
		return
	}
	old := g.players[c.player]
	g.players[c.player] = c
	g.mu.Unlock()
	if old != nil {
		go old.kill(reasonTakeover, 1008, "session taken over by a newer connection", false)
	}
}

// setHuntLocked moves c to hunt's routing set.
func (g *Gateway) setHuntLocked(c *client, hunt string) {
	if c.hunt == hunt {
		return
	}
	g.leaveHuntLocked(c)
	c.hunt = hunt
	set := g.hunts[hunt]
	if set == nil {
		set = make(map[*client]struct{})
		g.hunts[hunt] = set
	}
	set[c] = struct{}{}
}

// leaveHuntLocked takes c out of its hunt's routing set (c.hunt stays: a
// message being handled may still read it).
func (g *Gateway) leaveHuntLocked(c *client) {
	if set := g.hunts[c.hunt]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(g.hunts, c.hunt)
		}
	}
}

func (g *Gateway) joinHunt(c *client, hunt string) {
	g.mu.Lock()
	if c.hunt != hunt && !c.gone {
		g.setHuntLocked(c, hunt)
		c.from = -1
	}
	g.mu.Unlock()
}

func (g *Gateway) unregister(c *client) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c.gone = true // a message still being handled must not route it again
	if g.players[c.player] == c {
		delete(g.players, c.player)
	}
	g.leaveHuntLocked(c)
}

// partitionOf is the events partition of a hunt: events are keyed by hunt
// with the same partitioner as every Veltrix producer.
func (g *Gateway) partitionOf(hunt string) int32 {
	return int32(g.part.Partition(&kgo.Record{Key: []byte(hunt)}, g.nparts))
}

// resume rejoins c to hunt's events after pos (the pos of the last event the
// client processed) and replays what it missed from the history, all under
// the events lock: no event is lost or delivered twice in between.
func (g *Gateway) resume(c *client, hunt string, pos int64) {
	p := g.partitionOf(hunt)
	g.mu.Lock()
	defer g.mu.Unlock()
	if c.gone {
		return
	}
	g.setHuntLocked(c, hunt)
	c.from = -1
	entries, st := g.hist.since(p, hunt, c.player, pos-1, g.opt.QueueLimit-1)
	last := g.hist.last(p) + 1
	switch st {
	case resumeOK:
		g.m.resumes.WithLabelValues("replayed").Inc()
		c.sendJSON(protocol.ServerMessage{Type: protocol.TypeResumed, Hunt: hunt, Pos: last, Replayed: len(entries)})
		for _, e := range entries {
			c.send(e.b, 0)
		}
	case resumeAhead:
		// Another gateway delivered events this one has not read yet:
		// deliver from there on.
		g.m.resumes.WithLabelValues("ahead").Inc()
		c.from = pos - 1
		c.sendJSON(protocol.ServerMessage{Type: protocol.TypeResumed, Hunt: hunt, Pos: pos})
	default:
		g.m.resumes.WithLabelValues("gap").Inc()
		c.sendJSON(protocol.ServerMessage{Type: protocol.TypeResumed, Hunt: hunt, Pos: last, Gap: true})
	}
}

// forward sends one validated action to Kafka. The record gets its own
// buffer: the socket's read buffer is reused as soon as OnMessage returns.
func (g *Gateway) forward(c *client, m protocol.ClientMessage) {
	a := core.Action{
		Hunt: c.hunt, Player: c.player, Seq: m.Seq, Type: m.Type,
		Lat: m.Lat, Lon: m.Lon, At: m.At, TS: g.opt.Now().UnixMilli(), Gateway: g.opt.ClientID,
	}
	// One allocation holds the key and then the value; 160 bytes fit the
	// JSON keys and usual numbers. JSON numbers are finite, so AppendJSON
	// cannot fail.
	n := len(a.Hunt)
	buf := append(make([]byte, 0, n+160+len(a.Player)+len(a.Gateway)), a.Hunt...)
	key := buf[:n:n]
	val, _ := a.AppendJSON(buf[n:])
	// An action read before the client closed is still forwarded; only a
	// connection that is still open waits for its result at a drain.
	if !c.done.Load() {
		c.inflight.Add(1)
		g.inflight.Add(1)
	}
	g.m.forwarded.Inc()
	g.cl.Produce(context.Background(), &kgo.Record{Key: key, Value: val}, func(_ *kgo.Record, err error) {
		if err != nil {
			c.answered()
			g.log.Warn("gateway: action not forwarded", "player", c.player, "seq", m.Seq, "err", err)
			c.sendError(protocol.ErrUnavailable, "the action could not be queued, resend it", m.Seq)
		}
	})
}

var resultPrefix = []byte(`{"type":"result"`)

// consumeEvents routes each event to its player, or to every player of its
// hunt connected here, and keeps it in the history.
func (g *Gateway) consumeEvents() {
	defer close(g.evDone)
	toPlayer := g.m.eventsIn.WithLabelValues("player")
	toHunt := g.m.eventsIn.WithLabelValues("hunt")
	for {
		fetches := g.events.PollFetches(context.Background())
		if fetches.IsClientClosed() {
			return
		}
		fetches.EachError(func(t string, p int32, err error) {
			g.log.Warn("gateway: events fetch error", "topic", t, "partition", p, "err", err)
		})
		now := time.Now().UnixMilli()
		g.mu.Lock()
		fetches.EachRecord(func(rec *kgo.Record) {
			if g.route(rec, now) {
				toPlayer.Inc()
			} else {
				toHunt.Inc()
			}
		})
		g.hist.trim(now)
		if len(g.pending) > 0 {
			for p, end := range g.pending {
				if g.hist.last(p)+1 >= end {
					delete(g.pending, p)
				}
			}
			if len(g.pending) == 0 && !g.ready.Load() {
				g.ready.Store(true)
				close(g.readyCh)
			}
		}
		g.mu.Unlock()
	}
}

// route delivers one record (called with g.mu held) and reports whether it
// was for one player.
func (g *Gateway) route(rec *kgo.Record, now int64) bool {
	to := ""
	for _, h := range rec.Headers {
		if h.Key == kafka.HeaderTo {
			to = string(h.Value)
		}
	}
	g.read.Add(1)
	b := stampPos(rec.Value, rec.Offset+1)
	ts := eventTS(rec.Value)
	hunt := string(rec.Key)
	g.hist.add(rec.Partition, rec.Offset, hunt, to, b, ts, now)
	if !g.ready.Load() {
		return to != "" // history only: nobody is connected yet
	}
	if to != "" {
		if c := g.players[to]; c != nil && c.hunt == hunt && rec.Offset > c.from {
			c.send(b, ts)
			if bytes.HasPrefix(rec.Value, resultPrefix) {
				c.answered()
			}
		}
		return true
	}
	for c := range g.hunts[hunt] {
		if rec.Offset > c.from {
			c.send(b, ts)
		}
	}
	return false
}

// stampPos appends "pos":pos to an event (a JSON object), in a new buffer
// shared by every recipient.
func stampPos(v []byte, pos int64) []byte {
	if len(v) < 2 || v[len(v)-1] != '}' {
		return v
	}
	b := make([]byte, 0, len(v)+24)
	b = append(b, v[:len(v)-1]...)
	if len(v) > 2 {
		b = append(b, ',')
	}
	b = append(b, `"pos":`...)
	b = strconv.AppendInt(b, pos, 10)
	return append(b, '}')
}

var tsKey = []byte(`"ts":`)

// eventTS reads an event's top-level ts (the last "ts" key: the game's data
// comes before it) without decoding it; 0 if there is none.
func eventTS(v []byte) int64 {
	i := bytes.LastIndex(v, tsKey)
	if i < 0 {
		return 0
	}
	var n int64
	for _, ch := range v[i+len(tsKey):] {
		if ch < '0' || ch > '9' {
			break
		}
		n = n*10 + int64(ch-'0')
	}
	return n
}

// keepaliveEvery is the keepalive loop's period.
func (g *Gateway) keepaliveEvery() time.Duration {
	return min(max(g.opt.PingInterval/5, 100*time.Millisecond), 5*time.Second)
}

// idleMs is how long after its last frame a connection is closed: the idle
// timeout, plus up to one keepalive period (the loop moves deadlines).
func (g *Gateway) idleMs() int64 {
	return (g.opt.IdleTimeout + g.keepaliveEvery()).Milliseconds()
}

// pingLoop keeps connections alive: it pings those silent for PingInterval
// (a live client's pong counts as activity) and moves each read deadline to
// IdleTimeout (plus one period) after the connection's last frame, so a
// connection silent that long is closed.
func (g *Gateway) pingLoop() {
	t := time.NewTicker(g.keepaliveEvery())
	defer t.Stop()
	iv := g.opt.PingInterval.Milliseconds()
	idle := g.idleMs()
	var ping, extend []*client
	for {
		select {
		case <-g.stop:
			return
		case now := <-t.C:
			s := now.UnixMilli()
			ping, extend = ping[:0], extend[:0]
			g.mu.RLock()
			for _, c := range g.players {
				seen := c.seen.Load()
				if s-seen >= iv && s-c.pinged >= iv {
					c.pinged = s
					ping = append(ping, c)
				}
				if seen+idle > c.deadline {
					c.deadline = seen + idle
					extend = append(extend, c)
				}
			}
			g.mu.RUnlock()
			for _, c := range ping {
				c.enqueue(frame{op: opPing}, false)
			}
			for _, c := range extend {
				if !c.ending() {
					_ = c.conn.SetReadDeadline(time.UnixMilli(c.deadline))
				}
			}
			clear(ping)
			clear(extend)
		}
	}
}

// Conns reports the number of open player connections.
func (g *Gateway) Conns() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.players)
}

// Shutdown drains the gateway within Options.DrainTimeout (or ctx): it
// stops accepting, stops forwarding actions (clients are told to resend them
// after reconnecting), waits a while for the results of the actions already
// forwarded, writes every connection's queued events and closes it with 1012
// (restarting: reconnect, to any gateway), then flushes the accepted actions
// to Kafka and closes its clients.
func (g *Gateway) Shutdown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, g.opt.DrainTimeout)
	defer cancel()
	if g.draining.Swap(true) {
		return nil
	}
	g.srvMu.Lock()
	srv := g.srv
	g.srvMu.Unlock()
	var errs []error
	if srv != nil {
		// Closes the listeners; upgraded connections are not the server's.
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("gateway: http shutdown: %w", err))
		}
	}
	// Results of the actions forwarded: up to half the drain time.
	half, cancelHalf := context.WithTimeout(ctx, g.opt.DrainTimeout/2)
	waitFor(half, func() bool { return g.inflight.Load() <= 0 })
	cancelHalf()

	g.mu.RLock()
	all := make([]*client, 0, len(g.players))
	for _, c := range g.players {
		all = append(all, c)
	}
	g.mu.RUnlock()
	if srv != nil { // a gateway that never served (its start failed) has nothing to drain
		g.log.Info("gateway: draining", "connections", len(all))
	}
	for _, c := range all {
		c.closeAfterFlush(1012, "gateway restarting: reconnect")
	}
	waitFor(ctx, func() bool { return g.loops.Load() == 0 })
	if ctx.Err() != nil {
		g.mu.RLock()
		n := len(g.players)
		for _, c := range g.players {
			if s := sockOf(c.conn); s != nil {
				s.cut()
			} else {
				_ = c.conn.NetConn().Close()
			}
		}
		g.mu.RUnlock()
		g.log.Warn("gateway: drain time over, connections cut", "connections", n)
	}
	g.stopOnce.Do(func() { close(g.stop) })
	fctx, fcancel := context.WithTimeout(context.Background(), max(time.Second, time.Until(deadlineOf(ctx))))
	if err := g.cl.Flush(fctx); err != nil {
		errs = append(errs, fmt.Errorf("gateway: flush actions: %w", err))
	}
	fcancel()
	g.cl.Close()
	g.events.Close()
	<-g.evDone
	return errors.Join(errs...)
}

func deadlineOf(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, cond func() bool) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

type gwsLogger struct{ l *slog.Logger }

func (l gwsLogger) Error(v ...any) { l.l.Error("gws", "detail", fmt.Sprint(v...)) }

// noteQueue records a connection queue length as the high-water mark.
func (g *Gateway) noteQueue(n int64) {
	for {
		m := g.maxQueue.Load()
		if n <= m || g.maxQueue.CompareAndSwap(m, n) {
			return
		}
	}
}
