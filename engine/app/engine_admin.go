package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/veltrix/veltrix/engine/runner"
	"github.com/veltrix/veltrix/engine/store"
)

// Option changes how Start builds the process.
type Option func(*App)

// WithClock gives the process one clock: the stores decide expiry with it
// (on reads, in the compaction filter and in the compactor), the gateway
// stamps actions with it (an action's time is the engine's clock for it,
// so session expiry follows), and the audit sink computes its cutoff with
// it. Tests move it to expire sessions and audit rows. Default: the wall
// clock.
func WithClock(c store.Clock) Option {
	return func(a *App) {
		if c != nil {
			a.clock = c
		}
	}
}

// Clock is the process's clock (see WithClock).
func (a *App) Clock() store.Clock { return a.clock }

const mb = 1 << 20

// openStores opens both stores together (store.OpenStores: in parallel, and
// refusing when only one exists) and registers their Close.
func (a *App) openStores() error {
	cfg := a.cfg.Engine
	s, au, err := store.OpenStores(store.SessionsOptions{
		Path: cfg.Sessions.Path, Clock: a.clock, Sync: cfg.Sessions.Sync,
		BlockCacheBytes: uint64(cfg.Sessions.BlockCacheMB) * mb, MinFreeBytes: uint64(cfg.Sessions.MinFreeMB) * mb,
	}, store.AuditOptions{
		Path: cfg.Audit.Path, TTL: cfg.Audit.TTL, Clock: a.clock, Sync: cfg.Audit.Sync,
		BlockCacheBytes: uint64(cfg.Audit.BlockCacheMB) * mb, MinFreeBytes: uint64(cfg.Audit.MinFreeMB) * mb,
	})
	if err != nil {
		var hint string
		switch {
		case errors.Is(err, store.ErrDiskFull):
			hint = " (free some space; engine.sessions.min_free_mb and engine.audit.min_free_mb set the margin kept free)"
		case errors.Is(err, store.ErrLocked):
			hint = " (stop the other engine, or give this one its own data_dir)"
		}
		return fmt.Errorf("engine: %w%s", err, hint)
	}
	a.sessions, a.audit = s, au
	a.cleanups = append(a.cleanups, func() error {
		err := errors.Join(a.sessions.Close(), a.audit.Close())
		if err == nil {
			a.log.Info("stores: closed, memtables flushed", "sessions", a.cfg.Engine.Sessions.Path, "audit", a.cfg.Engine.Audit.Path)
		}
		return err
	})
	return nil
}

// StoreReport is one store in `GET /stores` and `veltrix stores stats`.
type StoreReport struct {
	Path string `json:"path"`
	store.Stats
	// Rows is an exact count by a full scan (veltrix stores stats --exact).
	Rows *store.RowCount `json:"rows,omitempty"`
}

// StoresReport is the body of `GET /stores`.
type StoresReport struct {
	Sessions StoreReport `json:"sessions"`
	Audit    StoreReport `json:"audit"`
}

// StoresStats reports both stores (the engine role only).
func (a *App) StoresStats() (StoresReport, error) {
	if a.sessions == nil || a.audit == nil {
		return StoresReport{}, errors.New("app: no engine role: no stores")
	}
	ss, err := a.sessions.Stats()
	if err != nil {
		return StoresReport{}, err
	}
	as, err := a.audit.Stats()
	if err != nil {
		return StoresReport{}, err
	}
	return StoresReport{
		Sessions: StoreReport{Path: a.sessions.Path(), Stats: ss},
		Audit:    StoreReport{Path: a.audit.Path(), Stats: as},
	}, nil
}

