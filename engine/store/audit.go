package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/linxGnu/grocksdb"
)

// Audit tuning; see kvConfig. The audit log is large and its rows live for
// months: a day's delay in dropping them costs little, rewriting the whole
// log hourly would cost a lot.
// Audit is written far more than it is read, and read by range scans, so it
// gets a small block cache and no bloom filter.
const (
	auditDefaultTTL  = 90 * 24 * time.Hour
	auditPeriodic    = 24 * time.Hour
	auditMinGap      = 24 * time.Hour
	auditBlockCache  = 16 << 20
	auditWriteBuffer = 4 << 20
	auditMinFree     = 256 << 20
)

// AuditOptions configures OpenAudit.
type AuditOptions struct {
	Path string // directory of the store; created if missing
	// TTL is how long a row is kept after its TS; 0 means 90 days. Each
	// row's expiry is computed when it is appended: a new TTL applies to
	// rows appended from then on, not to those already stored.
	TTL   time.Duration
	Clock Clock // decides expiry; nil means SystemClock
	Sync  bool  // fsync the WAL on each Append
	// BlockCacheBytes is the block cache's size; 0 means 16 MiB.
	BlockCacheBytes uint64
	// WriteBufferBytes is the memtable size, which bounds the write-ahead
	// log a restart after a crash replays; 0 means 4 MiB.
	WriteBufferBytes uint64
	// MinFreeBytes is the free space the store leaves on its disk (see
	// SessionsOptions); 0 means 256 MiB, room for the compactions of a big
	// store.
	MinFreeBytes uint64
	// ReadOnly opens an existing store without taking its lock (see
	// SessionsOptions): `veltrix audit` queries a running engine's store so.
	ReadOnly bool
}

// Audit is the append-only record of accepted and rejected actions and
// discoveries, kept for TTL after each row's TS. It is safe for concurrent
// use.
type Audit struct {
	kv  *kv
	ttl time.Duration
}

// Row is one audit record. Partition, Offset and Index name the action it
// came from; with TS they make its keys, so writing the same rows again after
// a crash overwrites them instead of adding copies.
type Row struct {
	Hunt, Player string // Player may be empty for hunt-wide rows
	TS           int64  // unix ms, when it happened
	Partition    int32
	Offset       int64
	Index        uint16
	Kind         string // e.g. "move_rejected", "discovery", "join"
	Data         []byte // JSON
}

// Query selects audit rows. Player == "" selects the whole hunt. Since is
// inclusive, Until exclusive, both unix ms with 0 = unbounded; Limit 0 means
// no limit.
type Query struct {
	Hunt, Player string
	Since, Until int64
	Limit        int
}

// OpenAudit opens (creating if missing) the audit store at o.Path. It must be
// a different directory from the sessions store.
func OpenAudit(o AuditOptions) (*Audit, error) {
	ttl := o.TTL
	if ttl == 0 {
		ttl = auditDefaultTTL
	}
	if ttl < time.Millisecond {
		return nil, fmt.Errorf("open audit store %s: TTL %v must be at least 1ms", o.Path, o.TTL)
	}
	k, err := openKV(kvConfig{
		name:        "audit",
		path:        o.Path,
		clock:       o.Clock,
		sync:        o.Sync,
		periodic:    auditPeriodic,
		minGap:      auditMinGap,
		blockCache:  cmp.Or(o.BlockCacheBytes, auditBlockCache),
		writeBuffer: cmp.Or(o.WriteBufferBytes, auditWriteBuffer),
		minFree:     cmp.Or(o.MinFreeBytes, auditMinFree),
		readOnly:    o.ReadOnly,
	})
	if err != nil {
		return nil, err
	}
	return &Audit{kv: k, ttl: ttl}, nil
}

