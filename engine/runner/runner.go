// Package runner is the engine tier's loop: it consumes actions from Kafka,
// steps the core state machine, and carries out each Ready in the order
// engine/core documents (audit, one session batch with the consumed offsets
// and the event outbox, produce, advance).
package runner

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/engine/core"
	"github.com/veltrix/veltrix/engine/kafka"
	"github.com/veltrix/veltrix/engine/store"
)

// Config configures a Runner.
type Config struct {
	Seeds    []string
	Batching kafka.Batching // of the Kafka client
	ClientID string
	Group    string
	// InstanceID, if set, makes the engine a static group member.
	InstanceID string
	Actions    string // topic
	Events     string // topic
	// Workers each run the records of their partitions (partition modulo
	// the number of workers) with their own core and rules, in parallel.
	// A hunt's actions share a partition, so workers never touch the same
	// rows; the number may change between runs (rows are keyed by hunt and
	// partition, not by worker).
	Workers  []Worker
	Sessions *store.Sessions
	Audit    *store.Audit
	// SessionTTL: see core.Config. Default 30m.
	SessionTTL time.Duration
	Log        *slog.Logger
	// StoreName names the session store in messages (its path).
	StoreName string
	// MaxPoll bounds the records handled in one Ready. Default 1000.
	MaxPoll int
	// Observe, if set, is told of every batch: its actions and how long
	// each phase took (metrics; called on the engine loop, keep it cheap).
	Observe func(BatchStats)
	// DrainTimeout bounds, at shutdown, publishing the last Ready's events
	// to an unreachable broker; past it they stay in the outbox and go out at
	// the next start. Default 30s.
	DrainTimeout time.Duration
}

// Worker is what one engine worker runs with: the rules in its Catalog are
// called from that worker's goroutine only.
type Worker struct {
	Catalog core.Catalog
	// Version names the version of the rules a game's events were made by.
	Version func(game string) string
}

// worker is one partition worker's state.
type worker struct {
	core *core.Core
	recs []*kgo.Record
}

// BatchStats describes one batch of the engine loop.
type BatchStats struct {
	Actions int
	Step    time.Duration // decoding the actions and running the rules
	Audit   time.Duration // the audit store's write
	Commit  time.Duration // the session store's write (state, offsets, outbox)
	Produce time.Duration // publishing the events until the broker acked
}

// Runner owns the engine loop. Run it once.
type Runner struct {
	cfg     Config
	cl      *kgo.Client
	workers []*worker
	log     *slog.Logger
	outbox  atomic.Uint64 // next outbox key

	// produced are outbox rows whose events the broker acked, not yet
	// deleted: the next commit (or the shutdown) deletes them. Only Run's
	// goroutine touches them (workers only step; handle runs after).
	produced [][]byte

	// halt stops Run with an error found outside its goroutine (in a
	// group callback); halted carries it.
	halted context.Context
	halt   context.CancelCauseFunc

	applied atomic.Int64 // actions stepped, for tests and metrics
	failed  atomic.Int64 // rule errors
}

