// Package app assembles a Veltrix process from its configuration: the broker
// plugin, the engine tier (stores, games, runner) and the gateway tier (auth,
// WebSocket server), in any combination. `veltrix run` starts both tiers and
// the embedded broker in one process; `veltrix engine` and `veltrix gateway`
// start one tier each.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/engine/admin"
	"github.com/veltrix/veltrix/engine/config"
	"github.com/veltrix/veltrix/engine/core"
	"github.com/veltrix/veltrix/engine/gateway"
	"github.com/veltrix/veltrix/engine/kafka"
	"github.com/veltrix/veltrix/engine/plugin"
	"github.com/veltrix/veltrix/engine/runner"
	"github.com/veltrix/veltrix/engine/store"
)

// Game is what a game plugin ("veltrix.games.<name>") gives the engine.
type Game interface {
	// Hunts lists the hunts the game serves, with their static definitions.
	Hunts() []core.Hunt
	// NewRules returns rules for one engine worker (used from one goroutine).
	NewRules() (core.Rules, error)
	// Version names the rules' current version; events carry it.
	Version() string
}

// Roles chooses the tiers a process runs.
type Roles struct {
	Gateway bool
	Engine  bool
}

// App is a running process. Close stops it.
type App struct {
	cfg  *config.Config
	log  *slog.Logger
	errc chan error

	cleanups []func() error // in start order; run in reverse

	broker    kafka.Broker
	admin     *admin.Server
	adminAddr string
	gw        *gateway.Gateway
	gwAddr    string
	sessions  *store.Sessions
	audit     *store.Audit
	runner    *runner.Runner
	clock     store.Clock    // see WithClock
	exporter  *auditExporter // nil without an audit sink
	cancel    context.CancelFunc
	engineWG  sync.WaitGroup
	once      sync.Once
	closeErr  error
}

// Start starts the roles' parts. On error everything started is stopped.
func Start(ctx context.Context, cfg *config.Config, roles Roles, log *slog.Logger, opts ...Option) (_ *App, err error) {
	if !roles.Gateway && !roles.Engine {
		return nil, errors.New("app: no role to run")
	}
	if log == nil {
		log = slog.Default()
	}
	a := &App{cfg: cfg, log: log, errc: make(chan error, 2), clock: store.SystemClock{}}
	for _, o := range opts {
		o(a)
	}
	defer func() {
		if err != nil {
			_ = a.Close(context.Background())
		}
	}()
	base, _ := os.Getwd()
	pctx := plugin.Context{BaseDir: base, DataDir: cfg.DataDir, Log: log}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("app: data dir: %w", err)
	}

	bm, err := plugin.Load("veltrix.broker", cfg.Broker.Plugin, config.Decoder(cfg.Broker.Config), pctx)
	if err != nil {
		return nil, fmt.Errorf("config: broker: %w", err)
	}
	a.addCleanup(bm)
	if cfg.Broker.Plugin == "embedded" {
		a.cleanups = append(a.cleanups, func() error { a.log.Info("broker: embedded broker stopping"); return nil })
	}
	b, ok := bm.(kafka.Broker)
	if !ok {
		return nil, fmt.Errorf("config: broker: plugin %q is not a broker", cfg.Broker.Plugin)
	}
	a.broker = b
	if err := a.ensureTopics(ctx); err != nil {
		return nil, err
	}

	if cfg.Admin.Listen != "" {
		a.admin = admin.New(log)
		ln, err := net.Listen("tcp", cfg.Admin.Listen)
		if err != nil {
			return nil, fmt.Errorf("admin: listen on %s (admin.listen): %w", cfg.Admin.Listen, err)
		}
		a.adminAddr = ln.Addr().String()
		go func() {
			if err := a.admin.Serve(ln); err != nil {
				a.errc <- fmt.Errorf("admin: %w", err)
			}
		}()
		a.cleanups = append(a.cleanups, func() error { return a.admin.Shutdown(context.Background()) })
	}
	if roles.Engine {
		if err := a.startEngine(pctx); err != nil {
			return nil, err
		}
	}
	if roles.Gateway {
		if err := a.startGateway(pctx); err != nil {
			return nil, err
		}
	}
	if a.admin != nil {
		a.admin.SetReady(true)
	}
	return a, nil
}

func (a *App) addCleanup(m any) {
	if c, ok := m.(plugin.CleanerUpper); ok {
		a.cleanups = append(a.cleanups, c.Cleanup)
	}
}

func (a *App) ensureTopics(ctx context.Context) error {
	seeds := a.broker.Seeds()
	cl, err := kgo.NewClient(kafka.ClientOpts(seeds, "veltrix-admin", kafka.Batching{}, a.log)...)
	if err != nil {
		return fmt.Errorf("app: kafka client: %w", err)
	}
	defer cl.Close()
	if err := kafka.WaitReachable(ctx, cl, seeds); err != nil {
		return err
	}
	return kafka.EnsureTopics(ctx, cl, int32(a.cfg.Topics.Partitions), int16(a.cfg.Topics.Replication),
		a.cfg.Topics.Actions, a.cfg.Topics.Events)
}

