package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linxGnu/grocksdb"
)

var (
	// ErrClosed is returned by every method of a closed store.
	ErrClosed = errors.New("store is closed")
	// ErrLocked is matched (errors.Is) by the error of opening a store whose
	// directory another open store holds, in this process or another.
	ErrLocked = errors.New("store is locked")
	// ErrCorrupt is matched by the error of opening a store whose files
	// RocksDB cannot read.
	ErrCorrupt = errors.New("store data is corrupt or unreadable")
	// ErrDiskFull is matched by the error of an open, a write or a full
	// compaction refused because the store's disk has less free space than
	// the store's MinFreeBytes. Nothing was written.
	ErrDiskFull = errors.New("disk full")
	// ErrMissing is matched by the error of opening a store that must exist
	// and does not (a read-only open, or one of the pair in OpenStores).
	ErrMissing = errors.New("store is missing")
	// ErrReadOnly is returned by the writing methods of a store opened
	// read-only.
	ErrReadOnly = errors.New("store is open read-only")
)

// lockedError keeps RocksDB's message as the cause but says what to check.
type lockedError struct {
	path  string
	cause error
}

func (e *lockedError) Error() string {
	return fmt.Sprintf("store %s is locked by another process (is another engine running on this data dir?)", e.path)
}

func (e *lockedError) Unwrap() []error { return []error{ErrLocked, e.cause} }

// Stats describes one store. The counters count since the store was opened
// (by this process).
type Stats struct {
	// EstimatedKeys is RocksDB's estimate of the keys in the store (an Audit
	// row with a player is two keys). It counts expired rows until a
	// compaction drops them; Count gives exact figures.
	EstimatedKeys uint64 `json:"estimated_keys"`
	SSTBytes      uint64 `json:"sst_bytes"`      // total size of the SST files
	MemtableBytes uint64 `json:"memtable_bytes"` // size of the memtables not flushed yet
	// DiskBytes is the size of every file in the store's directory: SST
	// files, write-ahead logs, manifests and RocksDB's own info logs.
	DiskBytes uint64 `json:"disk_bytes"`
	// FreeBytes is what the store's file system has left for it.
	FreeBytes      uint64 `json:"free_bytes"`
	ExpiredDropped uint64 `json:"expired_dropped"` // rows the TTL filter dropped
	// Compactions counts every compaction RocksDB ran, its own background
	// ones included.
	Compactions uint64 `json:"compactions"`
	// CompactionsTriggered counts full compactions run by CompactExpired,
	// called directly or by the compactor.
	CompactionsTriggered uint64 `json:"compactions_triggered"`
	// CompactionsRefused counts full compactions not run because the disk
	// had no room for a copy of the store (expired rows then stay on disk).
	CompactionsRefused uint64 `json:"compactions_refused"`
	// BlockCacheBytes is the block cache's current use.
	BlockCacheBytes uint64 `json:"block_cache_bytes"`
}

// kvConfig configures openKV.
type kvConfig struct {
	name  string // "sessions" or "audit", for messages
	path  string
	clock Clock
	sync  bool
	// periodic is RocksDB's periodic_compaction_seconds: a file older than
	// this goes through the filter at the next compaction pick. Picks happen
	// only after flushes and compactions, so an idle store also needs the
	// compactor.
	periodic time.Duration
	// minGap is the least store-clock time the compactor leaves between two
	// full compactions it runs, to bound the rewrite cost of a big store.
	minGap time.Duration
	// blockCache is the LRU block cache's capacity in bytes.
	blockCache uint64
	// writeBuffer is the memtable size: what a restart after a crash may
	// have to replay from the write-ahead log.
	writeBuffer uint64
	// bloom adds a whole-key bloom filter (point lookups of missing keys).
	bloom bool
	// uncompressed stores blocks as they are: for rows that live minutes,
	// compression costs CPU at every flush and compaction to save a few MB.
	uncompressed bool
	// minFree is the free space below which writes, opens and full
	// compactions are refused; see space.go.
	minFree uint64
	// readOnly opens the store without taking its lock, for the tools: it
	// sees the store as of the open and cannot write.
	readOnly bool
}

