package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/engine/client"
	"github.com/veltrix/veltrix/engine/core"
	"github.com/veltrix/veltrix/engine/gateway"
	"github.com/veltrix/veltrix/engine/protocol"
	"github.com/veltrix/veltrix/plugins/auth/token"
)

// A client that never reads while its hunt broadcasts is cut off; the
// gateway never queues more than QueueLimit frames for it, and keeps
// serving a well-behaved player of the same hunt.
func TestSlowClientIsCutOff(t *testing.T) {
	seeds := startKafka(t)
	const limit = 32
	g := startGateway(t, seeds, gateway.Options{QueueLimit: limit, WriteTimeout: 5 * time.Second, HistoryBytes: -1})
	ctx := testCtx(t)
	ev := newProducer(t, seeds)

	// The reader that never reads: a small receive buffer, and after its
	// join it never reads again.
	slow := dialRaw(t, g.addr, "player=sloth", 4096)
	slow.join(t, "h")
	good := dial(t, ctx, g.url, client.Options{Player: "ant"})
	joined(t, ctx, good, "h", 1)

	// Broadcast 6 MB (3000 events of 2 KB) to the hunt, 10 at a time (the
	// good player keeps up): far more than the kernel buffers and the
	// queue together hold.
	const n, size, batch = 3000, 2048, 10
	pad := strings.Repeat("x", size)
	for i := 0; i < n; i += batch {
		for j := i; j < i+batch; j++ {
			ev.raw(t, "h", "", fmt.Appendf(nil, `{"type":"leaderboard","hunt":"h","seq":%d,"data":{"pad":"%s"}}`, j+1, pad))
		}
		// The good player gets every event.
		for j := i; j < i+batch; j++ {
			if m := next(t, ctx, good, "leaderboard"); m.Seq != uint64(j+1) {
				t.Fatalf("good player: event %d has seq %d", j+1, m.Seq)
			}
		}
	}
	// The slow one was cut off: reading now, it finds a bounded part of the
	// stream and then the end of the connection.
	frames, got := slow.readUntilClosed(t)
	if frames >= n || got >= n*size {
		t.Fatalf("slow client read %d frames (%d bytes) of %d: it was not cut off", frames, got, n)
	}
	if hw := g.QueueHighWater(); hw > limit {
		t.Fatalf("a connection's queue reached %d frames, limit %d", hw, limit)
	}
	waitUntil(t, ctx, "the slow connection is gone", func() bool { return g.Conns() == 1 })
	if q := g.Queued(); q != 0 {
		t.Fatalf("%d frames still queued after the cut", q)
	}
	if g.rejects(t, "slow")+g.rejects(t, "write_timeout") != 1 {
		t.Fatalf("rejects: slow %v, write_timeout %v; want one of them", g.rejects(t, "slow"), g.rejects(t, "write_timeout"))
	}
	t.Logf("slow client read %d of %d frames before the cut", frames, n)
}

func TestFloodIsClosedWith1008(t *testing.T) {
	seeds := startKafka(t)
	g := startGateway(t, seeds, gateway.Options{MessageRate: 5, MessageBurst: 5})
	ctx := testCtx(t)
	c := dial(t, ctx, g.url, client.Options{Player: "flood"})
	// Over the burst: refused, the connection stays.
	for range 7 {
		if err := c.Send(protocol.ClientMessage{Type: protocol.TypePing, Seq: 9}); err != nil {
			t.Fatal(err)
		}
	}
	if m := next(t, ctx, c, protocol.TypeError); m.Code != protocol.ErrRateLimited || m.Seq != 9 {
		t.Fatalf("over the burst: %+v, want rate_limited naming seq 9", m)
	}
	// A sustained flood: closed.
	go func() {
		for range 1000 {
			if c.Send(protocol.ClientMessage{Type: protocol.TypePing}) != nil {
				return
			}
		}
	}()
	if code := closeCode(t, ctx, c); code != 1008 {
		t.Fatalf("flood closed with %d, want 1008", code)
	}
	waitUntil(t, ctx, "the connection is gone", func() bool { return g.Conns() == 0 })
	if g.rejects(t, "flood") != 1 || g.rejects(t, "rate_limited") < 1 {
		t.Fatalf("metrics: flood %v rate_limited %v", g.rejects(t, "flood"), g.rejects(t, "rate_limited"))
	}
}

