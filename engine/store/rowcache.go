package store

import "sync"

// rowCache keeps the sessions store's recently read and written rows in Go
// memory. Every action reads its session and hunt rows, and a RocksDB Get
// through cgo cost about a seventh of the engine's CPU at 10,000 actions/s;
// the engine is the store's only writer, so a cache that Commit writes
// through never disagrees with the store. Misses are cached too: a new
// player's first lookup finds nothing, and so does its second.
//
// Two generations bound its memory without per-entry bookkeeping: when the
// current one holds half the budget it becomes the old one, and the entries
// read from the old one move into the current one.
type rowCache struct {
	mu        sync.Mutex
	cur, old  map[string]cachedRow
	curBytes  int
	halfBytes int
}

type cachedRow struct {
	payload   []byte // nil: no row
	expiresAt int64
}

// rowOverhead approximates a map entry's own size beyond key and payload.
const rowOverhead = 64

func newRowCache(maxBytes int) *rowCache {
	return &rowCache{cur: map[string]cachedRow{}, old: map[string]cachedRow{}, halfBytes: maxBytes / 2}
}

// get returns the cached row of key: found reports whether the cache knows
// it, and a known row that does not exist has a nil payload.
func (c *rowCache) get(key []byte) (r cachedRow, found bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, found = c.cur[string(key)]; found {
		return r, true
	}
	if r, found = c.old[string(key)]; found {
		c.putLocked(string(key), r)
	}
	return r, found
}

// put records key's row as stored; payload must not be changed afterwards.
func (c *rowCache) put(key string, r cachedRow) {
	c.mu.Lock()
	c.putLocked(key, r)
	c.mu.Unlock()
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