// kv is the part both stores share: a RocksDB handle with the TTL filter, a
// guard that turns use after Close into ErrClosed, full compactions and the
// background compactor.
type kv struct {
	name   string
	path   string
	clock  Clock
	minGap time.Duration

	db *grocksdb.DB
	// opts owns the C side of filter, which RocksDB's background threads use:
	// both are kept until db is closed.
	opts     *grocksdb.Options
	filter   *ttlFilter
	cache    *grocksdb.Cache
	ro       *grocksdb.ReadOptions
	wo       *grocksdb.WriteOptions
	readOnly bool
	space    *spaceGuard

	mu        sync.Mutex
	idle      sync.Cond // broadcast when active reaches 0 after closing
	closing   bool
	active    int           // calls in flight
	compactor bool          // a compactor goroutine runs
	stop      chan struct{} // closed by Close: stops the compactor
	closed    chan struct{} // closed when Close has freed everything
	bg        sync.WaitGroup

	// compactMu serialises full compactions: each one rebuilds the expiry
	// tracking below from what the filter sees.
	compactMu sync.Mutex

	dueMu      sync.Mutex
	dueKnown   bool  // nextDue is valid (false until the first full compaction)
	nextDue    int64 // unix ms of the earliest expiry in the store; MaxInt64 = none
	compacting bool  // a full compaction runs: writes also lower filter.minLive
	lastFull   int64 // store-clock unix ms of the last full compaction, 0 = none

	compactions atomic.Uint64
	refused     atomic.Uint64
}

