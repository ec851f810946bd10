package store

import "sync"

// rowCache keeps the sessions store's recently read rows in Go memory.
// Every action reads its session and hunt rows, and a RocksDB Get through
// cgo cost about a seventh of the engine's CPU at 10,000 actions/s. Get
// fills it on a miss (misses are cached too: a new player's first lookup
// finds nothing, and so does its second); Commit updates the rows it holds
// and leaves others out (the outbox rows, written and deleted, are never
// read by Get).
//
// It never disagrees with the store: the engine is the store's only
// writer; commits update it in the order they reach RocksDB; and a miss
// fills it only if no commit began between its RocksDB read and the fill,
// since the row read may already be stale.
//
// Two generations bound its memory without per-entry bookkeeping: when the
// current one holds half the budget it becomes the old one, and the entries
// read from the old one move into the current one.
type rowCache struct {
	mu        sync.Mutex
	cur, old  map[string]cachedRow
	curBytes  int
	halfBytes int
	commits   uint64 // commits begun: a miss's fill is stale if it moved
	inflight  int    // commits begun and not ended: a miss then may read either side
}

// noFill is the stamp of a miss that must not fill the cache.
const noFill = ^uint64(0)

type cachedRow struct {
	payload   []byte // nil: no row
	expiresAt int64
}

// rowOverhead approximates an entry's own size beyond key and payload: the
// map slot and the two allocations' headers.
const rowOverhead = 128

func newRowCache(maxBytes int) *rowCache {
	return &rowCache{cur: map[string]cachedRow{}, old: map[string]cachedRow{}, halfBytes: maxBytes / 2}
}

// get returns the cached row of key: found reports whether the cache knows
// it, and a known row that does not exist has a nil payload. On a miss,
// stamp is what fill needs (noFill while a commit is in progress: the store
// may be read before or after it).
func (c *rowCache) get(key []byte) (r cachedRow, found bool, stamp uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, found = c.cur[string(key)]; found {
		return r, true, 0
	}
	if r, found = c.old[string(key)]; found {
		c.putLocked(string(key), r)
	}
	if c.inflight > 0 {
		return r, found, noFill
	}
	return r, found, c.commits
}

// fill caches key's row as a Get read it, unless a commit began since the
// get that returned stamp. payload must not be changed afterwards.
func (c *rowCache) fill(key []byte, r cachedRow, stamp uint64) {
	c.mu.Lock()
	if stamp != noFill && c.commits == stamp {
		c.putLocked(string(key), r)
	}
	c.mu.Unlock()
}

// beginCommit marks a commit as begun: misses read before its end may not
// fill. endCommit must follow, once the commit's rows are updated.
func (c *rowCache) beginCommit() {
	c.mu.Lock()
	c.commits++
	c.inflight++
	c.mu.Unlock()
}

func (c *rowCache) endCommit() {
	c.mu.Lock()
	c.inflight--
	c.mu.Unlock()
}

// update sets key's row, written by a commit, if the cache holds the key.
// payload is copied.
func (c *rowCache) update(key []byte, r cachedRow) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.cur[string(key)]; !ok {
		if _, ok := c.old[string(key)]; !ok {
			return
		}
		delete(c.old, string(key))
	}
	if r.payload != nil {
		r.payload = append(make([]byte, 0, len(r.payload)), r.payload...)
	}
	c.putLocked(string(key), r)
}

func (c *rowCache) putLocked(key string, r cachedRow) {
	if c.curBytes >= c.halfBytes {
		c.old, c.cur, c.curBytes = c.cur, make(map[string]cachedRow, len(c.cur)), 0
	}
	if prev, ok := c.cur[key]; ok {
		c.curBytes -= len(key) + len(prev.payload) + rowOverhead
	}
	c.cur[key] = r
	c.curBytes += len(key) + len(r.payload) + rowOverhead
}

// drop forgets key.
func (c *rowCache) drop(key []byte) {
	c.mu.Lock()
	delete(c.cur, string(key))
	delete(c.old, string(key))
	c.mu.Unlock()
}
