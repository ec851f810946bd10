package app_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/veltrix/veltrix/engine/app"
	"github.com/veltrix/veltrix/engine/client"
	"github.com/veltrix/veltrix/engine/config"
	"github.com/veltrix/veltrix/engine/protocol"
	"github.com/veltrix/veltrix/engine/store"
	_ "github.com/veltrix/veltrix/plugins/standard"
)

// repoPath is rel from the repository root.
func repoPath(t testing.TB, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// loadConfig is configs/dev.yaml on free ports with its state in data, the
// broker's log in its own directory (so tests can fill or break the data
// dir without breaking the broker), and sets on top.
func loadConfig(t testing.TB, data, brokerDir string, sets ...string) *config.Config {
	t.Helper()
	sets = append([]string{
		"data_dir=" + data,
		"gateway.listen=127.0.0.1:0",
		"admin.listen=", // dev.yaml's fixed port would clash between tests
		"broker.dir=" + brokerDir,
		"games.treasurehunt.scripts=" + repoPath(t, "scripts/treasurehunt"),
		"games.treasurehunt.hunts=" + repoPath(t, "configs/hunts"),
		"log_level=warn",
	}, sets...)
	cfg, err := config.Load(repoPath(t, "configs/dev.yaml"), nil, sets)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// start starts the all-in-one server (embedded broker, engine, gateway).
func start(t testing.TB, cfg *config.Config, opts ...app.Option) (*app.App, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.Start(ctx, cfg, app.Roles{Gateway: true, Engine: true}, log, opts...)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	return a, nil
}

func mustStart(t testing.TB, cfg *config.Config, opts ...app.Option) *app.App {
	t.Helper()
	a, err := start(t, cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// player is one WebSocket client playing the harbour hunt.
type player struct {
	t   testing.TB
	c   *client.Client
	id  string
	seq uint64
	at  int64 // fix time of the next move, unix ms
}

func dial(ctx context.Context, t testing.TB, a *app.App, id string) *player {
	t.Helper()
	c, err := client.Dial(ctx, a.GatewayURL(), client.Options{Player: id})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &player{t: t, c: c, id: id, at: time.Now().UnixMilli()}
}

// send sends one action and waits for its result.
func (p *player) send(ctx context.Context, m protocol.ClientMessage) protocol.ServerMessage {
	p.t.Helper()
	p.seq++
	m.Seq = p.seq
	if err := p.c.Send(m); err != nil {
		p.t.Fatal(err)
	}
	for {
		r, err := p.c.Next(ctx)
		if err != nil {
			p.t.Fatalf("player %s: waiting for the result of seq %d: %v", p.id, m.Seq, err)
		}
		if r.Type == protocol.TypeResult && r.Seq == m.Seq {
			return r
		}
	}
}

// join joins the harbour hunt and wants it accepted.
func (p *player) join(ctx context.Context) {
	p.t.Helper()
	if r := p.send(ctx, protocol.ClientMessage{Type: protocol.TypeJoin, Hunt: "harbour"}); r.OK == nil || !*r.OK {
		p.t.Fatalf("player %s: join: %+v", p.id, r)
	}
}

// move walks to the first beacon; the fix times are a minute apart, well
// under the speed limit.
func (p *player) move(ctx context.Context) protocol.ServerMessage {
	p.t.Helper()
	p.at += 60_000
	return p.send(ctx, protocol.ClientMessage{Type: protocol.TypeMove, Lat: 38.70585, Lon: -9.14480, At: p.at})
}

// physically reports whether key is on disk in the sessions store at path,
// expired or not: a read-only open (no lock: the engine may hold it) with a
// clock at 1970, for which nothing has expired.
func physically(t testing.TB, path string, key []byte) bool {
	t.Helper()
	s, err := store.OpenSessions(store.SessionsOptions{Path: path, ReadOnly: true, Clock: store.NewFakeClock(time.UnixMilli(1))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, ok, err := s.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// auditOnDisk is physically for the audit store: every row of hunt on disk.
func auditOnDisk(t testing.TB, path, hunt string) []store.Row {
	t.Helper()
	a, err := store.OpenAudit(store.AuditOptions{Path: path, ReadOnly: true, Clock: store.NewFakeClock(time.UnixMilli(1))})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var rows []store.Row
	if err := a.Query(store.Query{Hunt: hunt}, func(r store.Row) bool { rows = append(rows, r); return true }); err != nil {
		t.Fatal(err)
	}
	return rows
}

// waitFor polls cond: for conditions no event announces (a background
// compaction, a consumer catching up).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