// openKV opens (creating if missing, unless read-only) the RocksDB store at
// c.path.
func openKV(c kvConfig) (*kv, error) {
	if c.path == "" {
		return nil, fmt.Errorf("open %s store: empty path", c.name)
	}
	if c.clock == nil {
		c.clock = SystemClock{}
	}
	if c.readOnly {
		if err := checkExisting(c.path); err != nil {
			return nil, err
		}
	} else if err := prepareDir(c.path); err != nil {
		return nil, err
	}
	if c.writeBuffer == 0 {
		c.writeBuffer = 64 << 20 // RocksDB's default
	}
	var space *spaceGuard
	if !c.readOnly {
		// After a write passes the check, RocksDB may flush the memtable (an
		// SST file of up to its size) and preallocate the next write-ahead
		// log (1.1 times its size): the margin must hold that and more.
		if c.minFree < 4*c.writeBuffer {
			return nil, fmt.Errorf("open %s store %s: the free space kept (%s) must be at least 4 times the write buffer (%s)",
				c.name, c.path, fmtBytes(c.minFree), fmtBytes(c.writeBuffer))
		}
		// RocksDB must never meet a full disk: see space.go.
		space = newSpaceGuard(c.path, c.minFree)
		if err := space.check(0); err != nil {
			return nil, fmt.Errorf("open %s store: %w", c.name, err)
		}
	}

	// grocksdb v1.7.15 has no setter for periodic_compaction_seconds; RocksDB
	// parses it from an options string. Periodic compaction needs all files
	// open, which is RocksDB's default; it is spelled out so nobody lowers it.
	optStr := fmt.Sprintf("periodic_compaction_seconds=%d;max_open_files=-1", int64(c.periodic/time.Second))
	opts, err := grocksdb.GetOptionsFromString(nil, optStr)
	if err != nil {
		return nil, fmt.Errorf("store %s: options %q: %w", c.path, optStr, err)
	}
	opts.SetCreateIfMissing(!c.readOnly)
	if c.uncompressed {
		opts.SetCompression(grocksdb.NoCompression)
	}
	opts.SetKeepLogFileNum(4)
	opts.SetMaxLogFileSize(16 << 20)
	if c.writeBuffer > 0 {
		opts.SetWriteBufferSize(c.writeBuffer)
	}
	// Statistics give Stats.Compactions (RocksDB's own compactions too).
	opts.EnableStatistics()
	// The table options are copied into the table factory, which holds its
	// own reference to the cache and the bloom filter policy: only the Go
	// wrappers are freed here (the cache's at close, to report its use).
	var cache *grocksdb.Cache
	bbto := grocksdb.NewDefaultBlockBasedTableOptions()
	if c.blockCache > 0 {
		cache = grocksdb.NewLRUCache(c.blockCache)
		bbto.SetBlockCache(cache)
	}
	if c.bloom {
		bbto.SetFilterPolicy(grocksdb.NewBloomFilterFull(10))
	}
	opts.SetBlockBasedTableFactory(bbto)
	bbto.Destroy()
	// The filter goes on the parsed Options: set on a base Options it would
	// be shared with, and freed by, the base. grocksdb v1.7.15 also keeps
	// every Go filter in a process-wide registry it never shrinks, so each
	// open costs a few hundred bytes for the life of the process.
	filter := newTTLFilter(c.clock)
	var db *grocksdb.DB
	if c.readOnly {
		// A running engine may compact while the tools open its store: an
		// SST file listed in the manifest read at open can be gone by the
		// time it is opened. That is not corruption; open again.
		for attempt := 0; ; attempt++ {
			db, err = grocksdb.OpenDbForReadOnly(opts, c.path, false)
			if err == nil || attempt == 9 || !strings.Contains(err.Error(), "No such file or directory") {
				break
			}
			time.Sleep(time.Duration(attempt+1) * 10 * time.Millisecond)
		}
	} else {
		opts.SetCompactionFilter(filter)
		db, err = grocksdb.OpenDb(opts, c.path)
	}
	if err != nil {
		opts.Destroy() // no DB uses the filter
		if cache != nil {
			cache.Destroy()
		}
		return nil, openError(c.path, err)
	}
	wo := grocksdb.NewDefaultWriteOptions()
	wo.SetSync(c.sync)
	k := &kv{
		name:     c.name,
		path:     c.path,
		clock:    c.clock,
		minGap:   c.minGap,
		db:       db,
		opts:     opts,
		filter:   filter,
		cache:    cache,
		ro:       grocksdb.NewDefaultReadOptions(),
		wo:       wo,
		readOnly: c.readOnly,
		space:    space,
		stop:     make(chan struct{}),
		closed:   make(chan struct{}),
		nextDue:  math.MaxInt64,
	}
	k.idle.L = &k.mu
	return k, nil
}

// prepareDir makes sure path is a directory, creating it if missing, so
// RocksDB's own errors for these cases (less clear) never show. A directory
// that holds files but no RocksDB store (no CURRENT file) is refused:
// RocksDB would create a new store in it and delete the files it does not
// know, such as the SST files of a store whose CURRENT file was lost.
func prepareDir(path string) error {
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.Mode().IsRegular():
		return fmt.Errorf("store %s: path is a regular file, not a store directory", path)
	case err == nil && !fi.IsDir():
		return fmt.Errorf("store %s: path is a %s, not a store directory", path, fi.Mode().Type())
	case err == nil:
		return checkNotForeign(path)
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(path, 0o750); err != nil {
			return fmt.Errorf("store %s: create directory: %w", path, err)
		}
		return nil
	default:
		return fmt.Errorf("store %s: %w", path, err)
	}
}

// checkNotForeign refuses a non-empty directory without a CURRENT file.
func checkNotForeign(path string) error {
	if _, err := os.Stat(filepath.Join(path, "CURRENT")); err == nil {
		return nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return fmt.Errorf("store %s: %w", path, err)
	}
	for _, e := range entries {
		// RocksDB's lock and info logs are all a failed first open leaves.
		if n := e.Name(); n == "LOCK" || n == "LOG" || strings.HasPrefix(n, "LOG.old.") {
			continue
		}
		return fmt.Errorf("store %s: %w: the directory holds files (%s...) but no CURRENT file; "+
			"refusing to create a new store over them (restore the store, or empty the directory to start afresh)",
			path, ErrCorrupt, e.Name())
	}
	return nil
}

