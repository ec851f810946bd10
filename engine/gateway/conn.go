package gateway

import (
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"

	"github.com/veltrix/veltrix/engine/protocol"
)

// client is one player connection: all the gateway holds for it. It is also
// the connection's gws SessionStorage (so the upgrade allocates nothing
// else for it); that interface is implemented as a no-op.
//
// Goroutines: the read loop (gws) reads frames and handles control frames;
// each data frame is handled on a goroutine of its own, one at a time (gws
// parallel mode with a limit of 1: in order), so that the read loop's stack
// stays at its initial 2 KB; a writer goroutine exists only while frames are
// queued; the events loop and the pinger enqueue frames.
type client struct {
	g      *Gateway
	conn   *gws.Conn
	player string
	ip     netip.Addr

	// Guarded by Gateway.mu (written by message handling only, which is
	// sequential, so it may read them without the lock).
	hunt string
	from int64 // deliver only events of the hunt at offsets above this
	gone bool  // unregistered: never route to it again

	lmu    sync.Mutex // the read loop (pings) and message handling share it
	bucket bucket

	seen     atomic.Int64 // unix ms of the last frame received
	pinged   int64        // unix ms of the last ping sent (keepalive loop only)
	deadline int64        // unix ms of the read deadline set (keepalive loop only, after start)
	inflight atomic.Int32 // actions forwarded, result not delivered yet
	done     atomic.Bool  // OnClose ran
	reason   atomic.Pointer[string]

	qmu     sync.Mutex
	q       outq
	writing bool // a writer goroutine is running
	closing bool // nothing more is queued
}

// frame is one queued write.
type frame struct {
	b  []byte
	ts int64 // the event's ts (unix ms) for the latency histogram; 0 if none
	op uint8
}

const (
	opText uint8 = iota
	opPing
	opPong
	opClose // ts holds the close code
)

// outq is a FIFO ring of frames; empty, it holds no memory.
type outq struct {
	buf  []frame
	head int
	n    int
}

func (q *outq) push(f frame) {
	if q.n == len(q.buf) {
		nb := make([]frame, max(4, 2*len(q.buf)))
		for i := 0; i < q.n; i++ {
			nb[i] = q.buf[(q.head+i)%len(q.buf)]
		}
		q.buf, q.head = nb, 0
	}
	q.buf[(q.head+q.n)%len(q.buf)] = f
	q.n++
}

func (q *outq) pop() (frame, bool) {
	if q.n == 0 {
		return frame{}, false
	}
	f := q.buf[q.head]
	q.buf[q.head] = frame{}
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	if q.n == 0 {
		q.buf, q.head = nil, 0 // idle connections hold no queue
	}
	return f, true
}

// send queues a text frame. A client whose queue is full does not read fast
// enough: it is disconnected rather than allowed to grow our memory.
func (c *client) send(b []byte, ts int64) bool {
	return c.enqueue(frame{b: b, ts: ts, op: opText}, false)
}

func (c *client) enqueue(f frame, force bool) bool {
	c.qmu.Lock()
	if c.closing {
		c.qmu.Unlock()
		return false
	}
	if c.q.n >= c.g.opt.QueueLimit && !force {
		c.closing = true
		c.qmu.Unlock()
		c.kill(reasonSlow, 1008, "too slow: outgoing queue full", true)
		return false
	}
	c.q.push(f)
	c.g.queued.Add(1)
	if n := int64(c.q.n); n > c.g.maxQueue.Load() {
		c.g.noteQueue(n)
	}
	if f.op == opClose {
		c.closing = true
	}
	start := !c.writing
	c.writing = true
	c.qmu.Unlock()
	if start {
		go c.writeLoop()
	}
	return true
}

func (c *client) sendJSON(m protocol.ServerMessage) {
	b, _ := json.Marshal(m)
	c.send(b, 0)
}

func (c *client) sendError(code, msg string, seq uint64) {
	c.sendJSON(protocol.ServerMessage{Type: protocol.TypeError, Code: code, Message: msg, Seq: seq})
}

// closeAfterFlush closes the connection with code once the frames queued
// before it are written.
func (c *client) closeAfterFlush(code uint16, reason string) {
	c.enqueue(frame{b: []byte(reason), ts: int64(code), op: opClose}, true)
}