// checkRow rejects rows whose keys would be ambiguous or out of order.
func checkRow(r *Row) error {
	if r.Hunt == "" {
		return errors.New("empty hunt id")
	}
	if err := checkID("hunt", r.Hunt); err != nil {
		return err
	}
	if err := checkID("player", r.Player); err != nil {
		return err
	}
	// Keys hold these big-endian and unsigned: negative values would sort
	// after every positive one.
	if r.TS < 0 || r.Partition < 0 || r.Offset < 0 {
		return fmt.Errorf("negative ts %d, partition %d or offset %d", r.TS, r.Partition, r.Offset)
	}
	return nil
}

// Append writes rows in one atomic batch, each under its hunt key and, when
// it has a player, its player key. A row expires TTL after its TS.
func (a *Audit) Append(rows []Row) error {
	if len(rows) == 0 {
		return nil
	}
	for i := range rows {
		if err := checkRow(&rows[i]); err != nil {
			return fmt.Errorf("audit append: row %d: %w", i, err)
		}
	}
	k := a.kv
	if err := k.acquireWrite(); err != nil {
		return err
	}
	defer k.release()
	wb := grocksdb.NewWriteBatch()
	defer wb.Destroy()
	minExp := int64(math.MaxInt64)
	var key, val []byte
	ttl := a.ttl.Milliseconds()
	for i := range rows {
		r := &rows[i]
		exp := r.TS + ttl
		if exp < r.TS { // overflow: keep it as long as possible
			exp = math.MaxInt64
		}
		minExp = min(minExp, exp)
		val = appendRow(appendValue(val[:0], exp, nil), r)

		key = append(key[:0], huntIndex...)
		key = append(key, r.Hunt...)
		key = append(key, idSep)
		wb.Put(appendRowID(key, r), val) // the batch copies key and value

		if r.Player != "" {
			key = append(key[:0], playerIndex...)
			key = append(key, r.Hunt...)
			key = append(key, idSep)
			key = append(key, r.Player...)
			key = append(key, idSep)
			wb.Put(appendRowID(key, r), val)
		}
	}
	return k.write(wb, minExp)
}

// Query calls fn for each live row matching q in time order (ties in
// partition, offset, index order) until fn returns false or Limit rows were
// given. Each Row is fn's to keep; fn must not call Close.
func (a *Audit) Query(q Query, fn func(Row) bool) error {
	if q.Hunt == "" {
		return errors.New("audit query: empty hunt id")
	}
	if err := checkID("hunt", q.Hunt); err != nil {
		return fmt.Errorf("audit query: %w", err)
	}
	if err := checkID("player", q.Player); err != nil {
		return fmt.Errorf("audit query: %w", err)
	}
	if q.Limit < 0 {
		return fmt.Errorf("audit query: negative limit %d", q.Limit)
	}
	var prefix []byte
	if q.Player == "" {
		prefix = huntPrefix(q.Hunt)
	} else {
		prefix = playerPrefix(q.Hunt, q.Player)
	}
	// Keys are prefix + ts + ...: time bounds are key bounds.
	start := prefix
	if q.Since > 0 {
		start = binary.BigEndian.AppendUint64(bytes.Clone(prefix), uint64(q.Since))
	}
	end := prefixEnd(prefix)
	if q.Until > 0 {
		if q.Until <= q.Since {
			return nil
		}
		end = binary.BigEndian.AppendUint64(bytes.Clone(prefix), uint64(q.Until))
	}

	k := a.kv
	if err := k.acquire(); err != nil {
		return err
	}
	defer k.release()
	now := k.clock.Now().UnixMilli()
	n := 0
	return k.scan(start, end, func(key, v []byte) (bool, error) {
		exp, payload, ok := splitValue(v)
		if !ok {
			return false, fmt.Errorf("audit store %s: query at %q: %w", k.path, key, errMalformed)
		}
		if expired(exp, now) {
			return true, nil
		}
		row, err := decodeRow(payload, q.Hunt, q.Player) // copies out of the iterator's buffers
		if err != nil {
			return false, fmt.Errorf("audit store %s: query at %q: %w", k.path, key, err)
		}
		n++
		return fn(row) && (q.Limit == 0 || n < q.Limit), nil
	})
}