// checkExisting is prepareDir for read-only opens: nothing is created.
func checkExisting(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("store %s: %w (no such directory)", path, ErrMissing)
	case err != nil:
		return fmt.Errorf("store %s: %w", path, err)
	case !fi.IsDir():
		return fmt.Errorf("store %s: path is a %s, not a store directory", path, fi.Mode().Type())
	}
	if _, err := os.Stat(filepath.Join(path, "CURRENT")); err != nil {
		return fmt.Errorf("store %s: %w (no CURRENT file: not a store, or never opened)", path, ErrMissing)
	}
	return nil
}

// openError turns RocksDB's open error into one that names the path and says
// what went wrong. RocksDB 7.8 reports a lock held in this process as "lock
// hold by current process" and one held by another as "While lock file".
func openError(path string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "lock hold by current process"), strings.Contains(msg, "While lock file"):
		return &lockedError{path: path, cause: err}
	case strings.Contains(msg, "No space left on device"):
		return fmt.Errorf("store %s: %w: %w", path, ErrDiskFull, err)
	case strings.HasPrefix(msg, "Corruption"), strings.HasPrefix(msg, "IO error"),
		strings.HasPrefix(msg, "Invalid argument"), strings.HasPrefix(msg, "Not implemented"):
		return fmt.Errorf("store %s: %w: %w", path, ErrCorrupt, err)
	default:
		return fmt.Errorf("open store %s: %w", path, err)
	}
}

// acquireWrite is acquire for the writing methods: it also refuses on a
// read-only store.
func (k *kv) acquireWrite() error {
	if k.readOnly {
		return fmt.Errorf("%s store %s: %w", k.name, k.path, ErrReadOnly)
	}
	return k.acquire()
}

// acquire registers a call in flight; every successful acquire must be
// followed by release. It fails once Close has begun.
func (k *kv) acquire() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closing {
		return fmt.Errorf("%s store %s: %w", k.name, k.path, ErrClosed)
	}
	k.active++
	return nil
}

func (k *kv) release() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.active--
	if k.active == 0 && k.closing {
		k.idle.Broadcast()
	}
}

func (k *kv) isClosing() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.closing
}

// close stops the compactor, aborts a running full compaction, waits for the
// calls in flight and frees every RocksDB object. Later calls wait for the
// first to finish. It must not be called from a Scan or Query callback: it
// would wait for itself.
func (k *kv) close() error {
	k.mu.Lock()
	if k.closing {
		k.mu.Unlock()
		<-k.closed
		return nil
	}
	k.closing = true
	close(k.stop)
	k.mu.Unlock()

	// A full compaction of a big store can run for minutes; tell it to stop
	// rather than wait for it.
	k.db.DisableManualCompaction()

	k.mu.Lock()
	for k.active > 0 {
		k.idle.Wait()
	}
	k.mu.Unlock()
	k.bg.Wait()

	// Flush the memtables, so the next open has no write-ahead log to
	// replay: replaying a full 64 MB memtable (RocksDB's default size) took
	// 1.6 s, an open after a flush 15 ms. Skipped (the log keeps the data)
	// when the disk has no room for it.
	if !k.readOnly {
		if mem, err := strconv.ParseUint(k.db.GetProperty("rocksdb.cur-size-all-mem-tables"), 10, 64); err == nil &&
			k.space.check(mem+mem/4) == nil {
			fo := grocksdb.NewDefaultFlushOptions()
			fo.SetWait(true)
			_ = k.db.Flush(fo)
			fo.Destroy()
		}
	}

	// Closing waits for RocksDB's background jobs, the filter's last users;
	// only then can the Options that own it go.
	k.db.Close()
	k.ro.Destroy()
	k.wo.Destroy()
	k.opts.Destroy()
	if k.cache != nil {
		k.cache.Destroy()
	}
	close(k.closed)
	return nil
}

