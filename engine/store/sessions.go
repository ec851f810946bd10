package store

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/linxGnu/grocksdb"
)

// Sessions tuning; see kvConfig. Sessions is small and its rows live for
// minutes, so expired ones may be rewritten away often. Every action reads
// its session and hunt rows: the block cache should hold the live ones
// (20,000 sessions of ~0.3 KB is 6 MB), and a bloom filter spares new
// players' lookups a disk read. The memtables are small (RocksDB's default
// is 64 MiB) because a restart after a crash replays them from the
// write-ahead log: 4 MiB each keeps that near 100 ms, 16 MiB took 400 ms.
const (
	sessionsPeriodic    = time.Hour
	sessionsMinGap      = 0
	sessionsBlockCache  = 64 << 20
	sessionsWriteBuffer = 4 << 20
	sessionsMinFree     = 64 << 20
	sessionsRowCache    = 64 << 20
)

// SessionsOptions configures OpenSessions.
type SessionsOptions struct {
	Path  string // directory of the store; created if missing
	Clock Clock  // decides expiry; nil means SystemClock
	Sync  bool   // fsync the WAL on each Commit
	// BlockCacheBytes is the block cache's size; 0 means 64 MiB.
	BlockCacheBytes uint64
	// WriteBufferBytes is the memtable size, which bounds the write-ahead
	// log a restart after a crash replays (about 20 ms per MiB); 0 means
	// 4 MiB.
	WriteBufferBytes uint64
	// MinFreeBytes is the free space the store leaves on its disk: opens,
	// commits and full compactions that would go below it fail with
	// ErrDiskFull (see space.go for why). 0 means 64 MiB.
	MinFreeBytes uint64
	// RowCacheBytes bounds the rows kept in Go memory (see rowCache); 0
	// means 64 MiB, negative none.
	RowCacheBytes int
	// ReadOnly opens an existing store without taking its lock, so tools
	// can read it while an engine runs; the store is seen as of the open and
	// every writing method returns ErrReadOnly.
	ReadOnly bool
}

// Sessions holds live player sessions, hunt state and consumed offsets: rows
// whose expiry the caller computes (30 minutes after last activity). It is
// safe for concurrent use.
type Sessions struct {
	kv        *kv
	cache     *rowCache  // nil: none (read-only stores, which others write)
	commitMu  sync.Mutex // orders commits when there is a cache
	afterRead func()     // tests: runs between a miss's RocksDB read and its fill
}

// Write is one change in a Commit. ExpiresAt is unix ms, 0 = never; Delete
// removes Key and ignores Value and ExpiresAt.
type Write struct {
	Key, Value []byte
	ExpiresAt  int64
	Delete     bool
}

// OpenSessions opens (creating if missing) the sessions store at o.Path.
func OpenSessions(o SessionsOptions) (*Sessions, error) {
	k, err := openKV(kvConfig{
		name:         "sessions",
		path:         o.Path,
		clock:        o.Clock,
		sync:         o.Sync,
		periodic:     sessionsPeriodic,
		minGap:       sessionsMinGap,
		blockCache:   cmp.Or(o.BlockCacheBytes, sessionsBlockCache),
		writeBuffer:  cmp.Or(o.WriteBufferBytes, sessionsWriteBuffer),
		bloom:        true,
		uncompressed: true,
		minFree:      cmp.Or(o.MinFreeBytes, sessionsMinFree),
		readOnly:     o.ReadOnly,
	})
	if err != nil {
		return nil, err
	}
	s := &Sessions{kv: k}
	if !o.ReadOnly && o.RowCacheBytes >= 0 {
		s.cache = newRowCache(cmp.Or(o.RowCacheBytes, sessionsRowCache))
	}
	return s, nil
}

// Get returns a copy of key's payload. ok is false when key is missing or
// expired on the store clock (an expired row stays on disk until compaction).
func (s *Sessions) Get(key []byte) (val []byte, ok bool, err error) {
	k := s.kv
	if err := k.acquire(); err != nil {
		return nil, false, err
	}
	defer k.release()
	var stamp uint64
	if s.cache != nil {
		var r cachedRow
		var found bool
		if r, found, stamp = s.cache.get(key); found {
			if r.payload == nil || expired(r.expiresAt, k.clock.Now().UnixMilli()) {
				return nil, false, nil
			}
			return append(make([]byte, 0, len(r.payload)), r.payload...), true, nil
		}
	}
	sl, err := k.db.Get(k.ro, key)
	if err != nil {
		return nil, false, fmt.Errorf("sessions store %s: get %q: %w", k.path, key, err)
	}
	defer sl.Free()
	if !sl.Exists() {
		if s.cache != nil {
			s.cache.fill(key, cachedRow{}, stamp)
		}
		return nil, false, nil
	}
	exp, payload, valid := splitValue(sl.Data())
	if !valid {
		return nil, false, fmt.Errorf("sessions store %s: get %q: %w", k.path, key, errMalformed)
	}
	// payload is C memory freed on return.
	val = append(make([]byte, 0, len(payload)), payload...)
	if s.afterRead != nil {
		s.afterRead()
	}
	if s.cache != nil {
		s.cache.fill(key, cachedRow{payload: val, expiresAt: exp}, stamp)
		val = append(make([]byte, 0, len(val)), val...) // the cache's copy stays unchanged
	}
	if expired(exp, k.clock.Now().UnixMilli()) {
		return nil, false, nil
	}
	return val, true, nil
}

