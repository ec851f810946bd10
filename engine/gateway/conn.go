package gateway

import (
	"encoding/json"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"

	"github.com/veltrix/veltrix/engine/protocol"
)

// client is one player connection. hunt is guarded by Gateway.mu.
type client struct {
	g       *Gateway
	conn    *gws.Conn
	player  string
	hunt    string
	queued  atomic.Int32 // messages waiting in the write queue
	tooSlow atomic.Bool
}

// send queues b for the socket. A client whose queue is full does not read
// fast enough: it is disconnected rather than allowed to grow our memory.
func (c *client) send(b []byte) {
	if c.queued.Add(1) > int32(c.g.opt.QueueLimit) {
		c.queued.Add(-1)
		if c.tooSlow.CompareAndSwap(false, true) {
			c.g.log.Info("gateway: slow client disconnected", "player", c.player)
			go func() { _ = c.conn.WriteClose(1008, []byte("too slow: outgoing queue full")) }()
		}
		return
	}
	// A deadline per write: a client that stops reading cannot hold the
	// connection's write lock forever.
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.g.opt.WriteTimeout))
	c.conn.WriteAsync(gws.OpcodeText, b, func(error) { c.queued.Add(-1) })
}

func (c *client) sendJSON(m protocol.ServerMessage) {
	b, _ := json.Marshal(m)
	c.send(b)
}

func (c *client) sendError(code, msg string, seq uint64) {
	c.sendJSON(protocol.ServerMessage{Type: protocol.TypeError, Code: code, Message: msg, Seq: seq, Hunt: c.hunt})
}

// handler receives gws events for every connection.
type handler struct{ g *Gateway }

func clientOf(conn *gws.Conn) *client {
	v, _ := conn.Session().Load("c")
	c, _ := v.(*client)
	return c
}

func (h *handler) OnOpen(conn *gws.Conn) {
	c := clientOf(conn)
	_ = conn.SetReadDeadline(time.Now().Add(h.g.opt.IdleTimeout))
	h.g.register(c)
	c.sendJSON(protocol.ServerMessage{Type: protocol.TypeWelcome, Player: c.player})
}

func (h *handler) OnClose(conn *gws.Conn, _ error) {
	if c := clientOf(conn); c != nil {
		h.g.unregister(c)
	}
}

func (h *handler) OnPing(conn *gws.Conn, payload []byte) {
	_ = conn.SetReadDeadline(time.Now().Add(h.g.opt.IdleTimeout))
	_ = conn.WritePong(payload)
}

func (h *handler) OnPong(conn *gws.Conn, _ []byte) {
	_ = conn.SetReadDeadline(time.Now().Add(h.g.opt.IdleTimeout))
}

func (h *handler) OnMessage(conn *gws.Conn, msg *gws.Message) {
	defer msg.Close()
	c := clientOf(conn)
	_ = conn.SetReadDeadline(time.Now().Add(h.g.opt.IdleTimeout))
	if msg.Opcode != gws.OpcodeText {
		c.sendError(protocol.ErrBinary, "send JSON text frames", 0)
		return
	}
	m, err := protocol.Decode(msg.Bytes())
	if err != nil {
		var code, text = protocol.ErrBadJSON, err.Error()
		if v, ok := err.(*protocol.ValidationError); ok {
			code, text = v.Code, v.Msg
		}
		c.sendError(code, text, m.Seq)
		return
	}
	switch m.Type {
	case protocol.TypePing:
		c.sendJSON(protocol.ServerMessage{Type: protocol.TypePong, Seq: m.Seq})
		return
	case protocol.TypeJoin:
		h.g.joinHunt(c, m.Hunt)
	default:
		h.g.mu.RLock()
		joined := c.hunt != ""
		h.g.mu.RUnlock()
		if !joined {
			c.sendError(protocol.ErrNotJoined, m.Type+" before join: send a join message first", m.Seq)
			return
		}
	}
	h.g.forward(c, m)
}

// slot is a one-value SessionStorage: gws's default is a map per connection,
// and we only keep one pointer.
type slot struct{ v any }

func (s *slot) Len() int { return 1 }
func (s *slot) Load(string) (any, bool) {
	return s.v, s.v != nil
}
func (s *slot) Delete(string)         { s.v = nil }
func (s *slot) Store(_ string, v any) { s.v = v }
func (s *slot) Range(f func(string, any) bool) {
	if s.v != nil {
		f("c", s.v)
	}
}

type gwsLogger struct {
	l interface{ Error(string, ...any) }
}

func (l gwsLogger) Error(v ...any) { l.l.Error("gws", "detail", v) }