// New connects the runner's Kafka client (no IO happens until Run).
func New(cfg Config) (*Runner, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.MaxPoll <= 0 {
		cfg.MaxPoll = 1000
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 30 * time.Second
	}
	if len(cfg.Workers) == 0 {
		return nil, errors.New("runner: no workers")
	}
	r := &Runner{cfg: cfg, log: cfg.Log}
	r.outbox.Store(uint64(time.Now().UnixNano()))
	r.halted, r.halt = context.WithCancelCause(context.Background())
	for _, w := range cfg.Workers {
		r.workers = append(r.workers, &worker{core: core.New(core.Config{
			Catalog: w.Catalog, State: cfg.Sessions, SessionTTL: cfg.SessionTTL, Version: w.Version,
		})})
	}
	// The engine produces a whole batch's events at once and waits for them
	// before its next batch: a linger would only hold that batch back.
	batching := cfg.Batching
	batching.Linger = 0
	opts := append(kafka.ClientOpts(cfg.Seeds, cfg.ClientID, batching, cfg.Log),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Actions),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.BlockRebalanceOnPoll(),
		kgo.AutoCommitMarks(),
		// Resume from the offset stored with the state, never the group's:
		// the group's commit may be ahead of what this store holds.
		kgo.AdjustFetchOffsetsFn(r.adjustOffsets),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			r.log.Info("engine: partitions assigned", "partitions", m[cfg.Actions])
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			// BlockRebalanceOnPoll means no Ready is in flight here.
			r.log.Info("engine: partitions revoked", "partitions", m[cfg.Actions])
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			r.log.Warn("engine: partitions lost", "partitions", m[cfg.Actions])
		}),
	)
	if cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(cfg.InstanceID))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("runner: kafka client: %w", err)
	}
	r.cl = cl
	return r, nil
}

// Applied reports how many actions have been stepped.
func (r *Runner) Applied() int64 { return r.applied.Load() }

// offsetKey is where a partition's next offset is stored, in the same batch
// as the state it produced.
func (r *Runner) offsetKey(p int32) []byte {
	k := []byte("o/" + r.cfg.Actions + "/")
	return binary.BigEndian.AppendUint32(k, uint32(p))
}

func (r *Runner) adjustOffsets(_ context.Context, in map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	for topic, parts := range in {
		if topic != r.cfg.Actions {
			continue
		}
		for p := range parts {
			v, ok, err := r.cfg.Sessions.Get(r.offsetKey(p))
			if err != nil {
				return nil, fmt.Errorf("runner: read offset of partition %d: %w", p, err)
			}
			if ok && len(v) == 8 {
				stored := int64(binary.BigEndian.Uint64(v))
				// The group's commit can only be ahead of this store if another
				// store applied those actions: resuming here would apply them
				// again over stale state. Stop rather than diverge.
				if committed := parts[p].EpochOffset().Offset; committed > stored {
					err := fmt.Errorf("runner: partition %d of %s: group %s has consumed up to offset %d, but this engine's store (%s) holds state only up to %d: "+
						"another engine with its own data dir has processed this partition; engines of one group must share their state "+
						"(run one engine per group, or give this engine the data dir that processed the partition)",
						p, topic, r.cfg.Group, committed, r.cfg.StoreName, stored)
					r.halt(err)
					return nil, err
				}
				parts[p] = kgo.NewOffset().At(stored).WithEpoch(-1)
			} else {
				// Nothing stored: this store has no state for the partition,
				// so rebuild it from the start of the log.
				parts[p] = kgo.NewOffset().AtStart()
			}
		}
	}
	return in, nil
}

// Run consumes until ctx is done or a store fails. On return the client has
// left the group; what was applied is durable.
func (r *Runner) Run(parent context.Context) error {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	stop := context.AfterFunc(r.halted, func() { cancel(context.Cause(r.halted)) })
	defer stop()
	defer r.cl.Close()
	if err := r.flushOutbox(ctx); err != nil {
		return err
	}
	for {
		fetches := r.cl.PollRecords(ctx, r.cfg.MaxPoll)
		if fetches.IsClientClosed() || ctx.Err() != nil {
			r.cl.AllowRebalance()
			if cause := context.Cause(ctx); parent.Err() == nil && cause != nil {
				return errors.Join(cause, r.clearOutbox())
			}
			return r.clearOutbox()
		}
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				r.log.Warn("engine: fetch error", "topic", t, "partition", p, "err", err)
			}
		})
		// Each worker takes its partitions' records, in order; workers run
		// side by side and all finish before the offsets are marked and a
		// rebalance may happen.
		var recs []*kgo.Record
		fetches.EachRecord(func(rec *kgo.Record) {
			w := r.workers[int(rec.Partition)%len(r.workers)]
			w.recs = append(w.recs, rec)
			recs = append(recs, rec)
		})
		err := r.runBatch(ctx)
		if err != nil {
			r.cl.AllowRebalance()
			return err
		}
		r.cl.MarkCommitRecords(recs...)
		r.cl.AllowRebalance()
	}
}

