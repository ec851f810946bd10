// Package treasurehunt is the bundled game: players walk to beacons placed at
// real coordinates and score when they come within the hunt's radius. The
// rules are Lua scripts (scripts/treasurehunt); hunts are YAML definitions
// (see huntdef), written by hand or imported from GPX waypoints.
package treasurehunt

import (
	"errors"
	"fmt"
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
	// Budget bounds one rules handler call. Default 100ms.
	Budget time.Duration `koanf:"budget"`

	prog  *lua.Program
	hunts []core.Hunt
}

// Provision compiles the rules and loads the hunts.
func (g *Game) Provision(ctx plugin.Context) error {
	if g.ScriptsDir == "" {
		g.ScriptsDir = "scripts/treasurehunt"
	}
	if g.HuntsDir == "" {
		g.HuntsDir = "configs/hunts"
	}
	if g.Budget == 0 {
		g.Budget = 100 * time.Millisecond
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(ctx.BaseDir, p)
	}
	var err error
	if g.prog, err = lua.Load(lua.Options{Dir: abs(g.ScriptsDir), Budget: g.Budget}); err != nil {
		return fmt.Errorf("scripts: %w", err)
	}
	defs, err := huntdef.LoadDir(abs(g.HuntsDir))
	if err != nil {
		return fmt.Errorf("hunts: %w", err)
	}
	for _, d := range defs {
		h, err := Hunt(d)
		if err != nil {
			return err
		}
		g.hunts = append(g.hunts, h)
	}
	return nil
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
	if g.Budget < 0 {
		return errors.New("budget: must not be negative")
	}
	if len(g.hunts) == 0 {
		return fmt.Errorf("hunts: no hunt definition in %s", g.HuntsDir)
	}
	return nil
}

// Hunts implements app.Game.
func (g *Game) Hunts() []core.Hunt { return g.hunts }

// NewRules implements app.Game.
func (g *Game) NewRules() (core.Rules, error) { return lua.NewRuntime(g.prog) }

// Version implements app.Game.
func (g *Game) Version() string { return g.prog.Version() }

// Interface guards.
var (
	_ app.Game           = (*Game)(nil)
	_ plugin.Provisioner = (*Game)(nil)
	_ plugin.Validator   = (*Game)(nil)
)
