// Package treasurehunt is the bundled game: players walk to beacons placed at
// real coordinates and score when they come within the hunt's radius. The
// rules are Lua scripts (scripts/treasurehunt); hunts are YAML definitions
// (see huntdef), written by hand or imported from GPX waypoints.
//
// The scripts are hot-reloaded: an edited script is compiled, checked (the
// manifest's handlers are defined, a dry run of a short game passes) and
// swapped in between two actions; a version that fails the checks is
// refused and the running one stays (see engine/lua, reload.go).
package treasurehunt

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/veltrix/veltrix/engine/app"
	"github.com/veltrix/veltrix/engine/core"
	"github.com/veltrix/veltrix/engine/lua"
	"github.com/veltrix/veltrix/engine/plugin"
	"github.com/veltrix/veltrix/games/treasurehunt/huntdef"
)

func init() {
	plugin.Register(plugin.Info{ID: "veltrix.games.treasurehunt", New: func() any { return new(Game) }})
}

// Game is the treasure hunt's game module.
type Game struct {
	// Scripts is the folder of the Lua rules. Default scripts/treasurehunt.
	ScriptsDir string `koanf:"scripts"`
	// Hunts is a folder of hunt definitions (*.yaml). Default configs/hunts.
	HuntsDir string `koanf:"hunts"`
	// MaxInstructions is the instruction budget of one rules handler call.
	// Default 200000.
	MaxInstructions int64 `koanf:"max_instructions"`
	// MaxMemoryMB bounds the large allocations of one call. Default 16.
	MaxMemoryMB int `koanf:"max_memory_mb"`
	// Budget is the wall-clock time one call may take: a backstop behind
	// the instruction budget. Default 500ms.
	Budget time.Duration `koanf:"budget"`
	// HotReload watches the scripts folder and swaps in checked new
	// versions. Default true.
	HotReload *bool `koanf:"hot_reload"`
	// ReloadInterval is how often the folder is checked (file-system
	// events wake it sooner). Default 250ms.
	ReloadInterval time.Duration `koanf:"reload_interval"`

	defs     []*huntdef.Hunt
	hunts    []core.Hunt
	src      *lua.Source
	reloader *lua.Reloader
	log      *slog.Logger
}

// Provision loads the hunts, compiles and checks the rules, and starts
// watching the scripts.
func (g *Game) Provision(ctx plugin.Context) error {
	if g.ScriptsDir == "" {
		g.ScriptsDir = "scripts/treasurehunt"
	}
	if g.HuntsDir == "" {
		g.HuntsDir = "configs/hunts"
	}
	if g.Budget == 0 {
		g.Budget = lua.DefaultBudget
	}
	if g.MaxInstructions < 0 || g.MaxMemoryMB < 0 || g.Budget < 0 || g.ReloadInterval < 0 {
		return errors.New("max_instructions, max_memory_mb, budget and reload_interval must not be negative")
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(ctx.BaseDir, p)
	}
	g.log = ctx.Log
	if g.log == nil {
		g.log = slog.Default()
	}
	g.log = g.log.With("game", "treasurehunt")
	defs, err := huntdef.LoadDir(abs(g.HuntsDir))
	if err != nil {
		return fmt.Errorf("hunts: %w", err)
	}
	g.defs = defs
	for _, d := range defs {
		h, err := Hunt(d)
		if err != nil {
			return err
		}
		g.hunts = append(g.hunts, h)
	}
	opts := g.luaOptions(abs(g.ScriptsDir))
	prog, _, err := lua.Validate(opts, g.dryRun)
	if err != nil {
		return fmt.Errorf("scripts: %w", err)
	}
	g.src = lua.NewSource(prog)
	g.reloader = lua.NewReloader(g.src, lua.ReloaderOptions{
		Load: opts, DryRun: g.dryRun, Interval: g.ReloadInterval, Log: g.log,
	})
	if g.HotReload == nil || *g.HotReload {
		g.reloader.Start()
	}
	return nil
}

func (g *Game) luaOptions(dir string) lua.Options {
	return lua.Options{
		Dir: dir, Budget: g.Budget, MaxInstructions: g.MaxInstructions,
		MaxMemoryBytes: int64(g.MaxMemoryMB) << 20,
		Log:            func(msg string) { g.log.Info("script: " + msg) },
	}
}

// dryRun is the check a new version of the scripts must pass: a short game
// on the first hunt served (or a sample hunt).
func (g *Game) dryRun(p *lua.Program) error {
	var h *huntdef.Hunt
	if len(g.defs) > 0 {
		h = g.defs[0]
	}
	return DryRun(p, h)
}

// Hunt turns a definition into what the engine serves.
func Hunt(d *huntdef.Hunt) (core.Hunt, error) {
	def, err := d.JSON()
	if err != nil {
		return core.Hunt{}, fmt.Errorf("hunt %s: %w", d.ID, err)
	}
	return core.Hunt{ID: d.ID, Game: "treasurehunt", Def: def, EndsAt: d.EndsAt}, nil
}

// Validate implements plugin.Validator.
func (g *Game) Validate() error {
	if len(g.hunts) == 0 {
		return fmt.Errorf("hunts: no hunt definition in %s", g.HuntsDir)
	}
	return nil
}

// Cleanup stops watching the scripts.
func (g *Game) Cleanup() error {
	if g.reloader != nil {
		return g.reloader.Close()
	}
	return nil
}

// Hunts implements app.Game.
func (g *Game) Hunts() []core.Hunt { return g.hunts }

// NewRules implements app.Game: rules that follow the hot reloads, switching
// between two actions (lua.Live).
func (g *Game) NewRules() (core.Rules, error) {
	l, err := lua.NewLive(g.src)
	if err != nil {
		return nil, err
	}
	l.OnError = func(p *lua.Program, err error) {
		g.log.Error("scripts: cannot switch to the new version, the running one stays", "version", p.Version(), "err", err)
	}
	l.OnSwitch = func(from, to string) {
		g.log.Info("scripts: engine switched version", "from", from, "to", to)
	}
	return l, nil
}

// Version implements app.Game: the version published last (a rules
// instance adopts it before its next action).
func (g *Game) Version() string { return g.src.Program().Version() }

// AdminStatus reports the scripts' version, last reload and last refused
// version, for the admin endpoint (GET /scripts).
func (g *Game) AdminStatus() any { return g.reloader.Status() }

// Reloader gives tests and tools the scripts' reloader.
func (g *Game) Reloader() *lua.Reloader { return g.reloader }

// Interface guards.
var (
	_ app.Game                       = (*Game)(nil)
	_ plugin.Provisioner             = (*Game)(nil)
	_ plugin.Validator               = (*Game)(nil)
	_ plugin.CleanerUpper            = (*Game)(nil)
	_ interface{ AdminStatus() any } = (*Game)(nil)
)
