package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"

	"github.com/veltrix/veltrix/games/treasurehunt/gpx"
	"github.com/veltrix/veltrix/games/treasurehunt/huntdef"
	"github.com/veltrix/veltrix/games/treasurehunt/replay"
)

const huntUsage = `usage:
  veltrix hunt import --gpx FILE [--out HUNT.yaml] [--id ID] [--name NAME] [--radius M]
  veltrix hunt validate [--hunts DIR] [--tests] PATH...
  veltrix hunt simulate --hunt HUNT --tracks A.gpx [B.gpx...] [--scripts DIR] [--players a,b] [--end] [--json]

import turns GPX waypoints (GPX 1.0/1.1, Groundspeak caches) into a hunt
definition; validate checks scripts and hunts (and runs the Lua tests with
--tests); simulate plays tracks through the engine's code offline.
veltrix hunt import --help (or validate, simulate) lists each one's flags.
`

func huntCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "validate":
			return huntValidateCmd(args[1:], stdout, stderr)
		case "simulate":
			return huntSimulateCmd(args[1:], stdout, stderr)
		}
	}
	if len(args) == 0 || args[0] != "import" {
		fmt.Fprint(stderr, huntUsage)
		return errors.New("hunt: want import, validate or simulate")
	}
	fs := flag.NewFlagSet("veltrix hunt import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("gpx", "", "GPX file with waypoints (GPX 1.0 or 1.1, Groundspeak caches welcome)")
	out := fs.String("out", "", "write the hunt YAML here (default: standard output)")
	id := fs.String("id", "", "hunt id (default: from the file name)")
	name := fs.String("name", "", "hunt name (default: the GPX name or the file name)")
	radius := fs.Float64("radius", 0, "discovery radius in metres (default 30)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *in == "" {
		return errors.New("hunt import: --gpx FILE is required")
	}
	if *radius < 0 || math.IsNaN(*radius) {
		return fmt.Errorf("hunt import: --radius %v: want a positive number of metres", *radius)
	}
	f, err := gpx.ParseFile(*in)
	if err != nil {
		return err
	}
	if len(f.Waypoints) == 0 {
		return fmt.Errorf("hunt import: %s: no waypoints (<wpt>) to turn into beacons", *in)
	}
	base := strings.TrimSuffix(filepath.Base(*in), filepath.Ext(*in))
	if *id == "" {
		*id = huntdef.Slug(base)
	}
	if *name == "" {
		*name = f.Name
		if *name == "" {
			*name = base
		}
	}
	h, err := huntdef.FromGPX(f, *id, *name)
	if err != nil {
		return fmt.Errorf("hunt import: %s: %w", *in, err)
	}
	if *radius > 0 {
		h.RadiusM = *radius
	}
	if err := h.Validate(); err != nil {
		return fmt.Errorf("hunt import: %s: %w", *in, err)
	}
	w := stdout
	if *out != "" {
		file, err := os.Create(*out)
		if err != nil {
			return fmt.Errorf("hunt import: %w", err)
		}
		defer file.Close()
		w = file
	}
	if err := h.Write(w); err != nil {
		return fmt.Errorf("hunt import: write: %w", err)
	}
	if *out != "" {
		fmt.Fprintf(stderr, "hunt %q: %d beacons from %s written to %s\n", h.ID, len(h.Beacons), *in, *out)
	}
	return nil
}

func replayCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("veltrix replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("gpx", "", "GPX file with a track (<trk>) to walk")
	url := fs.String("url", "ws://127.0.0.1:8080/ws", "gateway URL")
	hunt := fs.String("hunt", "harbour", "hunt id to join")
	speed := fs.Float64("speed", 1, "pace: 1 = recorded timing, 10 = ten times faster, 0 = as fast as answered")
	player := fs.String("player", "", "player id (default: assigned by the gateway)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" {
		return errors.New("replay: --gpx TRACK is required")
	}
	if *speed < 0 {
		return errors.New("replay: --speed must be 0 or more")
	}
	f, err := gpx.ParseFile(*in)
	if err != nil {
		return err
	}
	pts := f.TrackPoints()
	if len(pts) == 0 {
		return fmt.Errorf("replay: %s: no track points (<trkpt>) to walk", *in)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	last := -1
	rep, err := replay.Run(ctx, replay.Options{
		URL: *url, Hunt: *hunt, Player: *player, Points: pts, Speed: *speed,
		Progress: func(done, total int) {
			if pct := done * 100 / total; pct/10 != last/10 {
				last = pct
				fmt.Fprintf(stderr, "\rreplay: %3d%% (%d/%d moves)", pct, done, total)
			}
		},
	})
	if last >= 0 {
		fmt.Fprintln(stderr) // end the progress line
	}
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(stdout, "player %s in hunt %s: %d moves, %d accepted", rep.Player, rep.Hunt, rep.Moves, rep.Accepted)
	if len(rep.Rejected) > 0 {
		reasons := make([]string, 0, len(rep.Rejected))
		for r, n := range rep.Rejected {
			reasons = append(reasons, fmt.Sprintf("%s=%d", r, n))
		}
		sort.Strings(reasons)
		fmt.Fprintf(stdout, ", rejected: %s", strings.Join(reasons, " "))
	}
	fmt.Fprintf(stdout, " (%s)\n", rep.Duration.Round(1e6))
	for _, d := range rep.Discoveries {
		first := ""
		if d.First {
			first = " (first finder)"
		}
		fmt.Fprintf(stdout, "  found %-24s %-30s +%d%s\n", d.Beacon, d.Name, d.Points, first)
	}
	fmt.Fprintf(stdout, "discovered %d beacons, score %d\n", len(rep.Discoveries), rep.Score)
	if n := rep.Rejected["time_not_monotonic"]; n > 0 {
		fmt.Fprintf(stderr, "replay: %d moves were older than player %s's last accepted fix (replayed this track before?): use another --player\n", n, rep.Player)
	}
	if n := rep.Rejected["duplicate"]; n > 0 {
		fmt.Fprintf(stderr, "replay: %d actions had seqs the engine had already applied for player %s: they were not applied again\n", n, rep.Player)
	}
	return nil
}