// writeLoop writes queued frames until the queue is empty. Each write has
// its own deadline: a client that stops reading cannot hold the connection
// (and its writer) longer than WriteTimeout.
func (c *client) writeLoop() {
	g := c.g
	for {
		c.qmu.Lock()
		f, ok := c.q.pop()
		if !ok {
			c.writing = false
			c.qmu.Unlock()
			return
		}
		g.queued.Add(-1)
		c.qmu.Unlock()

		_ = c.conn.SetWriteDeadline(time.Now().Add(g.opt.WriteTimeout))
		var err error
		switch f.op {
		case opText:
			err = c.conn.WriteMessage(gws.OpcodeText, f.b)
		case opPing:
			err = c.conn.WritePing(nil)
		case opPong:
			err = c.conn.WritePong(f.b)
		case opClose:
			_ = c.conn.WriteClose(uint16(f.ts), f.b)
			c.drop()
			return
		}
		if err != nil {
			if isTimeout(err) {
				c.setReason(reasonWriteTimeout)
			}
			c.drop()
			return
		}
		g.m.framesOut.Inc()
		if f.ts > 0 {
			g.m.latency.Observe(float64(time.Now().UnixMilli()-f.ts) / 1000)
		}
	}
}

// drop discards the queue: the connection is closing.
func (c *client) drop() {
	c.qmu.Lock()
	c.g.queued.Add(-int64(c.q.n))
	c.q = outq{}
	c.closing, c.writing = true, false
	c.qmu.Unlock()
}

// kill closes the connection now with code (or, for a client that is not
// reading anyway, cuts it: a blocked write fails at once, and the socket is
// reset, so the kernel drops what it still buffers for that client).
func (c *client) kill(reason string, code uint16, text string, cut bool) {
	c.setReason(reason)
	c.g.log.Info("gateway: connection closed", "player", c.player, "remote", c.ip, "reason", reason)
	if s := sockOf(c.conn); cut && s != nil {
		s.cut()
		return
	}
	c.drop()
	_ = c.conn.SetWriteDeadline(time.Now().Add(time.Second))
	if cut {
		go func() { _ = c.conn.WriteClose(code, []byte(text)) }()
		return
	}
	_ = c.conn.WriteClose(code, []byte(text))
}

// sockOf is the connection's socket (nil for a socket that is not TCP).
func sockOf(conn *gws.Conn) *sock {
	s, _ := conn.NetConn().(*sock)
	return s
}

// ending reports whether the connection is closing: what it still sends is
// ignored.
func (c *client) ending() bool {
	s := sockOf(c.conn)
	return s != nil && s.closing()
}

// setReason records why the gateway closed the connection (first one wins).
func (c *client) setReason(r string) { c.reason.CompareAndSwap(nil, &r) }

// touch notes that a frame arrived. The keepalive loop moves the read
// deadline (a timer update, deep in the runtime): the read loop's goroutine
// then never needs more than its initial 2 KB stack.
func (c *client) touch(now int64) { c.seen.Store(now / int64(time.Millisecond)) }

// answered notes that a result reached the client (for the drain).
func (c *client) answered() {
	for {
		n := c.inflight.Load()
		if n <= 0 || c.inflight.CompareAndSwap(n, n-1) {
			if n > 0 {
				c.g.inflight.Add(-1)
			}
			return
		}
	}
}

// Results of client.limit.
const (
	allowed = iota
	refused // over the rate: answer rate_limited, drop the frame
	flooded // far over it: the connection is closed with 1008
)

// limit applies the message rate to one incoming frame. A client may go
// MessageBurst frames into debt (each refused) before it counts as a flood.
func (c *client) limit(now int64) int {
	o := &c.g.opt
	if o.MessageRate < 0 {
		return allowed
	}
	c.lmu.Lock()
	left := c.bucket.take(o.MessageRate, o.MessageBurst, -float64(o.MessageBurst)-1, now)
	c.lmu.Unlock()
	switch {
	case left >= 0:
		return allowed
	case left >= -float64(o.MessageBurst):
		c.g.m.reject(reasonRateLimited)
		return refused
	default:
		c.kill(reasonFlood, 1008, "message rate exceeded", false)
		return flooded
	}
}

