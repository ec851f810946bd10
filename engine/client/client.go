// Package client is a small Go client for the Veltrix player protocol
// (docs/protocol.md), used by `veltrix replay`, the load tools and the tests.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"

	"github.com/veltrix/veltrix/engine/protocol"
)

// Client is one player connection. Messages are delivered in order by Next.
type Client struct {
	conn   *gws.Conn
	Player string // assigned by the gateway's welcome
	// Session and ResumeToken (from the welcome) reconnect this session to
	// any gateway: Options.Session and Options.ResumeToken.
	Session     string
	ResumeToken string

	// Rate and Burst are the gateway's message limit from the welcome
	// (0: none). Wait paces sends under it.
	Rate  float64
	Burst int
	pace  pacer

	lastPos atomic.Int64 // pos of the last engine event returned by Next

	in     chan protocol.ServerMessage
	closed chan struct{}
	once   sync.Once
	mu     sync.Mutex
	err    error // why the connection closed
}

// CloseError is the close frame a server sent.
type CloseError = gws.CloseError

// Options configures Dial.
type Options struct {
	// Player asks the gateway for this id (the anonymous auth honours it).
	Player string
	// Header is added to the upgrade request (e.g. Authorization).
	Header http.Header
	// Buffer is how many messages may wait for Next. Default 4096.
	Buffer int
	// Session and ResumeToken resume a session (from a previous welcome)
	// instead of authenticating again; then send Resume.
	Session     string
	ResumeToken string
	// LocalAddr, if set, is the local address to dial from (load tools
	// spread connections over 127.0.0.x sources).
	LocalAddr *net.TCPAddr
	// ReadBufferSize of the connection. Default 4096 (gws).
	ReadBufferSize int
}

// Dial connects to a gateway's ws:// URL and waits for its welcome.
func Dial(ctx context.Context, rawURL string, o Options) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("client: url %q: %w", rawURL, err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return nil, fmt.Errorf("client: url %q: want ws://HOST:PORT/ws (or wss://)", rawURL)
	}
	if o.Player != "" || o.ResumeToken != "" {
		q := u.Query()
		if o.Player != "" {
			q.Set("player", o.Player)
		}
		if o.ResumeToken != "" {
			q.Set("session", o.Session)
			q.Set("resume", o.ResumeToken)
		}
		u.RawQuery = q.Encode()
	}
	if o.Buffer <= 0 {
		o.Buffer = 4096
	}
	c := &Client{in: make(chan protocol.ServerMessage, o.Buffer), closed: make(chan struct{})}
	copt := &gws.ClientOption{
		Addr: u.String(), RequestHeader: o.Header, HandshakeTimeout: 10 * time.Second,
		ReadMaxPayloadSize: 1 << 20, ReadBufferSize: o.ReadBufferSize,
	}
	if o.LocalAddr != nil {
		copt.NewDialer = func() (gws.Dialer, error) {
			return &net.Dialer{Timeout: 10 * time.Second, LocalAddr: o.LocalAddr}, nil
		}
	}
	conn, resp, err := gws.NewClient(c, copt)
	if err != nil {
		if resp != nil {
			// The gateway says why it refused in the body (http.Error).
			if resp.Body != nil {
				if b, _ := io.ReadAll(io.LimitReader(resp.Body, 512)); len(bytes.TrimSpace(b)) > 0 {
					return nil, fmt.Errorf("client: dial %s: %s: %s", rawURL, resp.Status, bytes.TrimSpace(b))
				}
			}
			return nil, fmt.Errorf("client: dial %s: %s: %w", rawURL, resp.Status, err)
		}
		return nil, fmt.Errorf("client: dial %s: %w", rawURL, err)
	}
	c.conn = conn
	go conn.ReadLoop()
	m, err := c.Next(ctx)
	if err != nil {
		c.Close()
		return nil, err
	}
	if m.Type != protocol.TypeWelcome {
		c.Close()
		return nil, fmt.Errorf("client: expected welcome, got %q", m.Type)
	}
	c.Player, c.Session, c.ResumeToken = m.Player, m.Session, m.Resume
	c.Rate, c.Burst = m.Rate, m.Burst
	c.pace.init(m.Rate, m.Burst, time.Now())
	return c, nil
}