func (a *App) startEngine(pctx plugin.Context) error {
	cfg := a.cfg
	var err error
	// Both stores open side by side; see engine_admin.go.
	if err := a.openStores(); err != nil {
		return err
	}
	// Idle stores never compact on their own (RocksDB 7.8 defaults periodic
	// compaction to 30 days with a filter set): trigger it so expired rows go.
	cctx, stopCompactors := context.WithCancel(context.Background())
	a.cleanups = append(a.cleanups, func() error { stopCompactors(); return nil })
	if err := a.sessions.StartCompactor(cctx, cfg.Engine.Sessions.CompactEvery); err != nil {
		return fmt.Errorf("engine: sessions compactor: %w", err)
	}
	if err := a.audit.StartCompactor(cctx, cfg.Engine.Audit.CompactEvery); err != nil {
		return fmt.Errorf("engine: audit compactor: %w", err)
	}

	cat := &catalog{hunts: map[string]*core.Hunt{}, rules: map[string]core.Rules{}, versions: map[string]func() string{}, status: map[string]func() any{}}
	names := make([]string, 0, len(cfg.Games))
	for name := range cfg.Games {
		names = append(names, name)
	}
	sort.Strings(names)
	games := make(map[string]Game, len(names))
	for _, name := range names {
		gm, err := plugin.Load("veltrix.games", name, config.Decoder(cfg.Games[name]), pctx)
		if err != nil {
			return fmt.Errorf("config: games.%s: %w", name, err)
		}
		a.addCleanup(gm)
		g, ok := gm.(Game)
		if !ok {
			return fmt.Errorf("config: games.%s: plugin is not a game", name)
		}
		games[name] = g
		if st, ok := gm.(interface{ AdminStatus() any }); ok {
			cat.status[name] = st.AdminStatus
		}
		for _, h := range g.Hunts() {
			if prev, dup := cat.hunts[h.ID]; dup {
				return fmt.Errorf("games.%s: hunt %q is also defined by game %s", name, h.ID, prev.Game)
			}
			h.Game = name
			cat.hunts[h.ID] = &h
		}
		a.log.Info("engine: game loaded", "game", name, "version", g.Version(), "hunts", len(g.Hunts()))
	}
	// Each worker has its own rules (a Lua state is used from one
	// goroutine); hunts and the scripts' status are shared.
	workers := make([]runner.Worker, cfg.Engine.Workers)
	for w := range workers {
		wcat := &catalog{hunts: cat.hunts, rules: map[string]core.Rules{}, versions: map[string]func() string{}, status: cat.status}
		for _, name := range names {
			g := games[name]
			rules, err := g.NewRules()
			if err != nil {
				return fmt.Errorf("games.%s: rules: %w", name, err)
			}
			if c, ok := rules.(interface{ Close() }); ok {
				a.cleanups = append(a.cleanups, func() error { c.Close(); return nil })
			}
			wcat.rules[name] = rules
			// Events carry the version of the rules that ran them: rules that
			// switch versions (hot reload) name theirs before each action.
			wcat.versions[name] = g.Version
			if v, ok := rules.(interface{ Version() string }); ok {
				wcat.versions[name] = v.Version
			}
		}
		workers[w] = runner.Worker{Catalog: wcat, Version: wcat.version}
	}

	var observe func(runner.BatchStats)
	if a.admin != nil {
		observe = batchMetrics(a.admin.Registry())
	}
	a.runner, err = runner.New(runner.Config{
		Seeds: a.broker.Seeds(), Batching: kafka.BatchingOf(a.broker), ClientID: cfg.Engine.ClientID, Group: cfg.Engine.Group, InstanceID: cfg.Engine.InstanceID,
		Actions: cfg.Topics.Actions, Events: cfg.Topics.Events,
		Workers: workers, Sessions: a.sessions, Audit: a.audit, StoreName: cfg.Engine.Sessions.Path,
		SessionTTL: cfg.Engine.Sessions.TTL, Log: a.log, Observe: observe,
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.engineWG.Add(1)
	go func() {
		defer a.engineWG.Done()
		if err := a.runner.Run(ctx); err != nil {
			a.log.Error("engine stopped", "err", err)
			a.errc <- fmt.Errorf("engine: %w", err)
		}
	}()
	// The runner must stop (and its last batch be written) before the stores close.
	a.cleanups = append(a.cleanups, func() error {
		cancel()
		a.engineWG.Wait()
		a.log.Info("engine: stopped, its last batch written and published")
		return nil
	})
	if err := a.startAuditSink(pctx); err != nil {
		return err
	}
	if a.admin != nil {
		a.registerEngineAdmin()
		a.admin.HandleFunc("GET /scripts", cat.serveScripts)
	}
	return nil
}

func (a *App) startGateway(pctx plugin.Context) error {
	cfg := a.cfg
	am, err := plugin.Load("veltrix.auth", cfg.Gateway.Auth.Plugin, config.Decoder(cfg.Gateway.Auth.Config), pctx)
	if err != nil {
		return fmt.Errorf("config: gateway.auth: %w", err)
	}
	a.addCleanup(am)
	auth, ok := am.(gateway.Authenticator)
	if !ok {
		return fmt.Errorf("config: gateway.auth: plugin %q is not an authenticator", cfg.Gateway.Auth.Plugin)
	}
	a.gw, err = gateway.New(gateway.Options{
		Seeds: a.broker.Seeds(), Batching: kafka.BatchingOf(a.broker), ClientID: cfg.Gateway.ClientID,
		Actions: cfg.Topics.Actions, Events: cfg.Topics.Events, Auth: auth, Log: a.log,
		MaxFrameBytes: cfg.Gateway.MaxFrameBytes, WriteTimeout: cfg.Gateway.WriteTimeout,
		QueueLimit: cfg.Gateway.QueueLimit, IdleTimeout: cfg.Gateway.IdleTimeout,
		HandshakeTimeout: cfg.Gateway.HandshakeTimeout, Now: a.clock.Now,
		ReadBufferBytes: cfg.Gateway.ReadBufferBytes, SendBufferBytes: cfg.Gateway.SendBufferBytes,
		PingInterval: cfg.Gateway.PingInterval,
		MaxConns:     cfg.Gateway.MaxConns, MaxConnsPerIP: cfg.Gateway.MaxConnsPerIP,
		MessageRate: cfg.Gateway.MessageRate, MessageBurst: cfg.Gateway.MessageBurst,
		HandshakeRate: cfg.Gateway.HandshakeRate, HandshakeBurst: cfg.Gateway.HandshakeBurst,
		AllowedOrigins: cfg.Gateway.AllowedOrigins, DrainTimeout: cfg.Gateway.DrainTimeout,
		ResumeSecret: []byte(cfg.Gateway.ResumeSecret), ResumeTTL: cfg.Gateway.ResumeTTL,
		HistoryWindow: cfg.Gateway.HistoryWindow, HistoryBytes: cfg.Gateway.HistoryBytes,
		Metrics: a.adminRegistry(),
	})
	if err != nil {
		return err
	}
	if a.admin != nil {
		a.admin.AddCheck("gateway", a.gw.Ready)
	}
	ln, err := net.Listen("tcp", cfg.Gateway.Listen)
	if err != nil {
		return fmt.Errorf("gateway: listen on %s (gateway.listen): %w", cfg.Gateway.Listen, err)
	}
	a.gwAddr = ln.Addr().String()
	go func() {
		if err := a.gw.Serve(ln); err != nil {
			a.errc <- fmt.Errorf("gateway: %w", err)
		}
	}()
	return nil
}

// adminRegistry is where the tiers register metrics (nil without admin).
func (a *App) adminRegistry() prometheus.Registerer {
	if a.admin == nil {
		return nil
	}
	return a.admin.Registry()
}

// GatewayURL is where players connect, e.g. ws://127.0.0.1:8080/ws.
func (a *App) GatewayURL() string { return "ws://" + a.gwAddr + "/ws" }

// Admin returns the admin endpoint (nil when admin.listen is empty).
func (a *App) Admin() *admin.Server { return a.admin }

// AdminAddr is the admin endpoint's address (empty when disabled).
func (a *App) AdminAddr() string { return a.adminAddr }

// Sessions returns the engine's session store (nil without the engine role).
func (a *App) Sessions() *store.Sessions { return a.sessions }

// Audit returns the engine's audit store (nil without the engine role).
func (a *App) Audit() *store.Audit { return a.audit }

// Runner returns the engine loop (nil without the engine role).
func (a *App) Runner() *runner.Runner { return a.runner }

// Seeds returns the broker addresses in use.
func (a *App) Seeds() []string { return a.broker.Seeds() }

// Err reports a tier that stopped on its own.
func (a *App) Err() <-chan error { return a.errc }

// Close stops the process in order: the gateway drains and flushes the
// actions it accepted, the engine finishes and writes its current batch,
// then the stores and the broker close.
func (a *App) Close(ctx context.Context) error {
	a.once.Do(func() {
		if a.admin != nil {
			a.admin.SetReady(false)
		}
		var errs []error
		if a.gw != nil {
			// The gateway bounds its drain by gateway.drain_timeout.
			sctx, cancel := context.WithTimeout(ctx, a.cfg.Gateway.DrainTimeout+time.Second)
			errs = append(errs, a.gw.Shutdown(sctx))
			cancel()
		}
		for i := len(a.cleanups) - 1; i >= 0; i-- {
			errs = append(errs, a.cleanups[i]())
		}
		a.closeErr = errors.Join(errs...)
	})
	return a.closeErr
}

// catalog serves the engine's hunts and rules.
type catalog struct {
	hunts    map[string]*core.Hunt
	rules    map[string]core.Rules
	versions map[string]func() string
	status   map[string]func() any // games' script status (GET /scripts, scripts_admin.go)
}

func (c *catalog) Hunt(id string) (*core.Hunt, bool) { h, ok := c.hunts[id]; return h, ok }
func (c *catalog) Rules(game string) (core.Rules, bool) {
	r, ok := c.rules[game]
	return r, ok
}
func (c *catalog) version(game string) string {
	if v, ok := c.versions[game]; ok {
		return v()
	}
	return ""
}
