package lua

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/engine/core"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func scoring(points int) string {
	return `function on_join(ctx, p) p.points = ` + itoa(points) + ` end
function on_move(ctx, p) ctx.emit(p.id, "scored", {points = p.points}) end
`
}

// newLive loads the scripts in dir and runs them live from a source that
// tests publish to.
func newLive(t *testing.T, dir string) (*Program, *Source, *Live) {
	t.Helper()
	p, err := Load(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	src := NewSource(p)
	l, err := NewLive(src)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return p, src, l
}

func TestLiveSwitchesBetweenActions(t *testing.T) {
	dir := scriptDir(t, map[string]string{"main.lua": scoring(1)})
	p1, src, l := newLive(t, dir)
	call := func() string {
		res, err := l.Call(&core.Call{Handler: "on_join", Action: core.Action{Hunt: "h", Player: "p"}})
		if err != nil {
			t.Fatal(err)
		}
		return string(res.Session)
	}
	if v := l.Version(); v != p1.Version() || call() != `{"id":"p","points":1}` {
		t.Fatalf("version %s", v)
	}
	writeFile(t, dir, "main.lua", scoring(2))
	p2, err := Load(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	src.Publish(p2)
	// Pinned: the calls of an action run the version Version named...
	if got := call(); got != `{"id":"p","points":1}` {
		t.Fatalf("switched inside an action: %s", got)
	}
	// ...and the next Version switches.
	if v := l.Version(); v != p2.Version() || call() != `{"id":"p","points":2}` {
		t.Fatalf("after the switch: version %s", v)
	}
}

func TestReloaderRefusesBrokenVersions(t *testing.T) {
	dir := scriptDir(t, map[string]string{
		"main.lua":      scoring(1),
		"manifest.yaml": "name: game\nversion: 1.0.0\nhandlers: [on_join, on_move]\n",
	})
	p1, _, err := Validate(Options{Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := NewSource(p1)
	dry := func(p *Program) error {
		rt, err := NewRuntime(p)
		if err != nil {
			return err
		}
		defer rt.Close()
		_, err = rt.Call(&core.Call{Handler: "on_move", Action: core.Action{Hunt: "h", Player: "p"}})
		return err
	}
	r := NewReloader(src, ReloaderOptions{Load: Options{Dir: dir}, DryRun: dry, Log: quiet})
	if err := r.Check(); err != nil {
		t.Fatalf("nothing changed: %v", err)
	}
	for name, c := range map[string]struct{ file, src, want string }{
		"syntax":     {"main.lua", "function on_join(ctx, p)\n  p.x = = 1\nend\n", "game/main.lua:2: syntax error near '='"},
		"load":       {"main.lua", "local x = nil\nx.y = 1\n", "game/main.lua:2: load: attempt to index a non-table object(nil)"},
		"handler":    {"main.lua", "function on_join(ctx, p) end\n", "handler on_move not defined (the manifest requires it)"},
		"dry run":    {"main.lua", "function on_join(ctx, p) end\nfunction on_move(ctx, p)\n  nope()\nend\n", "dry run: game/main.lua:3: on_move: attempt to call a non-function object"},
		"manifest":   {"manifest.yaml", "name: game\nversion: 1.0.0\nhandlers: [on_fly]\n", `manifest.yaml: handlers: "on_fly" is not a handler the engine calls`},
		"yaml":       {"manifest.yaml", "name: game\nversoin: 2\n", `game/manifest.yaml: line 2: unknown field "versoin"`},
		"infinite":   {"main.lua", "while true do end\n", "load: instruction budget exceeded"},
		"no scripts": {"main.lua", "", ""},
	} {
		t.Run(name, func(t *testing.T) {
			if c.want == "" {
				return
			}
			good := map[string][]byte{}
			for _, f := range []string{"main.lua", "manifest.yaml"} {
				good[f], _ = os.ReadFile(filepath.Join(dir, f))
			}
			defer func() {
				for f, b := range good {
					writeFile(t, dir, f, string(b))
				}
			}()
			writeFile(t, dir, c.file, c.src)
			err := r.Check()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
			st := r.Status()
			if st.Version != p1.Version() || !strings.Contains(st.LastError, c.want) || src.Program() != p1 {
				t.Fatalf("status %+v", st)
			}
		})
	}
	// A fixed version is published and clears the error.
	writeFile(t, dir, "main.lua", scoring(3))
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	st := r.Status()
	if src.Program() == p1 || st.Version != src.Program().Version() || st.LastError != "" || st.Reloads != 1 || st.Failures != 7 {
		t.Fatalf("status %+v", st)
	}
}

// TestReloaderWatches: an edit is published without anyone asking, well
// within a second.
func TestReloaderWatches(t *testing.T) {
	dir := scriptDir(t, map[string]string{"main.lua": scoring(1)})
	p1, err := Load(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	src := NewSource(p1)
	r := NewReloader(src, ReloaderOptions{Load: Options{Dir: dir}, Interval: time.Hour, Log: quiet})
	r.Start()
	defer r.Close()
	start := time.Now()
	writeFile(t, dir, "main.lua", scoring(2))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for src.Program() == p1 {
		select {
		case <-ctx.Done():
			t.Fatal("the edit was not picked up (file-system events)")
		case <-time.After(5 * time.Millisecond):
		}
	}
	t.Logf("published %v after the write", time.Since(start))
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v", d)
	}
	if !r.Status().Watching {
		t.Error("status: not watching")
	}
}

// Scripts saved and then restored publish a new Program of the version that
// already runs: no switch happens (and none is logged as "X to X").
func TestLiveIgnoresRepublishedSameVersion(t *testing.T) {
	dir := scriptDir(t, map[string]string{"main.lua": `function on_join(ctx, p) end`})
	p1, src, l := newLive(t, dir)
	var switches []string
	l.OnSwitch = func(from, to string) { switches = append(switches, from+">"+to) }
	rt := l.Runtime()
	p2, err := Load(Options{Dir: dir})
	if err != nil || p2 == p1 || p2.Version() != p1.Version() {
		t.Fatalf("premise: a second load of the same files: %v", err)
	}
	src.Publish(p2)
	if _, err := l.Call(&core.Call{Handler: "on_join"}); err != nil {
		t.Fatal(err)
	}
	if len(switches) != 0 || l.Runtime() != rt {
		t.Fatalf("switches %v (runtime replaced: %v), want none", switches, l.Runtime() != rt)
	}
	other := scriptDir(t, map[string]string{"main.lua": `function on_join(ctx, p) local x = 1 end`})
	p3, err := Load(Options{Dir: other})
	if err != nil {
		t.Fatal(err)
	}
	src.Publish(p3)
	if _, err := l.Call(&core.Call{Handler: "on_join"}); err != nil {
		t.Fatal(err)
	}
	if len(switches) != 1 || switches[0] != p1.Version()+">"+p3.Version() {
		t.Fatalf("switches %v, want one to %s", switches, p3.Version())
	}
}
