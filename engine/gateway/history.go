package gateway

// history keeps the recent events of every events partition, so that a
// client reconnecting with the position (pos) of the last event it processed
// gets exactly the events it missed, in order, once. Every gateway reads
// every event, so every gateway holds the same history: a player resumes on
// any of them. It is bounded by age (window) and total size (max bytes);
// beyond that a resume is a gap and the client rebuilds its state from the
// engine's snapshot (join).
//
// Entries are chained per (hunt, recipient): one chain of the hunt's
// broadcasts and one per player of its events, so a resume walks only what
// concerns that player. history is guarded by Gateway.mu.
type history struct {
	window int64 // ms
	max    int   // bytes; negative keeps nothing
	bytes  int
	parts  map[int32]*partHistory
	chains map[chainKey]*chain
}

type chainKey struct{ hunt, to string } // to "" is the hunt's broadcasts

type chain struct {
	key         chainKey
	first, last *entry
}

type entry struct {
	off   int64
	at    int64 // when this gateway read it, unix ms
	ts    int64 // the event's ts (the causing action's receive time), unix ms
	b     []byte
	next  *entry // next in the same chain
	chain *chain
}

// entryOverhead approximates an entry's memory besides its payload.
const entryOverhead = 128

// partHistory is one partition's history: entries in offset order.
type partHistory struct {
	start   int64 // first offset this gateway read: nothing before it is known
	next    int64 // offset after the last one processed
	evicted int64 // offset after the last evicted entry
	q       []*entry
	head    int
}

func newHistory(window int64, max int) *history {
	return &history{window: window, max: max, parts: map[int32]*partHistory{}, chains: map[chainKey]*chain{}}
}

// setStart records where reading partition p began.
func (h *history) setStart(p int32, off int64) {
	h.parts[p] = &partHistory{start: off, next: off, evicted: off}
}

func (h *history) part(p int32) *partHistory {
	ph := h.parts[p]
	if ph == nil {
		ph = &partHistory{start: -1}
		h.parts[p] = ph
	}
	return ph
}

// add records the event at (p, off). It must be called in offset order.
func (h *history) add(p int32, off int64, hunt, to string, b []byte, ts, now int64) {
	ph := h.part(p)
	if ph.start < 0 {
		ph.start, ph.evicted = off, off
	}
	ph.next = off + 1
	if h.max < 0 {
		ph.evicted = ph.next
		return
	}
	k := chainKey{hunt, to}
	c := h.chains[k]
	if c == nil {
		c = &chain{key: k}
		h.chains[k] = c
	}
	e := &entry{off: off, at: now, ts: ts, b: b, chain: c}
	if c.last == nil {
		c.first = e
	} else {
		c.last.next = e
	}
	c.last = e
	ph.q = append(ph.q, e)
	h.bytes += len(b) + entryOverhead
}

// trim drops entries older than the window, then the oldest ones until the
// history fits its size.
func (h *history) trim(now int64) {
	for _, ph := range h.parts {
		for ph.head < len(ph.q) && ph.q[ph.head].at < now-h.window {
			h.evictHead(ph)
		}
	}
	for h.bytes > h.max && h.max >= 0 {
		var oldest *partHistory
		for _, ph := range h.parts {
			if ph.head < len(ph.q) && (oldest == nil || ph.q[ph.head].at < oldest.q[oldest.head].at) {
				oldest = ph
			}
		}
		if oldest == nil {
			break
		}
		h.evictHead(oldest)
	}
}

func (h *history) evictHead(ph *partHistory) {
	e := ph.q[ph.head]
	ph.q[ph.head] = nil
	ph.head++
	ph.evicted = e.off + 1
	h.bytes -= len(e.b) + entryOverhead
	c := e.chain
	c.first = e.next
	if c.first == nil {
		c.last = nil
		delete(h.chains, c.key)
	}
	if ph.head == len(ph.q) {
		ph.q, ph.head = ph.q[:0], 0
	} else if ph.head > 1024 && ph.head > len(ph.q)/2 {
		n := copy(ph.q, ph.q[ph.head:])
		clear(ph.q[n:])
		ph.q, ph.head = ph.q[:n], 0
	}
}

// resumeStatus is what a resume from a position finds.
type resumeStatus int

const (
	resumeOK    resumeStatus = iota // the missed events follow
	resumeAhead                     // the client saw more than this gateway has read yet
	resumeGap                       // events after pos are no longer (or never were) here
)

// since returns the events of hunt for player (its own and the hunt's
// broadcasts) after pos in partition p, in order; at most limit of them,
// or a gap.
func (h *history) since(p int32, hunt, player string, pos int64, limit int) ([]*entry, resumeStatus) {
	ph := h.parts[p]
	if ph == nil || ph.start < 0 {
		return nil, resumeGap
	}
	if pos >= ph.next {
		return nil, resumeAhead
	}
	if pos+1 < ph.evicted || pos+1 < ph.start {
		return nil, resumeGap
	}
	a := h.chains[chainKey{hunt, ""}]
	b := h.chains[chainKey{hunt, player}]
	var ea, eb *entry
	if a != nil {
		ea = a.first
	}
	if b != nil {
		eb = b.first
	}
	for ea != nil && ea.off <= pos {
		ea = ea.next
	}
	for eb != nil && eb.off <= pos {
		eb = eb.next
	}
	var out []*entry
	for ea != nil || eb != nil {
		var e *entry
		if eb == nil || ea != nil && ea.off < eb.off {
			e, ea = ea, ea.next
		} else {
			e, eb = eb, eb.next
		}
		if len(out) == limit {
			return nil, resumeGap
		}
		out = append(out, e)
	}
	return out, resumeOK
}

// last returns the offset of the last event processed in p (-1: none).
func (h *history) last(p int32) int64 {
	if ph := h.parts[p]; ph != nil {
		return ph.next - 1
	}
	return -1
}
