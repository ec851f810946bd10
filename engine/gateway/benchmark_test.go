package gateway

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/engine/protocol"
)

type benchAuth struct{}

func (benchAuth) Authenticate(r *http.Request) (string, error) {
	return r.URL.Query().Get("player"), nil
}

// benchGateway serves a gateway with n connected raw clients following hunt
// "h" (they do not read: one small event per round fits the kernel buffers).
func benchGateway(b *testing.B, n int) (*Gateway, []net.Conn) {
	b.Helper()
	cl, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "a", "e"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	g, err := New(Options{Seeds: cl.ListenAddrs(), ClientID: "bench", Actions: "a", Events: "e", Auth: benchAuth{},
		Log: quietLog(), MaxConnsPerIP: -1, HandshakeRate: -1, MessageRate: -1})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = g.Serve(ln) }()
	b.Cleanup(func() { _ = g.Shutdown(b.Context()) })
	conns := make([]net.Conn, 0, n)
	buf := make([]byte, 4096)
	for i := range n {
		c, err := net.DialTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(1+i%200))}, ln.Addr().(*net.TCPAddr))
		if err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(c, "GET /ws?player=p%d HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", i)
		if _, err := c.Read(buf); err != nil { // the 101 (and perhaps the welcome)
			b.Fatal(err)
		}
		conns = append(conns, c)
	}
	for g.Conns() < n {
		time.Sleep(time.Millisecond)
	}
	g.mu.Lock()
	for _, c := range g.players {
		g.setHuntLocked(c, "h")
	}
	g.mu.Unlock()
	b.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return g, conns
}

func drain(conns []net.Conn) {
	buf := make([]byte, 64<<10)
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
		for {
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
	}
}

// BenchmarkFanout routes one hunt event to every connection and waits until
// every socket write is done: ns/op is the fan-out time to all of them.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			g, conns := benchGateway(b, n)
			payload := []byte(`{"type":"leaderboard","hunt":"h","seq":7,"data":{"top":[{"player":"p1","score":55},{"player":"p2","score":40}]},"v":"abc","ts":1764780000000}`)
			out := g.m.framesOut
			_ = out
			b.ResetTimer()
			for i := range b.N {
				start := g.read.Load()
				_ = start
				g.mu.Lock()
				g.route(&kgo.Record{Key: []byte("h"), Value: payload, Offset: int64(i)}, time.Now().UnixMilli())
				g.mu.Unlock()
				for g.queued.Load() > 0 {
					time.Sleep(10 * time.Microsecond)
				}
				b.StopTimer()
				if i%100 == 99 {
					drain(conns)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/recipient")
		})
	}
}

// BenchmarkDecode is the per-frame validation cost.
func BenchmarkDecode(b *testing.B) {
	msg := []byte(`{"type":"move","seq":1234,"lat":38.70585,"lon":-9.1448,"at":1764780000000}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := protocol.Decode(msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStampPos is the per-event cost of the resume position.
func BenchmarkStampPos(b *testing.B) {
	v := []byte(`{"type":"result","hunt":"harbour","seq":2,"ok":true,"v":"3f2a1c","ts":1764780000123}`)
	b.ReportAllocs()
	for b.Loop() {
		_ = stampPos(v, 123456789)
		_ = eventTS(v)
	}
}

func quietLog() *slogLogger { return slogDiscard }

var _ = io.Discard
