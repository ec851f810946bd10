package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/veltrix/veltrix/engine/lua"
	"github.com/veltrix/veltrix/games/treasurehunt"
	"github.com/veltrix/veltrix/games/treasurehunt/gpx"
	"github.com/veltrix/veltrix/games/treasurehunt/huntdef"
)

// Designer tools: `veltrix hunt validate` and `veltrix hunt simulate`. Both
// run offline: no broker, no store, no network.

const validateUsage = `usage: veltrix hunt validate [--hunts DIR] [--tests] PATH...

PATH is a scripts folder (Lua rules and manifest.yaml), a folder of hunt
definitions (*.yaml), or one hunt definition. Scripts are compiled and loaded
(syntax and load errors with file:line), the manifest is checked and its
handlers must be defined, and a dry run plays a short game on the first hunt
of --hunts (or a sample hunt). Hunts are checked field by field, beacons
named by file:line. --tests also runs the scripts' *_test.lua. The exit
status is 1 if anything is wrong.
`

func huntValidateCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("veltrix hunt validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, validateUsage); fs.PrintDefaults() }
	huntsDir := fs.String("hunts", "", "hunts folder whose first hunt the scripts' dry run plays (default: a sample hunt)")
	tests := fs.Bool("tests", false, "also run the scripts' Lua tests (*_test.lua)")
	paths, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		fs.Usage()
		return errors.New("hunt validate: give a scripts folder, a hunts folder or a hunt file")
	}
	var sample *huntdef.Hunt
	if *huntsDir != "" {
		defs, err := huntdef.LoadDir(*huntsDir)
		if err != nil {
			return fmt.Errorf("hunt validate: --hunts: %w", err)
		}
		if len(defs) > 0 {
			sample = defs[0]
		}
	}
	problems := 0
	for _, path := range paths {
		var lines []string
		var summary string
		switch kind := pathKind(path); kind {
		case "scripts":
			summary, lines = validateScripts(path, sample, *tests)
		case "hunts":
			summary, lines = validateHuntsDir(path)
		case "hunt":
			summary, lines = validateHuntFile(path)
		default:
			lines = []string{fmt.Sprintf("%s: %s", path, kind)}
		}
		if len(lines) == 0 {
			fmt.Fprintf(stdout, "ok   %s: %s\n", path, summary)
			continue
		}
		problems += len(lines)
		fmt.Fprintf(stdout, "FAIL %s\n", path)
		for _, l := range lines {
			fmt.Fprintf(stdout, "  %s\n", l)
		}
	}
	if problems > 0 {
		return fmt.Errorf("hunt validate: %d problem(s)", problems)
	}
	return nil
}

// parseInterspersed parses flags placed before, between or after the
// positional arguments, and returns the latter.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// pathKind tells a scripts folder, a hunts folder and a hunt file apart, or
// returns why the path is none of them.
func pathKind(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return err.Error()
	}
	if !st.IsDir() {
		if ext := strings.ToLower(filepath.Ext(path)); ext == ".yaml" || ext == ".yml" {
			return "hunt"
		}
		return "not a folder or a .yaml hunt file"
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return err.Error()
	}
	for _, e := range entries {
		if n := e.Name(); strings.HasSuffix(n, ".lua") || n == lua.ManifestFile {
			return "scripts"
		}
	}
	for _, e := range entries {
		if ext := strings.ToLower(filepath.Ext(e.Name())); ext == ".yaml" || ext == ".yml" {
			return "hunts"
		}
	}
	return "no Lua scripts and no hunt definitions in this folder"
}

func validateScripts(dir string, sample *huntdef.Hunt, tests bool) (string, []string) {
	dryRun := func(p *lua.Program) error { return treasurehunt.DryRun(p, sample) }
	p, m, err := lua.Validate(lua.Options{Dir: dir}, dryRun)
	if err != nil {
		return "", []string{err.Error()}
	}
	rt, err := lua.NewRuntime(p)
	if err != nil {
		return "", []string{err.Error()}
	}
	var handlers []string
	for _, h := range lua.Handlers {
		if rt.HasHandler(h) {
			handlers = append(handlers, h)
		}
	}
	rt.Close()
	files := "files"
	if len(p.Files()) == 1 {
		files = "file"
	}
	summary := fmt.Sprintf("version %s, %d %s, handlers %s", p.Version(), len(p.Files()), files, strings.Join(handlers, " "))
	if m != nil {
		summary += fmt.Sprintf(", manifest %s %s", m.Name, m.Version)
	} else {
		summary += ", no manifest"
	}
	if sample != nil {
		summary += ", dry run on hunt " + sample.ID
	} else {
		summary += ", dry run on a sample hunt"
	}
	if !tests {
		return summary, nil
	}
	results, err := lua.RunTests(lua.TestOptions{Options: lua.Options{Dir: dir}, Game: "treasurehunt"})
	if err != nil {
		return "", []string{err.Error()}
	}
	var failed []string
	for _, r := range results {
		if !r.Passed() {
			name := r.Name
			if name == "" {
				name = r.File
			}
			failed = append(failed, fmt.Sprintf("%s: %s", name, r.Err))
		}
	}
	return summary + fmt.Sprintf(", %d Lua tests passed", len(results)), failed
}

