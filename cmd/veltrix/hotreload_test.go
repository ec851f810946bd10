package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/engine/client"
	"github.com/veltrix/veltrix/engine/lua"
	"github.com/veltrix/veltrix/engine/protocol"
	"github.com/veltrix/veltrix/games/treasurehunt"
	"github.com/veltrix/veltrix/games/treasurehunt/replay"
)

// copyScripts copies the treasure hunt's scripts into a temporary folder the
// test may edit.
func copyScripts(t *testing.T) string {
	t.Helper()
	src := repoPath(t, "scripts/treasurehunt")
	dst := filepath.Join(t.TempDir(), "treasurehunt")
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// lineHunt writes a hunt of n beacons 60 m apart along a meridian and
// returns its folder; the walk along it (10 m steps, 10 s apart) finds them
// one after the other.
func lineHunt(t *testing.T, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("id: line\nname: Line\nradius_m: 20\nfirst_finder_bonus: 10\nbeacons:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - id: b%02d\n    lat: %.7f\n    lon: 13.0\n    difficulty: %g\n    terrain: %g\n",
			i, 45.0+float64(i+1)*60/111195.0, 1+float64(i%5)*0.5, 1+float64(i%3))
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "line.yaml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func adminScripts(t *testing.T, addr string) lua.Status {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/scripts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var all map[string]lua.Status
	if err := json.NewDecoder(resp.Body).Decode(&all); err != nil {
		t.Fatal(err)
	}
	return all["treasurehunt"]
}

const oldRule = "local points = floor(10 * (b.difficulty or 1) + 5 * (b.terrain or 1) + 0.5)"

// TestHotReloadDuringReplay changes the scoring rule while a player walks
// the hunt through the all-in-one server: every move is answered, the
// discoveries before the swap score the old way and those after it the new
// way, each event naming the version (v) that produced it. Then broken
// versions are saved: they are refused, the admin endpoint says why, and
// the last good version keeps serving.
func TestHotReloadDuringReplay(t *testing.T) {
	scripts := copyScripts(t)
	main := filepath.Join(scripts, "main.lua")
	src, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), oldRule) {
		t.Fatalf("test premise: main.lua no longer scores with %q", oldRule)
	}
	const beacons = 60
	s := startServer(t, lineHunt(t, beacons), "games.treasurehunt.scripts="+scripts,
		"games.treasurehunt.reload_interval=50ms", "admin.listen=127.0.0.1:0")
	oldV := adminScripts(t, s.AdminAddr()).Version

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := client.Dial(ctx, s.GatewayURL(), client.Options{Player: "walker"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	type discovery struct {
		seq            uint64
		v, beacon      string
		points         int
		difficulty, tr float64
	}
	const moves = 400 // 4 km: past every beacon
	var (
		results     = map[uint64]protocol.ServerMessage{}
		versions    []string // of the results, in order
		discoveries []discovery
		firstDisc   = make(chan struct{})
		swapped     = make(chan time.Time, 1)
		done        = make(chan error, 1)
	)
	// The replay: one move every few milliseconds, each awaited, so it
	// lasts seconds and the edit lands in the middle of it.
	go func() {
		done <- func() error {
			send := func(m protocol.ClientMessage) error {
				if err := c.Send(m); err != nil {
					return err
				}
				for {
					msg, err := c.Next(ctx)
					if err != nil {
						return err
					}
					switch msg.Type {
					case protocol.TypeResult:
						if _, dup := results[msg.Seq]; dup {
							return fmt.Errorf("seq %d answered twice", msg.Seq)
						}
						results[msg.Seq] = msg
						if len(versions) > 0 && msg.Version != versions[len(versions)-1] {
							select {
							case swapped <- time.Now():
							default:
							}
						}
						versions = append(versions, msg.Version)
						if msg.Seq == m.Seq {
							return nil
						}
					case "discovery":
						var d struct {
							Beacon string `json:"beacon"`
							Points int    `json:"points"`
						}
						_ = json.Unmarshal(msg.Data, &d)
						discoveries = append(discoveries, discovery{seq: msg.Seq, v: msg.Version, beacon: d.Beacon, points: d.Points})
						if len(discoveries) == 1 {
							close(firstDisc)
						}
					}
				}
			}
			if err := send(protocol.ClientMessage{Type: protocol.TypeJoin, Hunt: "line", Seq: 1}); err != nil {
				return err
			}
			start := time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC).UnixMilli()
			for i := range moves {
				lat := 45.0 + float64(i)*10/111195.0
				m := protocol.ClientMessage{Type: protocol.TypeMove, Seq: uint64(i + 2), Lat: lat, Lon: 13.0, At: start + int64(i)*10_000}
				if err := send(m); err != nil {
					return err
				}
				time.Sleep(5 * time.Millisecond)
			}
			return nil
		}()
	}()

	// Edit the scoring rule once the walk has found a beacon.
	select {
	case <-firstDisc:
	case err := <-done:
		t.Fatalf("replay ended before any discovery: %v", err)
	case <-ctx.Done():
		t.Fatal("no discovery")
	}
	newSrc := strings.Replace(string(src), oldRule, "local points = 100 + floor(10 * (b.difficulty or 1) + 5 * (b.terrain or 1) + 0.5)", 1)
	edited := time.Now()
	if err := os.WriteFile(main, []byte(newSrc), 0o644); err != nil {
		t.Fatal(err)
	}
	var swapAt time.Time
	select {
	case swapAt = <-swapped:
	case err := <-done:
		t.Fatalf("replay ended without a version change: %v", err)
	case <-ctx.Done():
		t.Fatal("no version change")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	lag := swapAt.Sub(edited)
	t.Logf("the first answer of the new version came %v after the save", lag)
	if lag > time.Second {
		t.Errorf("the new version took %v to serve (want within 1 s)", lag)
	}

	// None lost: every action answered once, accepted.
	if len(results) != moves+1 {
		t.Fatalf("%d answers for %d actions", len(results), moves+1)
	}
	for seq := uint64(1); seq <= moves+1; seq++ {
		if r, ok := results[seq]; !ok || r.OK == nil || !*r.OK {
			t.Fatalf("seq %d: %+v", seq, r)
		}
	}
	newV := adminScripts(t, s.AdminAddr()).Version
	if newV == oldV {
		t.Fatalf("admin still reports version %s", oldV)
	}
	// One swap, between two actions: old versions, then new ones.
	swaps := 0
	for i := 1; i < len(versions); i++ {
		if versions[i] != versions[i-1] {
			swaps++
		}
	}
	if versions[0] != oldV || versions[len(versions)-1] != newV || swaps != 1 {
		t.Fatalf("versions from %s to %s with %d changes, want %s then %s", versions[0], versions[len(versions)-1], swaps, oldV, newV)
	}
	// Each discovery scored by the rule of the version it names.
	def := map[string][2]float64{}
	for i := range beacons {
		def[fmt.Sprintf("b%02d", i)] = [2]float64{1 + float64(i%5)*0.5, 1 + float64(i%3)}
	}
	before, after := 0, 0
	for _, d := range discoveries {
		base := int(math.Floor(10*def[d.beacon][0]+5*def[d.beacon][1]+0.5)) + 10
		switch d.v {
		case oldV:
			before++
		case newV:
			after++
			base += 100
		default:
			t.Fatalf("discovery of %s names version %q", d.beacon, d.v)
		}
		if d.points != base {
			t.Errorf("discovery of %s (seq %d, v %s): %d points, want %d", d.beacon, d.seq, d.v, d.points, base)
		}
		if results[d.seq].Version != d.v {
			t.Errorf("seq %d: answer v %s, discovery v %s", d.seq, results[d.seq].Version, d.v)
		}
	}
	if before == 0 || after == 0 || before+after != beacons {
		t.Fatalf("%d discoveries before the swap, %d after, want some of each and %d in all", before, after, beacons)
	}
	t.Logf("%d discoveries scored by %s, %d by %s", before, oldV, after, newV)

	// Broken versions are refused; the last good one keeps serving.
	for _, bad := range []struct{ name, src, want string }{
		{"syntax error", "function on_join(ctx, player)\n  local x = = 1\nend\n", "treasurehunt/main.lua:2: syntax error"},
		{"missing handler", "function on_join(ctx, player) end\n", "handler on_move, on_leave, on_end not defined"},
		{"fails the dry run", strings.Replace(newSrc, "player.moves = (player.moves or 0) + 1", "player.moves = player.moves + nil", 1), "dry run: move of dry-run-1: hunt line: on_move: treasurehunt/main.lua:"},
	} {
		if err := os.WriteFile(main, []byte(bad.src), 0o644); err != nil {
			t.Fatal(err)
		}
		var st lua.Status
		for st = adminScripts(t, s.AdminAddr()); !strings.Contains(st.LastError, bad.want); st = adminScripts(t, s.AdminAddr()) {
			select {
			case <-ctx.Done():
				t.Fatalf("%s: admin /scripts never reported it: %+v", bad.name, st)
			case <-time.After(20 * time.Millisecond):
			}
		}
		if st.Version != newV {
			t.Fatalf("%s: version %s running, want %s", bad.name, st.Version, newV)
		}
		t.Logf("%s refused: %s", bad.name, st.LastError)
	}
	// A new player is still served by the last good version.
	late, err := client.Dial(ctx, s.GatewayURL(), client.Options{Player: "late"})
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	if err := late.Send(protocol.ClientMessage{Type: protocol.TypeJoin, Hunt: "line", Seq: 1}); err != nil {
		t.Fatal(err)
	}
	if m := nextOf(ctx, t, late, protocol.TypeResult); m.OK == nil || !*m.OK || m.Version != newV {
		t.Fatalf("join after the broken saves: %+v", m)
	}
	b0 := def["b00"]
	if err := late.Send(protocol.ClientMessage{Type: protocol.TypeMove, Seq: 2, Lat: 45.0 + 60/111195.0, Lon: 13.0, At: time.Now().UnixMilli()}); err != nil {
		t.Fatal(err)
	}
	m := nextOf(ctx, t, late, "discovery")
	var d struct{ Points int }
	_ = json.Unmarshal(m.Data, &d)
	if want := 100 + int(math.Floor(10*b0[0]+5*b0[1]+0.5)); m.Version != newV || d.Points != want {
		t.Fatalf("discovery after the broken saves: v %s, %d points, want %s and %d", m.Version, d.Points, newV, want)
	}
}

// TestSimulateMatchesLive walks the Višnjan track through the live server
// and through `veltrix hunt simulate`: the same discoveries, points and
// scores.
func TestSimulateMatchesLive(t *testing.T) {
	walk, track := visnjanWalk(t)
	dir, hunt := importHunt(t, walk, "visnjan")

	s := startServer(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	live, err := replay.Run(ctx, replay.Options{URL: s.GatewayURL(), Hunt: hunt.ID, Player: "walker", Points: track, FirstSeq: 1})
	if err != nil {
		t.Fatal(err)
	}

	stdout, stderr, code := veltrix(t, "hunt", "simulate", "--hunt", filepath.Join(dir, "visnjan.yaml"),
		"--tracks", walk, "--players", "walker", "--scripts", repoPath(t, "scripts/treasurehunt"), "--json")
	if code != 0 {
		t.Fatalf("simulate exited %d: %s", code, stderr)
	}
	var sim treasurehunt.SimReport
	if err := json.Unmarshal([]byte(stdout), &sim); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	var got, want []string
	for _, d := range live.Discoveries {
		want = append(want, fmt.Sprintf("%s %d first=%v score=%d", d.Beacon, d.Points, d.First, d.Score))
	}
	for _, d := range sim.Discoveries {
		got = append(got, fmt.Sprintf("%s %d first=%v score=%d", d.Beacon, d.Points, d.First, d.Score))
	}
	if len(want) == 0 || strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("simulated %v\nlive      %v", got, want)
	}
	var expect []string
	for _, b := range expectedFinds(hunt, track) {
		expect = append(expect, b.ID)
	}
	var simIDs []string
	for _, d := range sim.Discoveries {
		simIDs = append(simIDs, d.Beacon)
	}
	if strings.Join(simIDs, ",") != strings.Join(expect, ",") {
		t.Fatalf("simulated %v, the track passes %v", simIDs, expect)
	}
	p := sim.Players[0]
	if p.Moves != live.Moves || p.Accepted != live.Accepted || p.Score != live.Score {
		t.Fatalf("simulated %+v, live %d moves %d accepted score %d", p, live.Moves, live.Accepted, live.Score)
	}
	if len(sim.Leaderboard) != 1 || sim.Leaderboard[0].Player != "walker" || sim.Leaderboard[0].Score != live.Score {
		t.Fatalf("leaderboard %+v", sim.Leaderboard)
	}
	t.Logf("simulated and live: %v", got)

	// The text report names the discoveries and the leaderboard.
	text, _, _ := veltrix(t, "hunt", "simulate", "--hunt", filepath.Join(dir, "visnjan.yaml"),
		"--tracks", walk, walk, "--scripts", repoPath(t, "scripts/treasurehunt"), "--end")
	for _, w := range []string{"found wpt1", "(first finder)", "leaderboard:", "winners: walk-visnjan-with-waypoints\n"} {
		if !strings.Contains(text, w) {
			t.Errorf("simulate output lacks %q:\n%s", w, text)
		}
	}
}

func TestHuntValidate(t *testing.T) {
	out, stderr, code := veltrix(t, "hunt", "validate", "--tests", repoPath(t, "scripts/treasurehunt"), repoPath(t, "configs/hunts"))
	if code != 0 || !strings.Contains(out, "ok   ") || !strings.Contains(out, "Lua tests passed") {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	bad := t.TempDir()
	scripts := copyScripts(t)
	if err := os.WriteFile(filepath.Join(scripts, "main.lua"), []byte("function on_join(ctx, p)\n  if then\nend\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hunt := filepath.Join(bad, "bad.yaml")
	if err := os.WriteFile(hunt, []byte("id: bad\nbeacons:\n  - id: a\n    lat: 45\n    lon: 13\n  - id: b\n    lat: 95\n    lon: 13\n    terrain: 7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	manifest := copyScripts(t)
	if err := os.WriteFile(filepath.Join(manifest, "manifest.yaml"), []byte("name: x\nversion: 1\nhandlers: [on_join, on_teleport]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code = veltrix(t, "hunt", "validate", scripts, hunt, manifest)
	if code == 0 {
		t.Fatalf("broken input validated:\n%s", out)
	}
	for _, w := range []string{
		"treasurehunt/main.lua:2: syntax error",
		hunt + `:6: beacons[1] (id "b"): lat 95 out of range [-90, 90]`,
		hunt + `:6: beacons[1] (id "b"): terrain 7 out of range [1, 5]`,
		`manifest.yaml: handlers: "on_teleport" is not a handler the engine calls`,
	} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}
