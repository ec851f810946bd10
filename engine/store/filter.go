package store

import (
	"math"
	"sync/atomic"
)

// ttlFilter is the compaction filter shared by both stores: it drops rows
// whose expiry (the first 8 bytes of the value) has passed on the store clock.
//
// RocksDB calls Filter from its background threads, possibly several at once,
// so the filter holds only the clock and atomics. It never keeps key or val
// (they point into RocksDB buffers), never returns a new value (that would
// hand Go memory to C), and never panics into C++.
type ttlFilter struct {
	clock Clock
	// dropped counts rows removed, for Stats.
	dropped atomic.Uint64
	// minLive is the earliest future expiry among the rows kept since the
	// last reset; after a full compaction it is the next time one is due.
	minLive atomic.Int64
}

func newTTLFilter(c Clock) *ttlFilter {
	f := &ttlFilter{clock: c}
	f.minLive.Store(math.MaxInt64)
	return f
}

// Filter implements grocksdb.CompactionFilter.
func (f *ttlFilter) Filter(_ int, _, val []byte) (remove bool, newVal []byte) {
	// A panic (say, from a caller's Clock) would unwind through C++ frames and
	// kill the process; keeping the row is always safe.
	defer func() {
		if recover() != nil {
			remove, newVal = false, nil
		}
	}()
	exp, _, ok := splitValue(val)
	if !ok || exp == 0 {
		return false, nil // only remove what is provably expired
	}
	if expired(exp, f.clock.Now().UnixMilli()) {
		f.dropped.Add(1)
		return true, nil
	}
	atomicMin(&f.minLive, exp)
	return false, nil
}

// Name implements grocksdb.CompactionFilter.
func (f *ttlFilter) Name() string { return "veltrix.ttl.v1" }

// SetIgnoreSnapshots implements grocksdb.CompactionFilter; RocksDB >= 6.0
// always filters regardless of snapshots, so there is nothing to set.
func (f *ttlFilter) SetIgnoreSnapshots(bool) {}

// Destroy implements grocksdb.CompactionFilter. The C side is owned and
// freed by the Options the filter was set on.
func (f *ttlFilter) Destroy() {}

// atomicMin lowers a to v if v is smaller.
func atomicMin(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v >= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}