// Commit applies ws as one atomic batch. The batch copies keys and values, so
// the caller may reuse them once Commit returns.
func (s *Sessions) Commit(ws []Write) error {
	if len(ws) == 0 {
		return nil
	}
	k := s.kv
	if err := k.acquireWrite(); err != nil {
		return err
	}
	defer k.release()
	wb := grocksdb.NewWriteBatch()
	defer wb.Destroy()
	minExp := int64(math.MaxInt64)
	var buf []byte
	for i, w := range ws {
		if w.Delete {
			wb.Delete(w.Key)
			continue
		}
		if w.ExpiresAt < 0 {
			return fmt.Errorf("sessions commit: write %d (key %q): negative expiry %d", i, w.Key, w.ExpiresAt)
		}
		if w.ExpiresAt != 0 {
			minExp = min(minExp, w.ExpiresAt)
		}
		buf = appendValue(buf[:0], w.ExpiresAt, w.Value)
		wb.Put(w.Key, buf) // copies buf into the batch
	}
	if s.cache == nil {
		return k.write(wb, minExp)
	}
	// Commits reach RocksDB and the cache in the same order.
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	s.cache.beginCommit()
	defer s.cache.endCommit()
	if err := k.write(wb, minExp); err != nil {
		// The batch may have reached the store anyway (a failed fsync):
		// its rows are read from the store again.
		for _, w := range ws {
			s.cache.drop(w.Key)
		}
		return err
	}
	for _, w := range ws {
		r := cachedRow{}
		if !w.Delete {
			r = cachedRow{payload: w.Value, expiresAt: w.ExpiresAt}
			if r.payload == nil {
				r.payload = []byte{} // a row, even if empty
			}
		}
		s.cache.update(w.Key, r)
	}
	return nil
}

// Scan calls fn for every live (not expired) row whose key starts with
// prefix, in key order, until fn returns false. key and val are fresh copies
// that fn may keep; fn must not call Close.
func (s *Sessions) Scan(prefix []byte, fn func(key, val []byte, expiresAt int64) bool) error {
	k := s.kv
	if err := k.acquire(); err != nil {
		return err
	}
	defer k.release()
	now := k.clock.Now().UnixMilli()
	return k.scan(prefix, prefixEnd(prefix), func(key, v []byte) (bool, error) {
		exp, payload, ok := splitValue(v)
		if !ok {
			return false, fmt.Errorf("sessions store %s: scan at %q: %w", k.path, key, errMalformed)
		}
		if expired(exp, now) {
			return true, nil
		}
		// key and v are reused by the iterator: hand fn memory of its own,
		// one allocation for both.
		b := make([]byte, len(key)+len(payload))
		n := copy(b, key)
		copy(b[n:], payload)
		return fn(b[:n:n], b[n:], exp), nil
	})
}

// CompactExpired compacts the whole store now, so the filter physically
// drops every expired row.
func (s *Sessions) CompactExpired() error { return s.kv.compactExpired() }

// StartCompactor runs CompactExpired every interval while a row may have
// expired since the last full compaction, until ctx ends or the store is
// closed. RocksDB compacts only after writes flush, so without this an idle
// store keeps its expired rows on disk.
func (s *Sessions) StartCompactor(ctx context.Context, interval time.Duration) error {
	return s.kv.startCompactor(ctx, interval)
}

// Stats reports the store's size and filter activity.
func (s *Sessions) Stats() (Stats, error) { return s.kv.stats() }

// Count scans the whole store and counts its live and expired keys. It
// reads every row: for tools, not for a metrics scrape.
func (s *Sessions) Count() (RowCount, error) { return s.kv.count() }

// Path is the store's directory.
func (s *Sessions) Path() string { return s.kv.path }

// Close waits for calls in flight, stops the compactor and closes the store.
// It is idempotent; every other method then returns ErrClosed.
func (s *Sessions) Close() error { return s.kv.close() }

// prefixEnd returns the smallest key greater than every key starting with
// prefix, or nil when there is none (empty or all-0xff prefix).
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
