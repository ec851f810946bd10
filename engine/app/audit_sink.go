package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/veltrix/veltrix/engine/config"
	"github.com/veltrix/veltrix/engine/plugin"
	"github.com/veltrix/veltrix/engine/store"
)

// AuditSink is what an audit sink plugin ("veltrix.audit.<name>") gives the
// engine: a place in long-term storage for audit rows older than
// engine.audit.sink.older_than, before the audit store's TTL drops them.
//
// The engine owns the schedule and the watermark. Every
// engine.audit.sink.every it asks, hunt by hunt, for the rows from the
// watermark up to now - older_than, and records the new watermark in the
// audit store once Export has returned nil, so each row is exported once.
// The watermark it starts from is the larger of its own and Exported, so a
// crash between Export and recording the mark exports nothing twice, and
// files the operator moved away are not exported again.
type AuditSink interface {
	// Exported returns the end (exclusive, unix ms) of the rows of hunt the
	// sink already holds, 0 when it holds none.
	Exported(hunt string) (int64, error)
	// Export durably stores every row of hunt with from <= TS < to. rows
	// calls yield for each of them, in time order, until yield returns
	// false, and returns the store's error. Export is all or nothing: after
	// an error nothing of the range may be visible, as the range is asked
	// for again later. A range without rows may store nothing. Export must
	// stop early when ctx is done.
	Export(ctx context.Context, hunt string, from, to int64, rows func(yield func(store.Row) bool) error) error
}

// ExportReport is what one export pass did.
type ExportReport struct {
	Cutoff int64            `json:"cutoff"` // rows older than this (unix ms) were exported
	Rows   map[string]int64 `json:"rows"`   // rows exported per hunt
	Errors []string         `json:"errors,omitempty"`
}

// auditExporter runs an AuditSink.
type auditExporter struct {
	name      string // the plugin's name: the watermarks are per plugin
	sink      AuditSink
	audit     *store.Audit
	clock     store.Clock
	olderThan time.Duration
	log       interface {
		Info(string, ...any)
		Warn(string, ...any)
	}

	mu       sync.Mutex // one pass at a time
	rows     atomic.Int64
	failures atomic.Int64
	lastOK   atomic.Int64 // unix s of the last pass without error
	wg       sync.WaitGroup
}

// startAuditSink loads the configured sink plugin and runs it every
// engine.audit.sink.every until the engine stops.
func (a *App) startAuditSink(pctx plugin.Context) error {
	sc := a.cfg.Engine.Audit.Sink
	if sc.Plugin == "" {
		return nil
	}
	m, err := plugin.Load("veltrix.audit", sc.Plugin, config.Decoder(sc.Config), pctx)
	if err != nil {
		return fmt.Errorf("config: engine.audit.sink: %w", err)
	}
	a.addCleanup(m)
	sink, ok := m.(AuditSink)
	if !ok {
		return fmt.Errorf("config: engine.audit.sink: plugin %q is not an audit sink", sc.Plugin)
	}
	e := &auditExporter{name: sc.Plugin, sink: sink, audit: a.audit, clock: a.clock, olderThan: sc.OlderThan, log: a.log}
	a.exporter = e
	ctx, cancel := context.WithCancel(context.Background())
	e.wg.Go(func() { e.run(ctx, sc.Every) })
	// Registered after the stores' Close: runs before it.
	a.cleanups = append(a.cleanups, func() error { cancel(); e.wg.Wait(); return nil })
	return nil
}

// ExportAudit runs one pass of the audit sink now (it also runs every
// engine.audit.sink.every).
func (a *App) ExportAudit(ctx context.Context) (ExportReport, error) {
	if a.exporter == nil {
		return ExportReport{}, errors.New("app: no audit sink configured (engine.audit.sink.plugin)")
	}
	return a.exporter.exportOnce(ctx)
}

func (e *auditExporter) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if rep, err := e.exportOnce(ctx); err != nil {
			if ctx.Err() == nil {
				e.log.Warn("engine: audit export failed; retried at the next pass", "sink", e.name, "err", err)
			}
		} else if len(rep.Rows) > 0 {
			e.log.Info("engine: audit rows exported", "sink", e.name, "cutoff", time.UnixMilli(rep.Cutoff).UTC(), "rows", rep.Rows)
		}
	}
}

// exportOnce exports, hunt by hunt, the rows older than now - olderThan not
// exported yet. A hunt that fails does not stop the others.
func (e *auditExporter) exportOnce(ctx context.Context) (ExportReport, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	cutoff := e.clock.Now().Add(-e.olderThan).UnixMilli()
	rep := ExportReport{Cutoff: cutoff, Rows: map[string]int64{}}
	hunts, err := e.audit.Hunts()
	if err != nil {
		e.failures.Add(1)
		return rep, fmt.Errorf("audit export: %w", err)
	}
	var errs []error
	for _, hunt := range hunts {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		n, err := e.exportHunt(ctx, hunt, cutoff)
		if n > 0 {
			rep.Rows[hunt] = n
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("hunt %s: %w", hunt, err))
			rep.Errors = append(rep.Errors, fmt.Sprintf("hunt %s: %v", hunt, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		e.failures.Add(1)
		return rep, fmt.Errorf("audit export: %w", err)
	}
	e.lastOK.Store(time.Now().Unix())
	return rep, nil
}

func (e *auditExporter) exportHunt(ctx context.Context, hunt string, cutoff int64) (int64, error) {
	mark := "sink/" + e.name + "/" + hunt
	stored, err := e.audit.Watermark(mark)
	if err != nil {
		return 0, err
	}
	held, err := e.sink.Exported(hunt)
	if err != nil {
		return 0, err
	}
	from := max(stored, held)
	if from >= cutoff {
		return 0, nil
	}
	var n int64
	rows := func(yield func(store.Row) bool) error {
		return e.audit.Query(store.Query{Hunt: hunt, Since: from, Until: cutoff}, func(r store.Row) bool {
			n++
			return yield(r)
		})
	}
	if err := e.sink.Export(ctx, hunt, from, cutoff, rows); err != nil {
		return 0, err
	}
	e.rows.Add(n)
	return n, e.audit.SetWatermark(mark, cutoff)
}

func (e *auditExporter) metrics() []prometheus.Collector {
	labels := prometheus.Labels{"sink": e.name}
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "veltrix_audit_export_rows_total",
			Help: "Audit rows exported to the audit sink.", ConstLabels: labels},
			func() float64 { return float64(e.rows.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "veltrix_audit_export_failures_total",
			Help: "Audit export passes that failed (retried at the next pass).", ConstLabels: labels},
			func() float64 { return float64(e.failures.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "veltrix_audit_export_last_success_timestamp_seconds",
			Help: "When the last audit export pass without error ended.", ConstLabels: labels},
			func() float64 { return float64(e.lastOK.Load()) }),
	}
}
