package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/engine/client"
	"github.com/veltrix/veltrix/engine/gateway"
	"github.com/veltrix/veltrix/engine/kafka"
	"github.com/veltrix/veltrix/engine/protocol"
)

const (
	actionsTopic = "a"
	eventsTopic  = "e"
	testSecret   = "resume-secret-shared-by-gateways"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// startKafka starts an in-process broker with the actions and events topics.
func startKafka(t *testing.T) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, actionsTopic, eventsTopic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// playerParam is a test authenticator: ?player=ID, like the dev plugin.
type playerParam struct{}

func (playerParam) Authenticate(r *http.Request) (string, error) {
	if p := r.URL.Query().Get("player"); p != "" {
		return p, nil
	}
	return "", errors.New("no ?player=")
}

type testGateway struct {
	*gateway.Gateway
	url  string
	addr string
	reg  *prometheus.Registry
}

// startGateway serves a gateway on a free port; opt's zero fields get test
// defaults (Kafka, topics, auth, a shared resume secret, metrics).
func startGateway(t *testing.T, seeds []string, opt gateway.Options) *testGateway {
	t.Helper()
	reg := prometheus.NewRegistry()
	opt.Seeds, opt.Actions, opt.Events = seeds, actionsTopic, eventsTopic
	if opt.ClientID == "" {
		opt.ClientID = "gw-" + strings.ReplaceAll(t.Name(), "/", "-")
	}
	if opt.Auth == nil {
		opt.Auth = playerParam{}
	}
	if opt.Log == nil {
		opt.Log = quiet
	}
	if opt.ResumeSecret == nil {
		opt.ResumeSecret = []byte(testSecret)
	}
	opt.Metrics = reg
	g, err := gateway.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(ln) }()
	t.Cleanup(func() { _ = g.Shutdown(context.Background()) })
	return &testGateway{Gateway: g, url: "ws://" + ln.Addr().String() + "/ws", addr: ln.Addr().String(), reg: reg}
}

// rejects reads veltrix_gateway_rejects_total{reason}.
func (g *testGateway) rejects(t *testing.T, reason string) float64 {
	t.Helper()
	mfs, err := g.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "veltrix_gateway_rejects_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// producer publishes events the way the engine does (key hunt, header to).
type producer struct{ cl *kgo.Client }

func newProducer(t *testing.T, seeds []string) *producer {
	t.Helper()
	cl, err := kgo.NewClient(append(kafka.ClientOpts(seeds, "test-engine", kafka.Batching{}, quiet), kgo.DefaultProduceTopic(eventsTopic))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &producer{cl}
}

// event publishes one event to a player (to != "") or a whole hunt.
func (p *producer) event(t *testing.T, hunt, to string, m protocol.ServerMessage) {
	t.Helper()
	m.Hunt = hunt
	b, _ := json.Marshal(m)
	p.raw(t, hunt, to, b)
}

func (p *producer) raw(t *testing.T, hunt, to string, b []byte) {
	t.Helper()
	rec := &kgo.Record{Key: []byte(hunt), Value: b}
	if to != "" {
		rec.Headers = []kgo.RecordHeader{{Key: kafka.HeaderTo, Value: []byte(to)}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, ctx context.Context, url string, o client.Options) *client.Client {
	t.Helper()
	c, err := client.Dial(ctx, url, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// next skips to the next message of type typ.
func next(t *testing.T, ctx context.Context, c *client.Client, typ string) protocol.ServerMessage {
	t.Helper()
	for {
		m, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		if m.Type == typ {
			return m
		}
	}
}

// joined joins hunt and waits until the gateway has handled it (a ping
// message sent after the join is answered after it).
func joined(t *testing.T, ctx context.Context, c *client.Client, hunt string, seq uint64) {
	t.Helper()
	if err := c.Send(protocol.ClientMessage{Type: protocol.TypeJoin, Hunt: hunt, Seq: seq}); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(protocol.ClientMessage{Type: protocol.TypePing}); err != nil {
		t.Fatal(err)
	}
	next(t, ctx, c, protocol.TypePong)
}

// closeCode waits for c to be closed and returns the close code received.
func closeCode(t *testing.T, ctx context.Context, c *client.Client) uint16 {
	t.Helper()
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("connection not closed")
	}
	var ce *client.CloseError
	if !errors.As(c.Err(), &ce) {
		t.Fatalf("closed without a close frame: %v", c.Err())
	}
	return ce.Code
}

// waitUntil polls cond (for state that has no event to wait on).
func waitUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting until %s", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// rawWS is a minimal WebSocket client over a plain TCP connection, for
// clients that misbehave: never read, never answer pings.
type rawWS struct {
	c  *net.TCPConn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr, query string, rcvbuf int) *rawWS {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	tc := c.(*net.TCPConn)
	if rcvbuf > 0 {
		_ = tc.SetReadBuffer(rcvbuf)
	}
	fmt.Fprintf(c, "GET /ws?%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", query, addr)
	w := &rawWS{c: tc, br: bufio.NewReaderSize(c, 512)}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(w.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %s", resp.Status)
	}
	_ = c.SetReadDeadline(time.Time{})
	return w
}

// join joins hunt and waits until the gateway has registered it: the pong
// to a ping sent after the join comes once the join was handled.
func (w *rawWS) join(t *testing.T, hunt string) {
	t.Helper()
	w.send(t, `{"type":"join","hunt":"`+hunt+`","seq":1}`)
	w.send(t, `{"type":"ping"}`)
	for {
		_, p, err := w.read()
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(p, []byte(`"pong"`)) {
			return
		}
	}
}

// send writes one masked text frame.
func (w *rawWS) send(t *testing.T, payload string) {
	t.Helper()
	p := []byte(payload)
	hdr := []byte{0x81, 0x80 | byte(len(p))}
	if len(p) >= 126 {
		hdr = []byte{0x81, 0x80 | 126, 0, 0}
		binary.BigEndian.PutUint16(hdr[2:], uint16(len(p)))
	}
	key := []byte{1, 2, 3, 4}
	for i := range p {
		p[i] ^= key[i%4]
	}
	if _, err := w.c.Write(append(append(hdr, key...), p...)); err != nil {
		t.Fatal(err)
	}
}

// read returns the next frame (server frames are not masked).
func (w *rawWS) read() (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(w.br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err = io.ReadFull(w.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err = io.ReadFull(w.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(w.br, payload)
	return h[0] & 0x0f, payload, err
}

// readUntilClosed reads frames until the connection ends, within 30s.
func (w *rawWS) readUntilClosed(t *testing.T) (frames int, bytes int) {
	t.Helper()
	_ = w.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		op, p, err := w.read()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the gateway did not close the connection (read %d frames)", frames)
			}
			return frames, bytes
		}
		if op == 0x8 { // close
			return frames, bytes
		}
		frames++
		bytes += len(p)
	}
}