// Resume asks the gateway for the events of hunt after pos (the pos of the
// last event processed, LastPos after a reconnect). The answer is a
// "resumed" message: Replayed missed events follow it, or Gap says they are
// gone (send join for a snapshot).
func (c *Client) Resume(hunt string, pos int64) error {
	return c.Send(protocol.ClientMessage{Type: protocol.TypeResume, Hunt: hunt, Pos: pos})
}

// LastPos is the pos of the last engine event Next returned (0: none).
func (c *Client) LastPos() int64 { return c.lastPos.Load() }

// Send writes one message.
func (c *Client) Send(m protocol.ClientMessage) error {
	b, _ := json.Marshal(m)
	return c.SendRaw(b)
}

// SendRaw writes one text frame as is (tests use it for malformed input).
func (c *Client) SendRaw(b []byte) error {
	if err := c.conn.WriteMessage(gws.OpcodeText, b); err != nil {
		return fmt.Errorf("client: send: %w", err)
	}
	return nil
}

// Next returns the next message, or the reason the connection closed.
func (c *Client) Next(ctx context.Context) (protocol.ServerMessage, error) {
	select {
	case m := <-c.in:
		return c.seen(m), nil
	default:
	}
	select {
	case m := <-c.in:
		return c.seen(m), nil
	case <-c.closed:
		// Deliver what arrived before the close first.
		select {
		case m := <-c.in:
			return c.seen(m), nil
		default:
		}
		return protocol.ServerMessage{}, c.Err()
	case <-ctx.Done():
		return protocol.ServerMessage{}, ctx.Err()
	}
}

func (c *Client) seen(m protocol.ServerMessage) protocol.ServerMessage {
	if m.Pos > 0 && m.Type != protocol.TypeResumed {
		c.lastPos.Store(m.Pos)
	}
	return m
}

// Done is closed when the connection is.
func (c *Client) Done() <-chan struct{} { return c.closed }

// Err is why the connection closed: a *CloseError when the server sent a close frame.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection.
func (c *Client) Close() {
	if c.conn != nil {
		_ = c.conn.WriteClose(1000, nil)
	}
}

// gws event handler.

func (c *Client) OnOpen(*gws.Conn) {}

func (c *Client) OnClose(_ *gws.Conn, err error) {
	c.once.Do(func() {
		c.mu.Lock()
		if err == nil {
			err = errors.New("client: connection closed")
		}
		c.err = err
		c.mu.Unlock()
		close(c.closed)
	})
}

func (c *Client) OnPing(conn *gws.Conn, p []byte) { _ = conn.WritePong(p) }
func (c *Client) OnPong(*gws.Conn, []byte)        {}

func (c *Client) OnMessage(_ *gws.Conn, msg *gws.Message) {
	defer msg.Close()
	var m protocol.ServerMessage
	if err := json.Unmarshal(msg.Bytes(), &m); err != nil {
		m = protocol.ServerMessage{Type: protocol.TypeError, Code: "client_decode", Message: err.Error()}
	}
	select {
	case c.in <- m:
	case <-c.closed:
	}
}

// Wait blocks until one more message fits under the gateway's advertised
// rate limit, so a client sending as fast as it can is never refused with
// rate_limited (which drops the message). It returns at once when the
// gateway set no limit.
func (c *Client) Wait(ctx context.Context) error {
	d := c.pace.reserve(time.Now())
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pacer is a token bucket a little inside the gateway's own: 90% of its
// rate and half its burst, so clock differences and pings never tip a
// paced client over.
type pacer struct {
	mu     sync.Mutex
	rate   float64 // tokens per second; 0 = unlimited
	burst  float64
	tokens float64
	last   time.Time
}

func (p *pacer) init(rate float64, burst int, now time.Time) {
	if rate <= 0 {
		return
	}
	p.rate, p.burst = rate*0.9, max(1, float64(burst)/2)
	p.tokens, p.last = p.burst, now
}

// reserve takes a token and says how long to wait before using it.
func (p *pacer) reserve(now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rate == 0 {
		return 0
	}
	p.tokens = min(p.burst, p.tokens+now.Sub(p.last).Seconds()*p.rate)
	p.last = now
	p.tokens--
	if p.tokens >= 0 {
		return 0
	}
	return time.Duration(-p.tokens / p.rate * float64(time.Second))
}