// rateLimited answers a refused frame, naming its seq when it has one so a
// client waiting for that action's result knows to resend it later.
func (c *client) rateLimited(b []byte) {
	var m struct {
		Seq uint64 `json:"seq"`
	}
	_ = json.Unmarshal(b, &m)
	c.sendError(protocol.ErrRateLimited, "too many messages: slow down and resend", m.Seq)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// gws.SessionStorage, unused: the client is the session.
func (c *client) Len() int                     { return 0 }
func (c *client) Load(string) (any, bool)      { return nil, false }
func (c *client) Delete(string)                {}
func (c *client) Store(string, any)            {}
func (c *client) Range(func(string, any) bool) {}
func clientOf(conn *gws.Conn) *client          { return conn.Session().(*client) }

var _ gws.SessionStorage = (*client)(nil)

// handler receives the gws events of every connection.
type handler struct{ g *Gateway }

// OnOpen does nothing: Gateway.start did the work on the HTTP handler's
// goroutine, so that the read loop's goroutine never needs more than its
// initial 2 KB stack while the player is idle (a goroutine's stack keeps the
// largest size it ever reached).
func (h *handler) OnOpen(*gws.Conn) {}

// start starts a player's connection: idle deadline, routing, welcome.
func (g *Gateway) start(c *client) {
	now := time.Now().UnixNano()
	c.bucket.init(g.opt.MessageBurst, now)
	c.touch(now)
	c.deadline = now/int64(time.Millisecond) + g.idleMs()
	_ = c.conn.SetReadDeadline(time.UnixMilli(c.deadline))
	g.register(c)
	welcome := protocol.ServerMessage{
		Type: protocol.TypeWelcome, Player: c.player, Session: c.player,
		Resume: signResume(g.opt.ResumeSecret, c.player, g.opt.Now().Add(g.opt.ResumeTTL)),
	}
	if g.opt.MessageRate > 0 { // told, so well-behaved clients pace themselves
		welcome.Rate, welcome.Burst = g.opt.MessageRate, g.opt.MessageBurst
	}
	c.sendJSON(welcome)
	if g.draining.Load() {
		c.closeAfterFlush(1012, "gateway restarting: reconnect")
	}
}

func (h *handler) OnClose(conn *gws.Conn, err error) {
	c := clientOf(conn)
	if !c.done.CompareAndSwap(false, true) {
		return
	}
	g := h.g
	defer g.loops.Add(-1)
	// Counted before the connection leaves the counts: whoever sees it gone
	// also sees why.
	reason := ""
	if r := c.reason.Load(); r != nil {
		reason = *r
	} else if sc, ok := err.(interface{ Uint16() uint16 }); ok && sc.Uint16() == 1009 {
		reason = reasonTooLarge
	} else if isTimeout(err) {
		reason = reasonIdle
	}
	if reason != "" {
		g.m.reject(reason)
	}
	g.unregister(c)
	c.drop()
	g.inflight.Add(-int64(c.inflight.Swap(0)))
	g.open.Add(-1)
	g.ips.release(c.ip)
	g.log.Debug("gateway: closed", "player", c.player, "remote", c.ip, "reason", reason, "err", err)
	if s := sockOf(conn); s != nil {
		s.release()
	}
}

func (h *handler) OnPing(conn *gws.Conn, payload []byte) {
	c := clientOf(conn)
	if c.ending() {
		return
	}
	now := time.Now().UnixNano()
	c.touch(now)
	if c.limit(now) != allowed {
		return
	}
	// Through the queue: the read loop never waits on a slow socket.
	c.enqueue(frame{b: payload, op: opPong}, false)
}

func (h *handler) OnPong(conn *gws.Conn, _ []byte) {
	clientOf(conn).touch(time.Now().UnixNano())
}

func (h *handler) OnMessage(conn *gws.Conn, msg *gws.Message) {
	defer msg.Close()
	g := h.g
	c := clientOf(conn)
	if c.reason.Load() != nil {
		return // the gateway is closing this connection: what it still sends is ignored
	}
	now := time.Now().UnixNano()
	c.touch(now)
	g.m.framesIn.Inc()
	switch c.limit(now) {
	case refused:
		c.rateLimited(msg.Bytes())
		return
	case flooded:
		return
	}
	if msg.Opcode != gws.OpcodeText {
		g.m.reject(reasonBadFrame)
		c.sendError(protocol.ErrBinary, "send JSON text frames", 0)
		return
	}
	// Decode copies what it keeps: msg's buffer goes back to a pool.
	m, err := protocol.Decode(msg.Bytes())
	if err != nil {
		code, text := protocol.ErrBadJSON, err.Error()
		var v *protocol.ValidationError
		if errors.As(err, &v) {
			code, text = v.Code, v.Msg
		}
		g.m.reject(reasonBadFrame)
		c.sendError(code, text, m.Seq)
		return
	}
	switch m.Type {
	case protocol.TypePing:
		c.sendJSON(protocol.ServerMessage{Type: protocol.TypePong, Seq: m.Seq})
		return
	case protocol.TypeResume:
		g.resume(c, m.Hunt, m.Pos)
		return
	}
	if g.draining.Load() {
		c.sendError(protocol.ErrUnavailable, "gateway restarting: reconnect and resend", m.Seq)
		return
	}
	if m.Type == protocol.TypeJoin {
		g.joinHunt(c, m.Hunt)
	} else {
		// c.hunt is only written by this goroutine (under Gateway.mu).
		if c.hunt == "" {
			g.m.reject(reasonBadFrame)
			c.sendError(protocol.ErrNotJoined, m.Type+" before join: send a join message first", m.Seq)
			return
		}
	}
	g.forward(c, m)
}