// runBatch steps the workers' records, side by side, and carries out their
// Readys as one: one audit write, one commit and one produce per poll, not
// per worker. Each fsync costs CPU on a small machine (two workers
// committing apart cost a fifth of a core at 5,000 actions/s).
func (r *Runner) runBatch(ctx context.Context) error {
	var busy []*worker
	for _, w := range r.workers {
		if len(w.recs) > 0 {
			busy = append(busy, w)
		}
	}
	if len(busy) == 0 {
		return nil // a poll with errors only
	}
	defer func() {
		for _, w := range busy {
			w.recs = w.recs[:0]
		}
	}()
	t0 := time.Now()
	errs := make([]error, len(busy))
	if len(busy) == 1 {
		errs[0] = r.step(busy[0])
	} else {
		var wg sync.WaitGroup
		for i, w := range busy {
			wg.Go(func() { errs[i] = r.step(w) })
		}
		wg.Wait()
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	rd := busy[0].core.Ready() // one worker's Ready is used as it is
	n := len(busy[0].recs)
	if len(busy) > 1 {
		rd = core.Ready{}
		n = 0
		for _, w := range busy {
			n += len(w.recs)
			mergeReady(&rd, w.core.Ready())
		}
	}
	if !rd.Empty() {
		st := BatchStats{Actions: n, Step: time.Since(t0)}
		if err := r.handle(ctx, rd, &st); err != nil {
			return err // no Advance: nothing of this batch counts as done
		}
		r.applied.Add(int64(n))
		if r.cfg.Observe != nil {
			r.cfg.Observe(st)
		}
	}
	for _, w := range busy {
		w.core.Advance()
	}
	return nil
}

// step runs a worker's records through its core.
func (r *Runner) step(w *worker) error {
	for _, rec := range w.recs {
		src := core.Source{Partition: rec.Partition, Offset: rec.Offset}
		if a, err := core.DecodeAction(rec.Value); err != nil {
			r.log.Warn("engine: undecodable action skipped", "partition", rec.Partition, "offset", rec.Offset, "err", err)
			w.core.Skip(src)
		} else if err := w.core.Step(src, a); err != nil {
			if !errors.Is(err, core.ErrBadAction) {
				return fmt.Errorf("runner: %w", err)
			}
			r.log.Warn("engine: action skipped", "partition", rec.Partition, "offset", rec.Offset, "err", err)
		}
	}
	return nil
}

// mergeReady adds src to dst. Workers own disjoint partitions, so their
// rows, offsets and events never collide; one worker's events keep their order.
func mergeReady(dst *core.Ready, src core.Ready) {
	dst.Writes = append(dst.Writes, src.Writes...)
	dst.Audit = append(dst.Audit, src.Audit...)
	dst.Events = append(dst.Events, src.Events...)
	dst.Failures = append(dst.Failures, src.Failures...)
	for p, off := range src.Offsets {
		if dst.Offsets == nil {
			dst.Offsets = map[int32]int64{}
		}
		dst.Offsets[p] = off
	}
}

// handle carries out one Ready in the order engine/core documents.
func (r *Runner) handle(ctx context.Context, rd core.Ready, st *BatchStats) error {
	for _, err := range rd.Failures {
		r.failed.Add(1)
		r.log.Warn("engine: rules error", "err", err)
	}
	if len(rd.Audit) > 0 {
		rows := make([]store.Row, len(rd.Audit))
		for i, a := range rd.Audit {
			rows[i] = store.Row{Hunt: a.Hunt, Player: a.Player, TS: a.TS, Partition: a.Partition,
				Offset: a.Offset, Index: a.Index, Kind: a.Kind, Data: a.Data}
		}
		t := time.Now()
		if err := r.cfg.Audit.Append(rows); err != nil {
			return fmt.Errorf("runner: audit: %w", err)
		}
		st.Audit = time.Since(t)
	}
	ws := make([]store.Write, 0, len(rd.Writes)+len(rd.Offsets)+len(rd.Events))
	for _, w := range rd.Writes {
		ws = append(ws, store.Write{Key: w.Key, Value: w.Value, ExpiresAt: w.ExpiresAt, Delete: w.Delete})
	}
	for p, off := range rd.Offsets {
		ws = append(ws, store.Write{Key: r.offsetKey(p), Value: binary.BigEndian.AppendUint64(nil, uint64(off))})
	}
	// The batch's events go in one outbox row: one key per batch, not per
	// event, for RocksDB to write, flush and compact away.
	var outKey []byte
	if len(rd.Events) > 0 {
		outKey = binary.BigEndian.AppendUint64([]byte("x/"), r.outbox.Add(1))
		ws = append(ws, store.Write{Key: outKey, Value: encodeOutbox(rd.Events)})
	}
	// Events already out: their outbox rows go in this batch rather than
	// in a write of their own. (Should the commit fail, they stay in the
	// store and are published again at the next start: at least once.)
	for _, k := range r.takeProduced() {
		ws = append(ws, store.Write{Key: k, Delete: true})
	}
	t := time.Now()
	if err := r.cfg.Sessions.Commit(ws); err != nil {
		return fmt.Errorf("runner: commit: %w", err)
	}
	st.Commit = time.Since(t)
	if len(rd.Events) == 0 {
		return nil
	}
	t = time.Now()
	if err := r.produce(ctx, rd.Events); err != nil {
		// The events stay in the outbox and go out at the next start.
		return err
	}
	st.Produce = time.Since(t)
	r.produced = append(r.produced, outKey)
	return nil
}

// takeProduced hands over the produced outbox rows for deletion.
func (r *Runner) takeProduced() [][]byte {
	done := r.produced
	r.produced = nil
	return done
}

// clearOutbox deletes the outbox rows of events already produced.
func (r *Runner) clearOutbox() error {
	// The group's commit is for monitoring (lag) and for the stale-store
	// check in adjustOffsets; the store's offsets are what resumes.
	cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if err := r.cl.CommitMarkedOffsets(cctx); err != nil {
		r.log.Warn("engine: final offset commit failed", "err", err)
	}
	cancel()
	done := r.takeProduced()
	if len(done) == 0 {
		return nil
	}
	del := make([]store.Write, len(done))
	for i, k := range done {
		del[i] = store.Write{Key: k, Delete: true}
	}
	if err := r.cfg.Sessions.Commit(del); err != nil {
		return fmt.Errorf("runner: clear outbox: %w", err)
	}
	return nil
}

// produce publishes events and waits for the broker, retrying what failed:
// results must not be dropped because the broker blinked. A shutdown (ctx
// done) does not interrupt it at once: it gets DrainTimeout more, after which
// unpublished events stay in the outbox for the next start.
func (r *Runner) produce(runCtx context.Context, events []core.Event) error {
	ctx, cancel := context.WithCancel(context.WithoutCancel(runCtx))
	defer cancel()
	stop := context.AfterFunc(runCtx, func() { time.AfterFunc(r.cfg.DrainTimeout, cancel) })
	defer stop()

	recs := make([]*kgo.Record, len(events))
	for i, e := range events {
		recs[i] = eventRecord(r.cfg.Events, e)
	}
	for attempt := 0; ; attempt++ {
		var failed []*kgo.Record
		var last error
		for _, res := range r.cl.ProduceSync(ctx, recs...) {
			if res.Err != nil {
				failed = append(failed, res.Record)
				last = res.Err
			}
		}
		if len(failed) == 0 {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("runner: produce events: %w (%d kept in the outbox for the next start)", last, len(failed))
		}
		r.log.Warn("engine: produce events failed, retrying", "n", len(failed), "err", last, "attempt", attempt)
		select {
		case <-ctx.Done():
		case <-time.After(backoff(attempt)):
		}
		recs = failed
	}
}

func backoff(attempt int) time.Duration {
	d := 100 * time.Millisecond << min(attempt, 5)
	return d
}

// flushOutbox publishes events a previous run committed but may not have
// produced (it stopped between commit and produce).
func (r *Runner) flushOutbox(ctx context.Context) error {
	var keys [][]byte
	var events []core.Event
	err := r.cfg.Sessions.Scan([]byte("x/"), func(k, v []byte, _ int64) bool {
		es, err := decodeOutbox(bytes.Clone(v)) // v is the iterator's, valid in this call only
		if err != nil {
			r.log.Warn("engine: undecodable outbox row dropped", "key", k, "err", err)
		} else {
			events = append(events, es...)
		}
		keys = append(keys, append([]byte(nil), k...))
		return true
	})
	if err != nil {
		return fmt.Errorf("runner: read outbox: %w", err)
	}
	if len(keys) == 0 {
		return nil
	}
	r.log.Info("engine: publishing events left in the outbox", "n", len(events))
	if err := r.produce(ctx, events); err != nil {
		return err
	}
	del := make([]store.Write, len(keys))
	for i, k := range keys {
		del[i] = store.Write{Key: k, Delete: true}
	}
	return r.cfg.Sessions.Commit(del)
}

func eventRecord(topic string, e core.Event) *kgo.Record {
	rec := &kgo.Record{Topic: topic, Key: []byte(e.Hunt), Value: e.Payload}
	if e.To != "" {
		rec.Headers = []kgo.RecordHeader{{Key: kafka.HeaderTo, Value: []byte(e.To)}}
	}
	return rec
}

// outboxV2 starts a row holding a batch's events: for each, hunt, to and
// payload as uvarint length and bytes. (Version 1 rows, one event as a JSON
// object, start with '{' and are still read.)
const outboxV2 = 2

func encodeOutbox(events []core.Event) []byte {
	n := 1
	for _, e := range events {
		n += 3*binary.MaxVarintLen32 + len(e.Hunt) + len(e.To) + len(e.Payload)
	}
	b := make([]byte, 1, n)
	b[0] = outboxV2
	for _, e := range events {
		for _, f := range [][]byte{[]byte(e.Hunt), []byte(e.To), e.Payload} {
			b = binary.AppendUvarint(b, uint64(len(f)))
			b = append(b, f...)
		}
	}
	return b
}

// decodeOutbox decodes a row; the events alias b.
func decodeOutbox(b []byte) ([]core.Event, error) {
	if len(b) > 0 && b[0] == '{' {
		var o struct {
			Hunt    string          `json:"hunt"`
			To      string          `json:"to,omitempty"`
			Payload json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal(b, &o); err != nil {
			return nil, err
		}
		return []core.Event{{Hunt: o.Hunt, To: o.To, Payload: o.Payload}}, nil
	}
	if len(b) == 0 || b[0] != outboxV2 {
		return nil, fmt.Errorf("outbox row: unknown version")
	}
	var out []core.Event
	rest := b[1:]
	for len(rest) > 0 {
		var f [3][]byte
		for i := range f {
			n, w := binary.Uvarint(rest)
			if w <= 0 || uint64(len(rest)-w) < n {
				return nil, fmt.Errorf("outbox row: truncated")
			}
			f[i], rest = rest[w:w+int(n)], rest[w+int(n):]
		}
		out = append(out, core.Event{Hunt: string(f[0]), To: string(f[1]), Payload: f[2]})
	}
	return out, nil
}
