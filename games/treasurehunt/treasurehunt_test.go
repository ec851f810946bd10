package treasurehunt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/engine/lua"
	"github.com/veltrix/veltrix/engine/plugin"
	"github.com/veltrix/veltrix/games/treasurehunt/gpx"
	"github.com/veltrix/veltrix/games/treasurehunt/huntdef"
)

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestProvisionChecksTheScripts(t *testing.T) {
	scripts := copyDir(t, "../../scripts/treasurehunt")
	off := false
	g := &Game{ScriptsDir: scripts, HuntsDir: "../../configs/hunts", HotReload: &off, MaxInstructions: 50_000}
	if err := g.Provision(plugin.Context{}); err != nil {
		t.Fatal(err)
	}
	defer g.Cleanup()
	st := g.reloader.Status()
	if st.Watching || st.Version != g.Version() || st.ManifestVersion != "1.0.0" {
		t.Fatalf("status %+v", st)
	}
	if g.src.Program().Options().MaxInstructions != 50_000 {
		t.Error("max_instructions not applied")
	}
	rules, err := g.NewRules()
	if err != nil {
		t.Fatal(err)
	}
	defer rules.(interface{ Close() }).Close()
	if v := rules.(interface{ Version() string }).Version(); v != g.Version() {
		t.Errorf("rules version %s, game %s", v, g.Version())
	}

	// A game whose scripts do not pass the checks does not start.
	if err := os.WriteFile(filepath.Join(scripts, "main.lua"), []byte("function on_join(ctx, p)\nend\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := &Game{ScriptsDir: scripts, HuntsDir: "../../configs/hunts", HotReload: &off}
	err = bad.Provision(plugin.Context{})
	if err == nil || !strings.Contains(err.Error(), "handler on_move, on_leave, on_end not defined") {
		t.Fatalf("err = %v", err)
	}
}

func TestDryRunCatchesRuleErrors(t *testing.T) {
	scripts := copyDir(t, "../../scripts/treasurehunt")
	main := filepath.Join(scripts, "main.lua")
	src, _ := os.ReadFile(main)
	// Fails only on a discovery: the dry run walks to a beacon.
	broken := strings.Replace(string(src), "player.score = player.score + points", "player.score = player.score + points.bonus", 1)
	if broken == string(src) {
		t.Fatal("test premise: scoring line not found")
	}
	if err := os.WriteFile(main, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	off := false
	g := &Game{ScriptsDir: scripts, HuntsDir: "../../configs/hunts", HotReload: &off}
	err := g.Provision(plugin.Context{})
	if err == nil || !strings.Contains(err.Error(), "dry run: move of dry-run-1") || !strings.Contains(err.Error(), "treasurehunt/main.lua:") {
		t.Fatalf("err = %v", err)
	}
}

func TestSimulateInterleavesByTime(t *testing.T) {
	h := &huntdef.Hunt{ID: "h", RadiusM: 30, MaxSpeedMPS: 15, FirstFinderBonus: 10,
		Beacons: []huntdef.Beacon{{ID: "a", Name: "A", Lat: 45, Lon: 13, Difficulty: 1, Terrain: 1}}}
	p, err := lua.Load(lua.Options{Dir: "../../scripts/treasurehunt"})
	if err != nil {
		t.Fatal(err)
	}
	at := func(sec int64) []gpx.Point {
		return []gpx.Point{{Lat: 45, Lon: 13, Time: time.Unix(1_700_000_000+sec, 0)}}
	}
	rep, err := Simulate(SimOptions{Program: p, Hunt: h, End: true, Tracks: []Track{
		{Player: "late", Points: at(100)},
		{Player: "early", Points: at(50)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Discoveries) != 2 || rep.Discoveries[0].Player != "early" || !rep.Discoveries[0].First || rep.Discoveries[1].First {
		t.Fatalf("discoveries %+v", rep.Discoveries)
	}
	if len(rep.Winners) != 1 || rep.Winners[0] != "early" || len(rep.RuleErrors) != 0 {
		t.Fatalf("report %+v", rep)
	}
}