// registerEngineAdmin adds the engine's admin endpoints and store metrics:
//
//	GET  /audit?hunt=H[&player=P][&since=T][&until=T][&limit=N]   audit rows, JSON lines
//	GET  /stores                                                  StoresReport
//	POST /audit/export                                            run the audit sink now
func (a *App) registerEngineAdmin() {
	// Queries stop when the engine stops: a slow client must not keep the
	// audit store from closing. Registered after the stores' Close, so it
	// runs before it.
	qctx, cancel := context.WithCancel(context.Background())
	a.cleanups = append(a.cleanups, func() error { cancel(); return nil })

	a.admin.HandleFunc("GET /audit", func(w http.ResponseWriter, r *http.Request) {
		a.serveAudit(qctx, w, r)
	})
	a.admin.HandleFunc("GET /stores", func(w http.ResponseWriter, _ *http.Request) {
		rep, err := a.StoresStats()
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	})
	a.admin.HandleFunc("POST /audit/export", func(w http.ResponseWriter, r *http.Request) {
		if a.exporter == nil {
			http.Error(w, "no audit sink configured (engine.audit.sink.plugin)", http.StatusNotFound)
			return
		}
		rep, err := a.exporter.exportOnce(r.Context())
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
		}
		_ = json.NewEncoder(w).Encode(rep)
	})
	a.admin.Registry().MustRegister(&storeCollector{a: a})
	if a.exporter != nil {
		a.admin.Registry().MustRegister(a.exporter.metrics()...)
	}
}

// AuditQueryFromURL reads an audit query from URL parameters hunt, player,
// since, until (RFC 3339 or unix ms) and limit.
func AuditQueryFromURL(get func(string) string) (store.Query, error) {
	q := store.Query{Hunt: get("hunt"), Player: get("player")}
	if q.Hunt == "" {
		return q, errors.New("hunt is required")
	}
	if strings.ContainsRune(q.Hunt, 0) || strings.ContainsRune(q.Player, 0) {
		return q, errors.New("hunt and player ids cannot contain NUL")
	}
	var err error
	if q.Since, err = ParseTime(get("since")); err != nil {
		return q, fmt.Errorf("since: %w", err)
	}
	if q.Until, err = ParseTime(get("until")); err != nil {
		return q, fmt.Errorf("until: %w", err)
	}
	if s := get("limit"); s != "" {
		if q.Limit, err = strconv.Atoi(s); err != nil || q.Limit < 0 {
			return q, fmt.Errorf("limit: want a number >= 0, got %q", s)
		}
	}
	return q, nil
}

// ParseTime reads a time given as RFC 3339 (2030-01-02T15:04:05Z) or unix
// milliseconds, as unix ms; "" is 0 (unbounded).
func ParseTime(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("negative time %d", n)
		}
		return n, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("want RFC 3339 (2030-01-02T15:04:05Z) or unix ms, got %q", s)
	}
	if t.UnixMilli() < 0 {
		return 0, fmt.Errorf("time %s is before 1970", s)
	}
	return t.UnixMilli(), nil
}

// auditWriteTimeout bounds one write to an /audit client.
const auditWriteTimeout = 10 * time.Second

