package app_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/veltrix/veltrix/engine/app"
	"github.com/veltrix/veltrix/engine/config"
	"github.com/veltrix/veltrix/engine/core"
	"github.com/veltrix/veltrix/engine/plugin"
	"github.com/veltrix/veltrix/engine/protocol"
	"github.com/veltrix/veltrix/engine/store"
)

// restartFixture is an engine data dir as a busy engine leaves it: 20,000
// live sessions of the treasure hunt (each joined and moved through the
// Lua rules) and 1,000,000 audit rows spread over 89 days.
type restartFixture struct {
	sessions, audit string
	// crash is a copy of both stores taken while they were open after the
	// last writes: what a machine that lost power would restart on (the
	// write-ahead logs hold what the memtables held).
	crash string
	clock *store.FakeClock
	now   time.Time
	seq   map[string]uint64 // next seq per player
}

const (
	fixtureSessions = 20_000
	fixtureAudit    = 1_000_000
)

// game loads the treasure hunt as the engine does (compiles the Lua rules,
// reads the hunts).
func game(tb testing.TB) (app.Game, core.Rules, func()) {
	tb.Helper()
	m, err := plugin.Load("veltrix.games", "treasurehunt", config.Decoder(map[string]any{
		"scripts": repoPath(tb, "scripts/treasurehunt"), "hunts": repoPath(tb, "configs/hunts"),
	}), plugin.Context{BaseDir: repoPath(tb, "."), DataDir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	g := m.(app.Game)
	rules, err := g.NewRules()
	if err != nil {
		tb.Fatal(err)
	}
	return g, rules, func() {
		if c, ok := rules.(interface{ Close() }); ok {
			c.Close()
		}
		if c, ok := m.(plugin.CleanerUpper); ok {
			_ = c.Cleanup()
		}
	}
}

// benchCatalog serves one game's hunts.
type benchCatalog struct {
	g     app.Game
	rules core.Rules
	hunts map[string]*core.Hunt
}

func newCatalog(g app.Game, rules core.Rules) *benchCatalog {
	c := &benchCatalog{g: g, rules: rules, hunts: map[string]*core.Hunt{}}
	for _, h := range g.Hunts() {
		h.Game = "treasurehunt"
		c.hunts[h.ID] = &h
	}
	return c
}

func (c *benchCatalog) Hunt(id string) (*core.Hunt, bool) { h, ok := c.hunts[id]; return h, ok }
func (c *benchCatalog) Rules(string) (core.Rules, bool)   { return c.rules, true }

// apply carries a Ready out as the runner does (audit, then one session
// batch with the consumed offsets).
func apply(tb testing.TB, s *store.Sessions, a *store.Audit, rd core.Ready) {
	applyOffsets(tb, s, a, rd, true)
}

// applyOffsets is apply, storing the offsets or not: a fixture for a real
// broker must not claim offsets that broker never had.
func applyOffsets(tb testing.TB, s *store.Sessions, a *store.Audit, rd core.Ready, offsets bool) {
	tb.Helper()
	rows := make([]store.Row, len(rd.Audit))
	for i, r := range rd.Audit {
		rows[i] = store.Row{Hunt: r.Hunt, Player: r.Player, TS: r.TS, Partition: r.Partition, Offset: r.Offset, Index: r.Index, Kind: r.Kind, Data: r.Data}
	}
	if err := a.Append(rows); err != nil {
		tb.Fatal(err)
	}
	ws := make([]store.Write, 0, len(rd.Writes)+len(rd.Offsets))
	for _, w := range rd.Writes {
		ws = append(ws, store.Write{Key: w.Key, Value: w.Value, ExpiresAt: w.ExpiresAt, Delete: w.Delete})
	}
	for p, off := range rd.Offsets {
		if !offsets {
			break
		}
		ws = append(ws, store.Write{Key: binary.BigEndian.AppendUint32([]byte("o/veltrix.actions/"), uint32(p)),
			Value: binary.BigEndian.AppendUint64(nil, uint64(off))})
	}
	if err := s.Commit(ws); err != nil {
		tb.Fatal(err)
	}
}

func buildFixture(tb testing.TB) *restartFixture { return buildFixtureOffsets(tb, true) }

func buildFixtureOffsets(tb testing.TB, offsets bool) *restartFixture {
	tb.Helper()
	dir := tb.TempDir()
	now := time.Date(2031, 6, 1, 12, 0, 0, 0, time.UTC)
	f := &restartFixture{sessions: filepath.Join(dir, "sessions"), audit: filepath.Join(dir, "audit"),
		clock: store.NewFakeClock(now), now: now, seq: map[string]uint64{}}
	s, a, err := store.OpenStores(store.SessionsOptions{Path: f.sessions, Clock: f.clock}, store.AuditOptions{Path: f.audit, Clock: f.clock})
	if err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	// 1,000,000 audit rows over the last 89 days, 2,000 players.
	data := []byte(`{"at":1937735000000,"lat":38.705851,"lon":-9.144803,"ok":true,"seq":1234,"type":"move"}`)
	rows := make([]store.Row, 0, 10_000)
	span := (89 * 24 * time.Hour).Milliseconds()
	for i := range fixtureAudit {
		rows = append(rows, store.Row{Hunt: "harbour", Player: fmt.Sprintf("old-%04d", i%2000), TS: now.UnixMilli() - span + int64(i)*(span/fixtureAudit),
			Partition: 1, Offset: int64(i), Kind: "action", Data: data})
		if len(rows) == cap(rows) {
			if err := a.Append(rows); err != nil {
				tb.Fatal(err)
			}
			rows = rows[:0]
		}
	}
	// 20,000 sessions through the rules: each player joins and moves.
	g, rules, done := game(tb)
	defer done()
	c := core.New(core.Config{Catalog: newCatalog(g, rules), State: s, Version: func(string) string { return g.Version() }})
	offset := int64(fixtureAudit)
	for i := range fixtureSessions {
		p := fmt.Sprintf("p-%05d", i)
		for _, act := range []core.Action{
			{Hunt: "harbour", Player: p, Seq: 1, Type: "join", TS: now.UnixMilli()},
			{Hunt: "harbour", Player: p, Seq: 2, Type: "move", Lat: 38.7059, Lon: -9.1448, At: now.UnixMilli(), TS: now.UnixMilli()},
		} {
			if err := c.Step(core.Source{Partition: 0, Offset: offset}, act); err != nil {
				tb.Fatal(err)
			}
			offset++
		}
		f.seq[p] = 3
		if i%500 == 499 {
			applyOffsets(tb, s, a, c.Ready(), offsets)
			c.Advance()
		}
	}
	f.crash = filepath.Join(dir, "crash")
	for _, d := range []string{f.sessions, f.audit} {
		if err := os.CopyFS(filepath.Join(f.crash, filepath.Base(d)), os.DirFS(d)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := a.Close(); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("fixture: %d sessions, %d audit rows and those of the %d actions played, built in %v",
		fixtureSessions, fixtureAudit, 2*fixtureSessions, time.Since(start).Round(time.Millisecond))
	return f
}

// BenchmarkRestartToFirstAction measures an engine restart on a data dir of
// 20,000 live sessions and 1,000,000 audit rows, up to its first action
// served: open both stores (in parallel, as the engine does), load the
// game (compile the Lua rules, read the hunts), and step one move of a
// player who played before the restart, reading her session from RocksDB,
// writing the audit rows and committing the session batch. Kafka is not
// part of it (see TestRestartServesFromStore for the all-in-one figure).
// The stores are closed as the engine closes them (a clean stop).
func BenchmarkRestartToFirstAction(b *testing.B) {
	f := buildFixture(b)
	b.Run("clean-stop", func(b *testing.B) { restartBench(b, f, func() string { return filepath.Dir(f.sessions) }) })
	// After a crash the write-ahead logs are replayed (and flushed) at open:
	// each run starts from a fresh copy of the crash image.
	b.Run("after-crash", func(b *testing.B) {
		b.Logf("write-ahead logs to replay: %s", walSizes(b, f.crash))
		restartBench(b, f, func() string {
			dir := filepath.Join(b.TempDir(), "data")
			if err := os.CopyFS(dir, os.DirFS(f.crash)); err != nil {
				b.Fatal(err)
			}
			return dir
		})
	})
}

// walSizes reports the write-ahead log bytes of each store under dir.
func walSizes(tb testing.TB, dir string) string {
	tb.Helper()
	var out string
	for _, st := range []string{"sessions", "audit"} {
		logs, _ := filepath.Glob(filepath.Join(dir, st, "*.log"))
		var n int64
		for _, l := range logs {
			if fi, err := os.Stat(l); err == nil {
				n += fi.Size()
			}
		}
		out += fmt.Sprintf("%s %.1f MiB ", st, float64(n)/(1<<20))
	}
	return out
}

func restartBench(b *testing.B, f *restartFixture, dataDir func() string) {
	var openT, gameT, actT time.Duration
	players := 0
	for b.Loop() {
		b.StopTimer()
		dir := dataDir()
		b.StartTimer()
		t0 := time.Now()
		s, a, err := store.OpenStores(store.SessionsOptions{Path: filepath.Join(dir, "sessions"), Clock: f.clock},
			store.AuditOptions{Path: filepath.Join(dir, "audit"), Clock: f.clock})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		g, rules, done := game(b)
		c := core.New(core.Config{Catalog: newCatalog(g, rules), State: s, Version: func(string) string { return g.Version() }})
		t2 := time.Now()
		p := fmt.Sprintf("p-%05d", (players*7919)%fixtureSessions)
		players++
		seq := f.seq[p]
		if err := c.Step(core.Source{Partition: 0, Offset: int64(10_000_000 + players)},
			core.Action{Hunt: "harbour", Player: p, Seq: seq, Type: "move", Lat: 38.70586, Lon: -9.14481, At: f.now.UnixMilli() + int64(seq)*60_000, TS: f.now.UnixMilli()}); err != nil {
			b.Fatal(err)
		}
		rd := c.Ready()
		apply(b, s, a, rd)
		t3 := time.Now()

		b.StopTimer()
		openT, gameT, actT = openT+t1.Sub(t0), gameT+t2.Sub(t1), actT+t3.Sub(t2)
		// The answer must be an accepted move of a known player: her session
		// came from the store (a stranger's move is rejected as not_joined).
		var ans struct {
			Type string `json:"type"`
			OK   *bool  `json:"ok"`
			Seq  uint64 `json:"seq"`
		}
		if len(rd.Events) == 0 || json.Unmarshal(rd.Events[0].Payload, &ans) != nil || ans.Type != "result" || ans.OK == nil || !*ans.OK || ans.Seq != seq {
			b.Fatalf("first action after the restart: %s", rd.Events[0].Payload)
		}
		if dir == filepath.Dir(f.sessions) {
			f.seq[p]++ // the clean data dir keeps what was applied
		}
		done()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		if err := a.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(float64(openT.Microseconds())/n/1000, "open-ms")
	b.ReportMetric(float64(gameT.Microseconds())/n/1000, "rules-ms")
	b.ReportMetric(float64(actT.Microseconds())/n/1000, "first-action-ms")
	b.ReportMetric(float64((openT+gameT+actT).Microseconds())/n/1000, "restart-ms")
}

// BenchmarkAppRestartToFirstAction is the same restart for the whole
// all-in-one process: app.Start on the data dir (embedded broker restarting
// on its log, topics checked, stores opened, rules loaded, consumer group
// joined, gateway listening), then a player of before the restart connects
// over WebSocket and joins: the time until her answer arrives.
func BenchmarkAppRestartToFirstAction(b *testing.B) {
	f := buildFixtureOffsets(b, false)
	data, brokerDir := filepath.Dir(f.sessions), b.TempDir()
	players := 0
	for b.Loop() {
		a, err := start(b, loadConfig(b, data, brokerDir), app.WithClock(f.clock))
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		id := fmt.Sprintf("p-%05d", (players*7919)%fixtureSessions)
		players++
		p := dial(ctx, b, a, id)
		p.seq = f.seq[id] - 1
		f.seq[id]++
		if r := p.send(ctx, protocol.ClientMessage{Type: protocol.TypeJoin, Hunt: "harbour"}); r.OK == nil || !*r.OK {
			b.Fatalf("join of %s after the restart: %+v", id, r)
		}
		b.StopTimer()
		cancel()
		p.c.Close()
		if got := score(b, a.Sessions().Get, id); got <= 0 {
			b.Fatalf("%s's score after the restart is %d: her session was not read from the store", id, got)
		}
		if err := a.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