// write applies wb atomically and records minExp (the earliest non-zero
// expiry in it, MaxInt64 for none) for the compactor.
func (k *kv) write(wb *grocksdb.WriteBatch, minExp int64) error {
	// The batch goes to the write-ahead log and the memtable, and later to
	// an SST file: count it twice.
	if err := k.space.check(2 * uint64(len(wb.Data()))); err != nil {
		return fmt.Errorf("%s store: write batch refused: %w", k.name, err)
	}
	if err := k.db.Write(k.wo, wb); err != nil {
		return fmt.Errorf("%s store %s: write batch: %w", k.name, k.path, err)
	}
	k.noteExpiry(minExp)
	return nil
}

// noteExpiry records that a row expiring at exp was written.
func (k *kv) noteExpiry(exp int64) {
	if exp == math.MaxInt64 {
		return
	}
	k.dueMu.Lock()
	defer k.dueMu.Unlock()
	k.nextDue = min(k.nextDue, exp)
	if k.compacting {
		// The running full compaction may not see this row; count it in
		// what the compaction will publish as nextDue.
		atomicMin(&k.filter.minLive, exp)
	}
}

// scan calls fn for each row with start <= key < end (end nil: no bound), in
// key order. key and val point into RocksDB's iterator buffers and are only
// valid during fn.
func (k *kv) scan(start, end []byte, fn func(key, val []byte) (more bool, err error)) error {
	it := k.db.NewIterator(k.ro)
	defer it.Close()
	for it.Seek(start); it.Valid(); it.Next() {
		key := it.Key().Data()
		if end != nil && bytes.Compare(key, end) >= 0 {
			break
		}
		more, err := fn(key, it.Value().Data())
		if err != nil || !more {
			return err
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("%s store %s: iterate: %w", k.name, k.path, err)
	}
	return nil
}

// compactExpired runs a full-range compaction, so the filter drops every
// expired row now, and learns from it when the next row falls due.
func (k *kv) compactExpired() error {
	if err := k.acquireWrite(); err != nil {
		return err
	}
	defer k.release()
	k.compactMu.Lock()
	defer k.compactMu.Unlock()

	// A full compaction writes a new copy of the store before it deletes the
	// old files: it needs room for one.
	st, err := k.statsLocked()
	if err != nil {
		return err
	}
	if err := k.space.check(st.SSTBytes + st.MemtableBytes); err != nil {
		k.refused.Add(1)
		return fmt.Errorf("%s store: full compaction refused: %w", k.name, err)
	}

	k.dueMu.Lock()
	k.compacting = true
	k.filter.minLive.Store(math.MaxInt64)
	k.dueMu.Unlock()

	// With a filter set, RocksDB flushes the memtable and rewrites every
	// level down to and including the bottommost, so every row meets the
	// filter. The C API reports no error.
	k.db.CompactRange(grocksdb.Range{})
	aborted := k.isClosing()

	k.dueMu.Lock()
	defer k.dueMu.Unlock()
	k.compacting = false
	if aborted {
		// Close aborted it: what the filter saw is partial.
		return fmt.Errorf("%s store %s: compaction aborted: %w", k.name, k.path, ErrClosed)
	}
	k.nextDue = k.filter.minLive.Load()
	k.dueKnown = true
	k.lastFull = k.clock.Now().UnixMilli()
	k.compactions.Add(1)
	return nil
}

// compactionDue reports whether the compactor should run a full compaction
// at nowMs: a row may have expired since the last one, and minGap has passed.
func (k *kv) compactionDue(nowMs int64) bool {
	k.dueMu.Lock()
	defer k.dueMu.Unlock()
	if k.dueKnown && nowMs < k.nextDue {
		return false
	}
	return k.lastFull == 0 || nowMs-k.lastFull >= k.minGap.Milliseconds()
}

// startCompactor starts the goroutine behind StartCompactor.
func (k *kv) startCompactor(ctx context.Context, interval time.Duration) error {
	if k.readOnly {
		return fmt.Errorf("%s store %s: compactor: %w", k.name, k.path, ErrReadOnly)
	}
	if interval <= 0 {
		return fmt.Errorf("%s store %s: compactor interval %v must be positive", k.name, k.path, interval)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closing {
		return fmt.Errorf("%s store %s: %w", k.name, k.path, ErrClosed)
	}
	if k.compactor {
		return fmt.Errorf("%s store %s: compactor already running", k.name, k.path)
	}
	k.compactor = true
	k.bg.Add(1)
	go k.runCompactor(ctx, interval)
	return nil
}

func (k *kv) runCompactor(ctx context.Context, interval time.Duration) {
	defer k.bg.Done()
	defer func() {
		k.mu.Lock()
		k.compactor = false
		k.mu.Unlock()
	}()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-k.stop:
			return
		case <-t.C:
		}
		if !k.compactionDue(k.clock.Now().UnixMilli()) {
			continue
		}
		// compactExpired fails once the store is closing, and when the disk
		// has no room for a copy of the store: then it is tried again at
		// the next tick.
		if err := k.compactExpired(); err != nil {
			if errors.Is(err, ErrDiskFull) {
				continue
			}
			return
		}
	}
}

