// Package gateway is the WebSocket tier. It authenticates players, validates
// their frames, forwards each action to the actions topic (key = hunt id) and
// pushes the events the engine publishes back to the right sockets.
//
// It keeps no game state: what it holds per connection (player id, joined
// hunt) is routing, rebuilt by the client's next join. Kill a gateway and
// nothing is lost; a player reconnects to any gateway and resumes.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/engine/core"
	"github.com/veltrix/veltrix/engine/kafka"
	"github.com/veltrix/veltrix/engine/protocol"
)

// Authenticator identifies the player behind an upgrade request. An error
// refuses the handshake with 401. Implementations are auth plugins.
type Authenticator interface {
	Authenticate(r *http.Request) (player string, err error)
}

// Defaults of Options; a zero field means the default.
const (
	DefaultMaxFrameBytes    = 4096
	DefaultWriteTimeout     = 10 * time.Second
	DefaultQueueLimit       = 256
	DefaultIdleTimeout      = 60 * time.Second
	DefaultHandshakeTimeout = 5 * time.Second
)

// Options configures a Gateway.
type Options struct {
	Seeds    []string
	ClientID string
	Actions  string // topic
	Events   string // topic
	Auth     Authenticator
	Log      *slog.Logger

	MaxFrameBytes    int
	WriteTimeout     time.Duration
	QueueLimit       int
	IdleTimeout      time.Duration
	HandshakeTimeout time.Duration
	// Now stamps actions; tests may replace it. Default time.Now.
	Now func() time.Time
}