// CompactExpired compacts the whole store now, so the filter physically
// drops every expired row.
func (a *Audit) CompactExpired() error { return a.kv.compactExpired() }

// StartCompactor checks every interval whether a row may have expired since
// the last full compaction and, at most once a day, runs CompactExpired,
// until ctx ends or the store is closed. RocksDB compacts only after writes
// flush, so without this an idle store keeps its expired rows on disk.
func (a *Audit) StartCompactor(ctx context.Context, interval time.Duration) error {
	return a.kv.startCompactor(ctx, interval)
}

// Stats reports the store's size and filter activity.
func (a *Audit) Stats() (Stats, error) { return a.kv.stats() }

// Close waits for calls in flight, stops the compactor and closes the store.
// It is idempotent; every other method then returns ErrClosed.
func (a *Audit) Close() error { return a.kv.close() }

// Count scans the whole store and counts its live and expired keys (a row
// with a player is two keys). It reads every row: for tools.
func (a *Audit) Count() (RowCount, error) { return a.kv.count() }

// Path is the store's directory.
func (a *Audit) Path() string { return a.kv.path }

// TTL is how long rows appended now are kept after their TS.
func (a *Audit) TTL() time.Duration { return a.ttl }

// Hunts lists the hunts that have rows in the store (expired rows not yet
// compacted included), in byte order. It costs one seek per hunt, not a
// scan of their rows.
func (a *Audit) Hunts() ([]string, error) {
	k := a.kv
	if err := k.acquire(); err != nil {
		return nil, err
	}
	defer k.release()
	it := k.db.NewIterator(k.ro)
	defer it.Close()
	var hunts []string
	prefix := []byte(huntIndex)
	for it.Seek(prefix); it.Valid(); {
		key := it.Key().Data()
		if !bytes.HasPrefix(key, prefix) {
			break
		}
		rest := key[len(prefix):]
		end := bytes.IndexByte(rest, idSep)
		if end < 0 {
			return nil, fmt.Errorf("audit store %s: hunts at %q: %w", k.path, key, errMalformed)
		}
		hunt := string(rest[:end]) // copies out of the iterator
		hunts = append(hunts, hunt)
		// The next hunt's keys start after every "<hunt>\x00..." key.
		next := append(append(bytes.Clone(prefix), hunt...), idSep+1)
		it.Seek(next)
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("audit store %s: hunts: %w", k.path, err)
	}
	return hunts, nil
}

// watermarkPrefix keys the marks of SetWatermark, outside both indexes.
const watermarkPrefix = "m/wm/"

// Watermark returns the mark stored under name by SetWatermark, 0 if none.
// Marks never expire.
func (a *Audit) Watermark(name string) (int64, error) {
	k := a.kv
	if err := k.acquire(); err != nil {
		return 0, err
	}
	defer k.release()
	sl, err := k.db.Get(k.ro, []byte(watermarkPrefix+name))
	if err != nil {
		return 0, fmt.Errorf("audit store %s: watermark %q: %w", k.path, name, err)
	}
	defer sl.Free()
	if !sl.Exists() {
		return 0, nil
	}
	_, payload, ok := splitValue(sl.Data())
	if !ok || len(payload) != 8 {
		return 0, fmt.Errorf("audit store %s: watermark %q: %w", k.path, name, errMalformed)
	}
	return int64(binary.BigEndian.Uint64(payload)), nil
}

// SetWatermark stores v (unix ms, >= 0) under name: how far a consumer of
// the log, such as an audit sink, has got. It never expires.
func (a *Audit) SetWatermark(name string, v int64) error {
	if v < 0 {
		return fmt.Errorf("audit store: watermark %q: negative value %d", name, v)
	}
	k := a.kv
	if err := k.acquireWrite(); err != nil {
		return err
	}
	defer k.release()
	wb := grocksdb.NewWriteBatch()
	defer wb.Destroy()
	wb.Put([]byte(watermarkPrefix+name), appendValue(nil, 0, binary.BigEndian.AppendUint64(nil, uint64(v))))
	return k.write(wb, math.MaxInt64)
}