func TestOversizedFrameIsClosedWith1009(t *testing.T) {
	seeds := startKafka(t)
	g := startGateway(t, seeds, gateway.Options{MaxFrameBytes: 256})
	ctx := testCtx(t)
	c := dial(t, ctx, g.url, client.Options{Player: "big"})
	if err := c.SendRaw(bytes.Repeat([]byte("x"), 257)); err != nil {
		t.Fatal(err)
	}
	if code := closeCode(t, ctx, c); code != 1009 {
		t.Fatalf("oversized frame closed with %d, want 1009", code)
	}
	waitUntil(t, ctx, "the connection is gone", func() bool { return g.Conns() == 0 })
	if g.rejects(t, "too_large") != 1 {
		t.Fatalf("too_large rejects = %v", g.rejects(t, "too_large"))
	}
}

// A handshake that never completes is dropped after HandshakeTimeout:
// silent, a request cut in the middle, or an upgrade that is never sent.
func TestHandshakeTimesOut(t *testing.T) {
	seeds := startKafka(t)
	g := startGateway(t, seeds, gateway.Options{HandshakeTimeout: 300 * time.Millisecond})
	for name, send := range map[string]string{
		"silent":       "",
		"half request": "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n",
		"one byte":     "G",
	} {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", g.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, send); err != nil {
				t.Fatal(err)
			}
			// Our own deadline is a safety net only: the server must hang up first.
			_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
			_, err = io.Copy(io.Discard, c)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the gateway kept a never-completing handshake open")
			}
		})
	}
}