func validateHuntsDir(dir string) (string, []string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", []string{err.Error()}
	}
	var lines []string
	ids := map[string]string{}
	n := 0
	for _, e := range entries {
		name := e.Name()
		ext := strings.ToLower(filepath.Ext(name))
		if e.IsDir() || strings.HasPrefix(name, ".") || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		path := filepath.Join(dir, name)
		h, problems := checkHunt(path)
		lines = append(lines, problems...)
		if h == nil {
			continue
		}
		if prev, dup := ids[h.ID]; dup {
			lines = append(lines, fmt.Sprintf("%s: hunt id %q is also defined in %s", path, h.ID, prev))
			continue
		}
		ids[h.ID] = path
		n++
	}
	if n == 1 {
		return "1 hunt", lines
	}
	return fmt.Sprintf("%d hunts", n), lines
}

func validateHuntFile(path string) (string, []string) {
	h, problems := checkHunt(path)
	if h == nil {
		return "", problems
	}
	return fmt.Sprintf("hunt %s, %d beacons, radius %g m", h.ID, len(h.Beacons), h.RadiusM), nil
}

var (
	beaconRef = regexp.MustCompile(`^beacons\[(\d+)\]`)
	fieldRef  = regexp.MustCompile(`^([a-z_]+)\b`)
	yamlLine  = regexp.MustCompile(`^(?:huntdef: )?(?:[^:]*: )?line (\d+): (.*)$`)
)

// checkHunt loads one hunt and turns its problems into "file:line: problem"
// lines (the line of the beacon or field concerned, when it can be found).
func checkHunt(path string) (*huntdef.Hunt, []string) {
	h, err := huntdef.Load(path)
	if err == nil {
		return h, nil
	}
	var ve *huntdef.ValidationError
	if !errors.As(err, &ve) {
		msg := strings.TrimPrefix(err.Error(), "huntdef: ")
		msg = strings.TrimPrefix(msg, path+": ")
		var out []string
		for _, part := range strings.Split(msg, "; ") {
			if m := yamlLine.FindStringSubmatch(part); m != nil {
				out = append(out, fmt.Sprintf("%s:%s: %s", path, m[1], m[2]))
			} else {
				out = append(out, fmt.Sprintf("%s: %s", path, part))
			}
		}
		return nil, out
	}
	data, _ := os.ReadFile(path)
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	var out []string
	for _, p := range ve.Problems {
		line := 0
		if m := beaconRef.FindStringSubmatch(p); m != nil {
			i, _ := strconv.Atoi(m[1])
			line = beaconLine(&root, i)
		} else if m := fieldRef.FindStringSubmatch(p); m != nil {
			line = keyLine(&root, m[1])
		}
		if line > 0 {
			out = append(out, fmt.Sprintf("%s:%d: %s", path, line, p))
		} else {
			out = append(out, fmt.Sprintf("%s: %s", path, p))
		}
	}
	return nil, out
}

// topMap returns the top-level mapping of a YAML document.
func topMap(root *yaml.Node) *yaml.Node {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	return n
}

func keyLine(root *yaml.Node, key string) int {
	m := topMap(root)
	if m == nil {
		return 0
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i].Line
		}
	}
	return 0
}

func beaconLine(root *yaml.Node, i int) int {
	m := topMap(root)
	if m == nil {
		return 0
	}
	for k := 0; k+1 < len(m.Content); k += 2 {
		if m.Content[k].Value == "beacons" {
			seq := m.Content[k+1]
			if seq.Kind == yaml.SequenceNode && i < len(seq.Content) {
				return seq.Content[i].Line
			}
		}
	}
	return 0
}

const simulateUsage = `usage: veltrix hunt simulate --hunt HUNT --tracks A.gpx [B.gpx...] [--scripts DIR] [--players a,b] [--end] [--json]

Plays players along GPX tracks through the same engine code as the server
(engine/core and the Lua rules) in memory, with no broker, store or network,
and prints the discoveries and the leaderboard. HUNT is a hunt file or the id
of a hunt in --hunts. Each track is one player (named after its file, or by
--players); their moves are interleaved by fix time, which is also the
engine's time for each action.
`

func huntSimulateCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("veltrix hunt simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, simulateUsage); fs.PrintDefaults() }
	huntArg := fs.String("hunt", "", "hunt file (.yaml) or hunt id in --hunts")
	huntsDir := fs.String("hunts", "configs/hunts", "hunts folder, for --hunt ID")
	scripts := fs.String("scripts", "scripts/treasurehunt", "folder of the Lua rules")
	playersArg := fs.String("players", "", "player ids, comma-separated, one per track (default: from the file names)")
	end := fs.Bool("end", false, "end the hunt after the last move (on_end runs; the winners are printed)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	var tracks multi
	fs.Var(&tracks, "tracks", "GPX tracks, one per player (the files may follow the flag: --tracks a.gpx b.gpx)")
	if err := fs.Parse(splitTracks(args)); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("hunt simulate: unexpected argument %q", fs.Arg(0))
	}
	if *huntArg == "" || len(tracks) == 0 {
		fs.Usage()
		return errors.New("hunt simulate: --hunt and --tracks are required")
	}
	hunt, err := findHunt(*huntArg, *huntsDir)
	if err != nil {
		return fmt.Errorf("hunt simulate: %w", err)
	}
	var names []string
	if *playersArg != "" {
		names = strings.Split(*playersArg, ",")
		if len(names) != len(tracks) {
			return fmt.Errorf("hunt simulate: %d players for %d tracks", len(names), len(tracks))
		}
	}
	var ts []treasurehunt.Track
	seen := map[string]int{}
	for i, path := range tracks {
		f, err := gpx.ParseFile(path)
		if err != nil {
			return err
		}
		pts := f.TrackPoints()
		if len(pts) == 0 {
			return fmt.Errorf("hunt simulate: %s: no track points (<trkpt>) to walk", path)
		}
		name := ""
		if names != nil {
			name = strings.TrimSpace(names[i])
		} else {
			name = huntdef.Slug(strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)))
		}
		if seen[name]++; seen[name] > 1 {
			name = fmt.Sprintf("%s-%d", name, seen[name])
		}
		ts = append(ts, treasurehunt.Track{Player: name, Points: pts})
	}
	p, _, err := lua.Validate(lua.Options{Dir: *scripts}, nil)
	if err != nil {
		return fmt.Errorf("hunt simulate: scripts: %w", err)
	}
	rep, err := treasurehunt.Simulate(treasurehunt.SimOptions{Program: p, Hunt: hunt, Tracks: ts, End: *end})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printSimulation(stdout, rep, hunt)
	return nil
}

// splitTracks lets --tracks take several files: "--tracks a b --end"
// becomes "--tracks a --tracks b --end".
func splitTracks(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a != "--tracks" && a != "-tracks" {
			out = append(out, a)
			continue
		}
		n := 0
		for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			i, n = i+1, n+1
			out = append(out, "--tracks", args[i])
		}
		if n == 0 {
			out = append(out, a) // no file follows: let flag say so
		}
	}
	return out
}

func findHunt(arg, dir string) (*huntdef.Hunt, error) {
	if ext := strings.ToLower(filepath.Ext(arg)); ext == ".yaml" || ext == ".yml" {
		return huntdef.Load(arg)
	}
	defs, err := huntdef.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, d := range defs {
		if d.ID == arg {
			return d, nil
		}
		ids = append(ids, d.ID)
	}
	return nil, fmt.Errorf("no hunt %q in %s (have: %s)", arg, dir, strings.Join(ids, ", "))
}

func printSimulation(w io.Writer, rep *treasurehunt.SimReport, h *huntdef.Hunt) {
	fmt.Fprintf(w, "hunt %s (%d beacons, radius %g m), rules version %s: %d players, %d actions\n",
		rep.Hunt, len(h.Beacons), h.RadiusM, rep.Version, len(rep.Players), rep.Actions)
	width := 16
	for _, p := range rep.Players {
		width = max(width, len(p.Player))
	}
	for _, d := range rep.Discoveries {
		first := ""
		if d.First {
			first = " (first finder)"
		}
		fmt.Fprintf(w, "  %s  %-*s found %-20s %-28s +%d%s, score %d\n",
			d.At.Format("2006-01-02 15:04:05"), width, d.Player, d.Beacon, d.Name, d.Points, first, d.Score)
	}
	fmt.Fprintln(w, "players:")
	for _, p := range rep.Players {
		fmt.Fprintf(w, "  %-*s %d moves, %d accepted", width, p.Player, p.Moves, p.Accepted)
		if len(p.Rejected) > 0 {
			var rs []string
			for r, n := range p.Rejected {
				rs = append(rs, fmt.Sprintf("%s=%d", r, n))
			}
			sort.Strings(rs)
			fmt.Fprintf(w, ", rejected: %s", strings.Join(rs, " "))
		}
		fmt.Fprintf(w, "; discovered %d beacons, score %d\n", p.Found, p.Score)
	}
	fmt.Fprintln(w, "leaderboard:")
	for i, r := range rep.Leaderboard {
		fmt.Fprintf(w, "  %2d. %-*s %d\n", i+1, width, r.Player, r.Score)
	}
	if len(rep.Winners) > 0 {
		fmt.Fprintf(w, "winners: %s\n", strings.Join(rep.Winners, ", "))
	}
	for _, e := range rep.RuleErrors {
		fmt.Fprintf(w, "rules error: %s\n", e)
	}
}