// serveAudit streams the rows of an audit query as JSON lines.
func (a *App) serveAudit(qctx context.Context, w http.ResponseWriter, r *http.Request) {
	q, err := AuditQueryFromURL(r.URL.Query().Get)
	if err != nil {
		http.Error(w, "audit query: "+err.Error(), http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(qctx, cancel)
	defer stop()

	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/x-ndjson")
	bw := bufio.NewWriterSize(w, 32<<10)
	enc := json.NewEncoder(bw)
	// A client that stops reading fails the write within the deadline,
	// which ends the query.
	refresh := func() { _ = rc.SetWriteDeadline(time.Now().Add(auditWriteTimeout)) }
	flush := func() error {
		if err := bw.Flush(); err != nil {
			return err
		}
		return rc.Flush()
	}
	refresh()
	var werr error
	n := 0
	err = a.audit.Query(q, func(row store.Row) bool {
		if werr = enc.Encode(row); werr != nil {
			return false
		}
		// Flush every so often so a long answer streams.
		if n++; n%1000 == 0 {
			refresh()
			werr = flush()
		}
		return werr == nil && ctx.Err() == nil
	})
	if err != nil {
		if n == 0 {
			code := http.StatusInternalServerError
			if errors.Is(err, store.ErrClosed) {
				code = http.StatusServiceUnavailable
			}
			http.Error(w, err.Error(), code)
			return
		}
		// The status is sent: end the stream with the error on its own line.
		_ = enc.Encode(map[string]string{"error": err.Error()})
	}
	if err == nil && werr == nil && qctx.Err() != nil {
		// Cut short by the engine stopping: say so rather than end quietly.
		_ = enc.Encode(map[string]string{"error": "audit query: cancelled: the engine is stopping"})
	}
	if werr == nil {
		_ = flush()
	}
}

// storeCollector exposes the stores' Stats as Prometheus metrics, reading
// each store's Stats once per scrape.
type storeCollector struct{ a *App }

var (
	storeLabels       = []string{"store"}
	descLiveKeys      = prometheus.NewDesc("veltrix_store_live_keys", "RocksDB's estimate of the keys in the store (expired rows count until compacted away).", storeLabels, nil)
	descSSTBytes      = prometheus.NewDesc("veltrix_store_sst_bytes", "Size of the store's SST files.", storeLabels, nil)
	descDiskBytes     = prometheus.NewDesc("veltrix_store_disk_bytes", "Size of every file in the store's directory.", storeLabels, nil)
	descMemtableBytes = prometheus.NewDesc("veltrix_store_memtable_bytes", "Size of the store's memtables not yet flushed.", storeLabels, nil)
	descFreeBytes     = prometheus.NewDesc("veltrix_store_free_bytes", "Free space on the store's file system.", storeLabels, nil)
	descCompactions   = prometheus.NewDesc("veltrix_store_compactions_total", "Compactions RocksDB ran on the store, background ones included.", storeLabels, nil)
	descFull          = prometheus.NewDesc("veltrix_store_full_compactions_total", "Full compactions triggered to drop expired rows.", storeLabels, nil)
	descRefused       = prometheus.NewDesc("veltrix_store_full_compactions_refused_total", "Full compactions not run for lack of disk space for a copy of the store.", storeLabels, nil)
	descExpired       = prometheus.NewDesc("veltrix_store_expired_dropped_total", "Expired rows the TTL compaction filter dropped.", storeLabels, nil)
	descCache         = prometheus.NewDesc("veltrix_store_block_cache_bytes", "Block cache in use.", storeLabels, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLiveKeys, descSSTBytes, descDiskBytes, descMemtableBytes,
		descFreeBytes, descCompactions, descFull, descRefused, descExpired, descCache} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range []struct {
		name  string
		stats func() (store.Stats, error)
	}{{"sessions", c.a.sessions.Stats}, {"audit", c.a.audit.Stats}} {
		st, err := s.stats()
		if err != nil {
			// Closed (shutting down): no sample rather than a wrong one.
			continue
		}
		gauge := func(d *prometheus.Desc, v uint64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), s.name)
		}
		counter := func(d *prometheus.Desc, v uint64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), s.name)
		}
		gauge(descLiveKeys, st.EstimatedKeys)
		gauge(descSSTBytes, st.SSTBytes)
		gauge(descDiskBytes, st.DiskBytes)
		gauge(descMemtableBytes, st.MemtableBytes)
		gauge(descFreeBytes, st.FreeBytes)
		gauge(descCache, st.BlockCacheBytes)
		counter(descCompactions, st.Compactions)
		counter(descFull, st.CompactionsTriggered)
		counter(descRefused, st.CompactionsRefused)
		counter(descExpired, st.ExpiredDropped)
	}
}

// batchMetrics registers the engine loop's metrics and returns the runner's
// observer: where a batch's time goes (rules, audit write, state commit,
// produce), how many actions batches hold, and the actions applied.
func batchMetrics(reg prometheus.Registerer) func(runner.BatchStats) {
	phase := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "veltrix", Subsystem: "engine", Name: "batch_phase_seconds",
		Help:    "Time one batch spent in each phase: step (rules), audit (audit store write), commit (session store write), produce (events acked).",
		Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16), // 50 µs to 1.6 s
	}, []string{"phase"})
	size := prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "veltrix", Subsystem: "engine", Name: "batch_actions",
		Help: "Actions in one batch.", Buckets: prometheus.ExponentialBuckets(1, 2, 11), // 1 to 1024
	})
	actions := prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "veltrix", Subsystem: "engine", Name: "actions_total", Help: "Actions consumed and applied (or refused) by the engine.",
	})
	reg.MustRegister(phase, size, actions)
	step, audit, commit, produce := phase.WithLabelValues("step"), phase.WithLabelValues("audit"),
		phase.WithLabelValues("commit"), phase.WithLabelValues("produce")
	return func(st runner.BatchStats) {
		step.Observe(st.Step.Seconds())
		audit.Observe(st.Audit.Seconds())
		commit.Observe(st.Commit.Seconds())
		produce.Observe(st.Produce.Seconds())
		size.Observe(float64(st.Actions))
		actions.Add(float64(st.Actions))
	}
}