func TestTokenAuth(t *testing.T) {
	seeds := startKafka(t)
	const secret = "a-32-byte-or-longer-secret-for-hmac"
	now := time.Now()
	auth := &token.Auth{Secret: secret, Now: func() time.Time { return now }}
	if err := auth.Validate(); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, seeds, gateway.Options{Auth: auth})
	ctx := testCtx(t)
	valid, err := token.Issue([]byte(secret), token.Claims{Subject: "alice", ExpiresAt: now.Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	expired, _ := token.Issue([]byte(secret), token.Claims{Subject: "alice", ExpiresAt: now.Add(-time.Hour).Unix()})
	otherKey, _ := token.Issue([]byte("another-secret-of-32-bytes-or-more"), token.Claims{Subject: "alice", ExpiresAt: now.Add(time.Hour).Unix()})
	parts := strings.Split(valid, ".")
	// The payload says bob, the signature is alice's.
	swapped := parts[0] + "." + strings.Split(mustIssue(t, secret, "bob", now), ".")[1] + "." + parts[2]
	none := "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + parts[1] + "." // {"alg":"none"}

	for name, tok := range map[string]string{
		"missing": "", "garbage": "not-a-token", "expired": expired, "other key": otherKey,
		"forged payload": swapped, "alg none": none,
	} {
		t.Run(name, func(t *testing.T) {
			h := http.Header{}
			if tok != "" {
				h.Set("Authorization", "Bearer "+tok)
			}
			_, err := client.Dial(ctx, g.url, client.Options{Header: h})
			if err == nil || !strings.Contains(err.Error(), "401") {
				t.Fatalf("dial with a %s token: %v, want 401", name, err)
			}
		})
	}
	// A valid token, as a header and as ?token= (browsers).
	h := http.Header{}
	h.Set("Authorization", "Bearer "+valid)
	if c := dial(t, ctx, g.url, client.Options{Header: h}); c.Player != "alice" {
		t.Fatalf("welcome names %q, want alice", c.Player)
	}
	if c := dial(t, ctx, g.url+"?token="+valid, client.Options{}); c.Player != "alice" {
		t.Fatalf("welcome names %q, want alice", c.Player)
	}
	if n := g.rejects(t, "unauthorized"); n != 6 {
		t.Fatalf("unauthorized rejects = %v, want 6", n)
	}
}

func mustIssue(t *testing.T, secret, player string, now time.Time) string {
	t.Helper()
	tok, err := token.Issue([]byte(secret), token.Claims{Subject: player, ExpiresAt: now.Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// dialStatus returns the HTTP status of a refused upgrade (0 if accepted).
func dialStatus(t *testing.T, ctx context.Context, url string, o client.Options) int {
	t.Helper()
	c, err := client.Dial(ctx, url, o)
	if err == nil {
		t.Cleanup(c.Close)
		return 0
	}
	if strings.Contains(err.Error(), "connection refused") {
		return -1
	}
	for _, code := range []int{401, 403, 429, 503} {
		if strings.Contains(err.Error(), fmt.Sprintf(": %d ", code)) {
			return code
		}
	}
	t.Fatalf("dial: %v", err)
	return -1
}

func TestHandshakeLimits(t *testing.T) {
	seeds := startKafka(t)
	ctx := testCtx(t)
	from := func(ip string) *net.TCPAddr { return &net.TCPAddr{IP: net.ParseIP(ip)} }

	t.Run("per IP", func(t *testing.T) {
		g := startGateway(t, seeds, gateway.Options{MaxConnsPerIP: 2})
		for i, c := range []struct {
			ip   string
			want int
		}{{"127.0.0.1", 0}, {"127.0.0.1", 0}, {"127.0.0.1", 429}, {"127.0.0.2", 0}} {
			if got := dialStatus(t, ctx, g.url, client.Options{Player: fmt.Sprint("p", i), LocalAddr: from(c.ip)}); got != c.want {
				t.Fatalf("connection %d from %s: status %d, want %d", i, c.ip, got, c.want)
			}
		}
		if g.rejects(t, "ip_limit") != 1 {
			t.Fatal("ip_limit not counted")
		}
	})
	t.Run("total", func(t *testing.T) {
		g := startGateway(t, seeds, gateway.Options{MaxConns: 2})
		a := dial(t, ctx, g.url, client.Options{Player: "a"})
		dial(t, ctx, g.url, client.Options{Player: "b"})
		if got := dialStatus(t, ctx, g.url, client.Options{Player: "c"}); got != 503 {
			t.Fatalf("third connection: %d, want 503", got)
		}
		a.Close() // a slot frees when a connection ends
		waitUntil(t, ctx, "a's connection is gone", func() bool { return g.Conns() == 1 })
		if got := dialStatus(t, ctx, g.url, client.Options{Player: "c"}); got != 0 {
			t.Fatalf("after a close: %d, want accepted", got)
		}
	})
	t.Run("handshake rate", func(t *testing.T) {
		g := startGateway(t, seeds, gateway.Options{HandshakeRate: 0.001, HandshakeBurst: 3})
		for i := range 3 {
			if got := dialStatus(t, ctx, g.url, client.Options{Player: fmt.Sprint("p", i)}); got != 0 {
				t.Fatalf("handshake %d: %d", i, got)
			}
		}
		if got := dialStatus(t, ctx, g.url, client.Options{Player: "p4"}); got != 503 {
			t.Fatalf("fourth handshake: %d, want 503", got)
		}
		if g.rejects(t, "handshake_rate") != 1 {
			t.Fatal("handshake_rate not counted")
		}
	})
	t.Run("origin", func(t *testing.T) {
		g := startGateway(t, seeds, gateway.Options{AllowedOrigins: []string{"https://play.example"}})
		for origin, want := range map[string]int{"https://play.example": 0, "https://evil.example": 403, "": 0} {
			h := http.Header{}
			if origin != "" {
				h.Set("Origin", origin)
			}
			if got := dialStatus(t, ctx, g.url, client.Options{Player: "o" + fmt.Sprint(len(origin)), Header: h}); got != want {
				t.Fatalf("origin %q: %d, want %d", origin, got, want)
			}
		}
	})
}

// A newer connection of the same player takes over (1008 to the old one).
func TestTakeover(t *testing.T) {
	seeds := startKafka(t)
	g := startGateway(t, seeds, gateway.Options{})
	ctx := testCtx(t)
	old := dial(t, ctx, g.url, client.Options{Player: "twin"})
	dial(t, ctx, g.url, client.Options{Player: "twin"})
	if code := closeCode(t, ctx, old); code != 1008 {
		t.Fatalf("old connection closed with %d, want 1008", code)
	}
}

// A client that answers pings outlives the idle timeout many times over;
// one that does not is closed.
func TestIdleTimeoutAndPing(t *testing.T) {
	seeds := startKafka(t)
	g := startGateway(t, seeds, gateway.Options{IdleTimeout: 600 * time.Millisecond, PingInterval: 150 * time.Millisecond})
	ctx := testCtx(t)
	live := dial(t, ctx, g.url, client.Options{Player: "live"}) // answers pings (gws does)
	dead := dialRaw(t, g.addr, "player=dead", 0)                // never answers
	frames, _ := dead.readUntilClosed(t)
	if frames < 2 { // the welcome and at least one ping
		t.Fatalf("the silent client saw %d frames before the close, want the welcome and pings", frames)
	}
	// The dead one is gone; the live one, silent all along, is still there.
	waitUntil(t, ctx, "the dead connection is gone", func() bool { return g.Conns() == 1 })
	time.Sleep(time.Second) // the subject of the test: time passing, well past the idle timeout
	if err := live.Send(protocol.ClientMessage{Type: protocol.TypePing}); err != nil {
		t.Fatal(err)
	}
	next(t, ctx, live, protocol.TypePong)
	if g.rejects(t, "idle") != 1 {
		t.Fatalf("idle closes = %v, want 1", g.rejects(t, "idle"))
	}
}

// A client that reconnects to another gateway with its session id, resume
// token and the pos of the last event it processed gets exactly the events
// it missed, once, then the live ones.
func TestResumeOnAnotherGateway(t *testing.T) {
	seeds := startKafka(t)
	gw1 := startGateway(t, seeds, gateway.Options{})
	gw2 := startGateway(t, seeds, gateway.Options{})
	ctx := testCtx(t)
	ev := newProducer(t, seeds)
	say := func(to, text string) {
		ev.event(t, "h1", to, protocol.ServerMessage{Type: "note", Message: text, TS: time.Now().UnixMilli()})
	}

	c1 := dial(t, ctx, gw1.url, client.Options{Player: "alice"})
	if c1.Session != "alice" || c1.ResumeToken == "" {
		t.Fatalf("welcome: session %q, resume token %q", c1.Session, c1.ResumeToken)
	}
	joined(t, ctx, c1, "h1", 1)
	say("alice", "e1")
	say("", "e2")
	say("bob", "e3") // not for alice
	m := next(t, ctx, c1, "note")
	if m.Message != "e1" || m.Pos == 0 {
		t.Fatalf("first event: %+v", m)
	}
	processed := c1.LastPos() // alice processed e1 only, then lost her connection
	c1.Close()
	say("", "e4")
	say("alice", "e5")
	say("bob", "e6")

	// A forged resume token is refused.
	if got := dialStatus(t, ctx, gw2.url, client.Options{Session: "alice", ResumeToken: c1.ResumeToken + "x"}); got != 401 {
		t.Fatalf("forged resume token: status %d, want 401", got)
	}
	if got := dialStatus(t, ctx, gw2.url, client.Options{Session: "bob", ResumeToken: c1.ResumeToken}); got != 401 {
		t.Fatalf("alice's resume token for bob's session: status %d, want 401", got)
	}
	c2 := dial(t, ctx, gw2.url, client.Options{Session: c1.Session, ResumeToken: c1.ResumeToken})
	if c2.Player != "alice" {
		t.Fatalf("resumed as %q", c2.Player)
	}
	if err := c2.Resume("h1", processed); err != nil {
		t.Fatal(err)
	}
	r := next(t, ctx, c2, protocol.TypeResumed)
	if r.Gap {
		t.Fatalf("resumed with a gap: %+v", r)
	}
	say("alice", "e7") // live, after the resume
	var got []string
	last := processed
	for len(got) < 4 {
		m := next(t, ctx, c2, "note")
		if m.Pos <= last {
			t.Fatalf("event %s at pos %d after pos %d: out of order or repeated", m.Message, m.Pos, last)
		}
		last = m.Pos
		got = append(got, m.Message)
	}
	if strings.Join(got, " ") != "e2 e4 e5 e7" {
		t.Fatalf("after resuming: %v, want e2 e4 e5 e7", got)
	}
	// Nothing else arrives: no duplicate (a ping's pong is next).
	if err := c2.Send(protocol.ClientMessage{Type: protocol.TypePing}); err != nil {
		t.Fatal(err)
	}
	if m, err := c2.Next(ctx); err != nil || m.Type != protocol.TypePong {
		t.Fatalf("after the last event: %+v %v, want the pong", m, err)
	}

	// Without history, the same resume is a gap: the client rejoins for a snapshot.
	gw3 := startGateway(t, seeds, gateway.Options{HistoryBytes: -1})
	c3 := dial(t, ctx, gw3.url, client.Options{Session: c1.Session, ResumeToken: c1.ResumeToken})
	if err := c3.Resume("h1", processed); err != nil {
		t.Fatal(err)
	}
	if r := next(t, ctx, c3, protocol.TypeResumed); !r.Gap {
		t.Fatalf("resume without history: %+v, want a gap", r)
	}
}

// Shutdown writes every queued event, then closes with 1012; new
// handshakes are refused meanwhile.
func TestDrainFlushesThen1012(t *testing.T) {
	seeds := startKafka(t)
	g := startGateway(t, seeds, gateway.Options{DrainTimeout: 10 * time.Second})
	ctx := testCtx(t)
	ev := newProducer(t, seeds)
	// A reader with a tiny buffer that waits: the events pile up in the
	// gateway's queue.
	c := dialRaw(t, g.addr, "player=drainee", 16<<10)
	c.join(t, "d")
	// The engine's answer to the join (first in the stream), so the drain
	// need not wait for it.
	base := g.EventsRead()
	ev.raw(t, "d", "drainee", []byte(`{"type":"result","hunt":"d","seq":1,"ok":true}`))
	const n = 100
	pad := strings.Repeat("y", 2000)
	for i := range n {
		ev.raw(t, "d", "", fmt.Appendf(nil, `{"type":"tick","seq":%d,"data":"%s"}`, i+1, pad))
	}
	waitUntil(t, ctx, "the gateway has read the events", func() bool { return g.EventsRead() == base+n+1 })
	done := make(chan error, 1)
	go func() { done <- g.Shutdown(context.Background()) }()
	waitUntil(t, ctx, "the gateway is draining", func() bool { return g.Ready() != nil })
	if got := dialStatus(t, ctx, g.url, client.Options{Player: "late"}); got != 503 && got != -1 {
		t.Fatalf("handshake while draining: %d, want 503", got)
	}
	// Now read: the result, every event in order, then the close.
	_ = c.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, p, err := c.read(); err != nil || !bytes.Contains(p, []byte(`"result"`)) {
		t.Fatalf("first frame %s, %v: want the result", p, err)
	}
	for i := 1; ; {
		op, p, err := c.read()
		if err != nil {
			t.Fatalf("after %d events: %v", i-1, err)
		}
		if op == 0x8 {
			code := uint16(p[0])<<8 | uint16(p[1])
			if code != 1012 || i != n+1 {
				t.Fatalf("closed with %d after %d events, want 1012 after %d", code, i-1, n)
			}
			break
		}
		if !bytes.Contains(p, fmt.Appendf(nil, `"seq":%d,`, i)) {
			t.Fatalf("event %d: %.60s", i, p)
		}
		i++
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Messages are handled on goroutines of their own (gws parallel mode) but
// one at a time: a burst of actions reaches Kafka in order and intact, with
// every field copied out of gws's reused read buffer.
func TestActionsForwardedInOrderIntact(t *testing.T) {
	seeds := startKafka(t)
	g := startGateway(t, seeds, gateway.Options{MessageRate: -1})
	ctx := testCtx(t)
	c := dial(t, ctx, g.url, client.Options{Player: "walker"})
	const n = 300
	if err := c.Send(protocol.ClientMessage{Type: protocol.TypeJoin, Hunt: "h", Seq: 1}); err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= n; i++ {
		m := protocol.ClientMessage{Type: protocol.TypeMove, Seq: uint64(i), Lat: float64(i) / 1000, Lon: -float64(i) / 1000, At: int64(i)}
		if err := c.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(actionsTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	want := uint64(1)
	for want <= n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("%d of %d actions read: %v", want-1, n, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			var a core.Action
			if err := json.Unmarshal(r.Value, &a); err != nil {
				t.Fatal(err)
			}
			i := float64(a.Seq)
			if a.Seq != want || a.Player != "walker" || a.Hunt != "h" || string(r.Key) != "h" ||
				(a.Seq > 1 && (a.Type != "move" || a.Lat != i/1000 || a.Lon != -i/1000 || a.At != int64(a.Seq))) {
				t.Fatalf("action %d: %+v (key %s)", want, a, r.Key)
			}
			want++
		})
	}
}

// A client that stops reading while its queue has room is cut when one
// write has waited WriteTimeout.
func TestStalledWriteTimesOut(t *testing.T) {
	seeds := startKafka(t)
	const timeout = 300 * time.Millisecond
	g := startGateway(t, seeds, gateway.Options{QueueLimit: 100000, WriteTimeout: timeout, HistoryBytes: -1})
	ctx := testCtx(t)
	ev := newProducer(t, seeds)

	stalled := dialRaw(t, g.addr, "player=stalled", 4096)
	stalled.join(t, "h")
	// 2 MB to the hunt: far more than the socket buffers hold, far less
	// than the queue limit, so only the write deadline can end it.
	pad := strings.Repeat("x", 2048)
	for j := 0; j < 1000; j++ {
		ev.raw(t, "h", "", fmt.Appendf(nil, `{"type":"leaderboard","hunt":"h","seq":%d,"data":{"pad":"%s"}}`, j+1, pad))
	}
	start := time.Now()
	waitUntil(t, ctx, "the stalled connection is cut", func() bool { return g.Conns() == 0 })
	if g.rejects(t, "write_timeout") != 1 || g.rejects(t, "slow") != 0 {
		t.Fatalf("rejects: write_timeout %v, slow %v; want the write timeout", g.rejects(t, "write_timeout"), g.rejects(t, "slow"))
	}
	t.Logf("cut %v after the last event was produced", time.Since(start).Round(time.Millisecond))
}