func (o *Options) defaults() error {
	if o.Auth == nil {
		// Fail closed: no auth plugin, no players.
		return errors.New("gateway: no authenticator configured")
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.MaxFrameBytes <= 0 {
		o.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.QueueLimit <= 0 {
		o.QueueLimit = DefaultQueueLimit
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// Gateway serves players. Create it with New, serve it with Serve.
type Gateway struct {
	opt      Options
	cl       *kgo.Client // produces actions
	events   *kgo.Client // reads events from "now"
	upgrader *gws.Upgrader
	srv      *http.Server
	log      *slog.Logger

	mu      sync.RWMutex
	players map[string]*client
	hunts   map[string]map[*client]struct{}

	draining atomic.Bool
	conns    sync.WaitGroup
}

// New connects the gateway's Kafka clients.
func New(opt Options) (*Gateway, error) {
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	g := &Gateway{
		opt: opt, log: opt.Log,
		players: make(map[string]*client),
		hunts:   make(map[string]map[*client]struct{}),
	}
	var err error
	g.cl, err = kgo.NewClient(append(kafka.ClientOpts(opt.Seeds, opt.ClientID, opt.Log),
		kgo.DefaultProduceTopic(opt.Actions))...)
	if err != nil {
		return nil, fmt.Errorf("gateway: kafka producer: %w", err)
	}
	// Every gateway reads every events partition and keeps what its own
	// sockets need; it starts from "now" because a resuming client gets a
	// snapshot from the engine, not a replay.
	g.events, err = kgo.NewClient(append(kafka.ClientOpts(opt.Seeds, opt.ClientID+"-events", opt.Log),
		kgo.ConsumeTopics(opt.Events),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
		kgo.FetchMaxWait(50*time.Millisecond))...)
	if err != nil {
		g.cl.Close()
		return nil, fmt.Errorf("gateway: kafka consumer: %w", err)
	}
	g.upgrader = gws.NewUpgrader(&handler{g: g}, &gws.ServerOption{
		ReadMaxPayloadSize: opt.MaxFrameBytes,
		// Small buffers: most frames are under 200 bytes, and a buffer is
		// held per connection.
		ReadBufferSize:   1024,
		CheckUtf8Enabled: true,
		HandshakeTimeout: opt.HandshakeTimeout,
		NewSession:       func() gws.SessionStorage { return &slot{} },
		Recovery:         gws.Recovery,
		Logger:           gwsLogger{opt.Log},
	})
	return g, nil
}

// Handler returns the HTTP handler serving /ws (and /healthz).
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", g.serveWS)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	return mux
}

// Serve accepts players on ln until Shutdown. It also runs the events loop.
func (g *Gateway) Serve(ln net.Listener) error {
	g.srv = &http.Server{
		Handler:           g.Handler(),
		ReadHeaderTimeout: g.opt.HandshakeTimeout,
		ReadTimeout:       g.opt.HandshakeTimeout, // the upgrade request only: hijacked connections are ours
		MaxHeaderBytes:    8 << 10,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
	}
	go g.consumeEvents()
	err := g.srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, closes every connection with 1001 (going away,
// reconnect elsewhere) and closes the Kafka clients after flushing the
// actions already accepted.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.draining.Store(true)
	var err error
	if g.srv != nil {
		err = g.srv.Shutdown(ctx)
	}
	g.mu.RLock()
	for _, c := range g.players {
		_ = c.conn.WriteClose(1001, []byte("gateway shutting down, reconnect"))
	}
	g.mu.RUnlock()
	done := make(chan struct{})
	go func() { g.conns.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	if ferr := g.cl.Flush(ctx); ferr != nil && err == nil {
		err = fmt.Errorf("gateway: flush actions: %w", ferr)
	}
	g.cl.Close()
	g.events.Close()
	return err
}

func (g *Gateway) serveWS(w http.ResponseWriter, r *http.Request) {
	if g.draining.Load() {
		http.Error(w, "draining", http.StatusServiceUnavailable)
		return
	}
	player, err := g.opt.Auth.Authenticate(r)
	if err != nil {
		g.log.Debug("gateway: handshake refused", "remote", r.RemoteAddr, "err", err)
		http.Error(w, "unauthorized: "+err.Error(), http.StatusUnauthorized)
		return
	}
	if !protocol.ValidID(player) {
		http.Error(w, "unauthorized: invalid player id", http.StatusUnauthorized)
		return
	}
	conn, err := g.upgrader.Upgrade(w, r)
	if err != nil {
		g.log.Debug("gateway: upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	c := &client{g: g, conn: conn, player: player}
	conn.Session().Store("c", c)
	g.conns.Add(1)
	go func() {
		defer g.conns.Done()
		conn.ReadLoop()
	}()
}

// register makes c the player's connection; an older one is closed.
func (g *Gateway) register(c *client) {
	g.mu.Lock()
	old := g.players[c.player]
	g.players[c.player] = c
	g.mu.Unlock()
	if old != nil {
		_ = old.conn.WriteClose(1008, []byte("session taken over by a newer connection"))
	}
}

func (g *Gateway) joinHunt(c *client, hunt string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c.hunt != "" && c.hunt != hunt {
		delete(g.hunts[c.hunt], c)
	}
	c.hunt = hunt
	set := g.hunts[hunt]
	if set == nil {
		set = make(map[*client]struct{})
		g.hunts[hunt] = set
	}
	set[c] = struct{}{}
}

func (g *Gateway) unregister(c *client) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.players[c.player] == c {
		delete(g.players, c.player)
	}
	if set := g.hunts[c.hunt]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(g.hunts, c.hunt)
		}
	}
}

// forward sends one validated action to Kafka. The record gets its own
// buffer: the socket's read buffer is reused as soon as OnMessage returns.
func (g *Gateway) forward(c *client, m protocol.ClientMessage) {
	a := core.Action{
		Hunt: c.hunt, Player: c.player, Seq: m.Seq, Type: m.Type,
		Lat: m.Lat, Lon: m.Lon, At: m.At, TS: g.opt.Now().UnixMilli(), Gateway: g.opt.ClientID,
	}
	val, _ := json.Marshal(a)
	g.cl.Produce(context.Background(), &kgo.Record{Key: []byte(a.Hunt), Value: val}, func(_ *kgo.Record, err error) {
		if err != nil {
			g.log.Warn("gateway: action not forwarded", "player", c.player, "seq", m.Seq, "err", err)
			c.sendError(protocol.ErrUnavailable, "the action could not be queued, resend it", m.Seq)
		}
	})
}

// consumeEvents routes each event to its player, or to every player of its
// hunt connected here.
func (g *Gateway) consumeEvents() {
	ctx := context.Background()
	for {
		fetches := g.events.PollFetches(ctx)
		if fetches.IsClientClosed() {
			return
		}
		fetches.EachError(func(t string, p int32, err error) {
			g.log.Warn("gateway: events fetch error", "topic", t, "partition", p, "err", err)
		})
		fetches.EachRecord(func(rec *kgo.Record) {
			to := ""
			for _, h := range rec.Headers {
				if h.Key == kafka.HeaderTo {
					to = string(h.Value)
				}
			}
			g.mu.RLock()
			defer g.mu.RUnlock()
			if to != "" {
				if c := g.players[to]; c != nil && c.hunt == string(rec.Key) {
					c.send(rec.Value)
				}
				return
			}
			for c := range g.hunts[string(rec.Key)] {
				c.send(rec.Value)
			}
		})
	}
}

// Conns reports the number of open player connections.
func (g *Gateway) Conns() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.players)
}