// stats reads Stats.
func (k *kv) stats() (Stats, error) {
	if err := k.acquire(); err != nil {
		return Stats{}, err
	}
	defer k.release()
	return k.statsLocked()
}

// statsLocked is stats for a caller that holds acquire.
func (k *kv) statsLocked() (Stats, error) {
	st := Stats{
		ExpiredDropped:       k.filter.dropped.Load(),
		CompactionsTriggered: k.compactions.Load(),
		CompactionsRefused:   k.refused.Load(),
	}
	for _, p := range []struct {
		name string
		dst  *uint64
	}{
		{"rocksdb.estimate-num-keys", &st.EstimatedKeys},
		{"rocksdb.total-sst-files-size", &st.SSTBytes},
		{"rocksdb.cur-size-all-mem-tables", &st.MemtableBytes},
	} {
		v, err := strconv.ParseUint(k.db.GetProperty(p.name), 10, 64)
		if err != nil {
			return Stats{}, fmt.Errorf("%s store %s: property %s: %w", k.name, k.path, p.name, err)
		}
		*p.dst = v
	}
	st.Compactions = statisticsCount(k.opts.GetStatisticsString(), "rocksdb.compaction.times.micros")
	if k.cache != nil {
		st.BlockCacheBytes = k.cache.GetUsage()
	}
	st.DiskBytes = dirBytes(k.path)
	st.FreeBytes, _ = freeBytes(k.path)
	return st, nil
}

// statisticsCount finds the COUNT of a histogram in RocksDB's statistics
// dump, a line like "rocksdb.compaction.times.micros P50 : 1.0 ... COUNT : 7 SUM : 9".
func statisticsCount(dump, name string) uint64 {
	for line := range strings.Lines(dump) {
		rest, ok := strings.CutPrefix(line, name+" ")
		if !ok {
			continue
		}
		_, after, ok := strings.Cut(rest, "COUNT : ")
		if !ok {
			return 0
		}
		n, _ := strconv.ParseUint(strings.Fields(after)[0], 10, 64)
		return n
	}
	return 0
}

// dirBytes sums the sizes of the files in dir (a store directory is flat).
func dirBytes(dir string) uint64 {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var n uint64
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			n += uint64(fi.Size())
		}
	}
	return n
}

// RowCount is an exact count of a store's keys by a full scan.
type RowCount struct {
	Live    uint64 `json:"live"`    // readable keys
	Expired uint64 `json:"expired"` // expired keys still on disk, until a compaction drops them
}

// count scans the whole store.
func (k *kv) count() (RowCount, error) {
	if err := k.acquire(); err != nil {
		return RowCount{}, err
	}
	defer k.release()
	var c RowCount
	now := k.clock.Now().UnixMilli()
	err := k.scan(nil, nil, func(_, v []byte) (bool, error) {
		if exp, _, ok := splitValue(v); ok && expired(exp, now) {
			c.Expired++
		} else {
			c.Live++
		}
		return true, nil
	})
	return c, err
}
