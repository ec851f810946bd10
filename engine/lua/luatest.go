package lua

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/veltrix/veltrix/engine/core"
)

// Lua tests of a game's rules: the files *_test.lua of the scripts folder.
//
// Each test file runs in its own sandboxed Lua state (the game's scripts are
// not loaded into it) and defines global functions whose names start with
// "test"; they run in the order they are defined, each getting the assertion
// helper t (also a global). game.new{...} starts a game: the game's scripts
// in their own runtime, behind engine/core with the state in memory, so a
// test drives the rules exactly as players through the server would. See
// docs/lua-api.md ("Testing rules") for the API.

// TestOptions configures RunTests.
type TestOptions struct {
	Options        // the game's scripts (Dir) and limits
	Game    string // the game the test hunts belong to (default: the folder name)
	// Run, if set, selects tests by name.
	Run *regexp.Regexp
}

// TestResult is the outcome of one test function, or of a test file that
// failed to load (Name empty).
type TestResult struct {
	File     string // chunk name, e.g. treasurehunt/scoring_test.lua
	Name     string
	Err      string // "" when the test passed; else "file:line: message"
	Duration time.Duration
}

// Passed reports whether the test passed.
func (t TestResult) Passed() bool { return t.Err == "" }

// TestFiles lists the *_test.lua files of dir.
func TestFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), "_test.lua") {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out, nil
}

// RunTests runs the tests of o.Dir. The error is for a game that does not
// load (then no test can run); failing tests are in the results.
func RunTests(o TestOptions) ([]TestResult, error) {
	prog, err := Load(o.Options)
	if err != nil {
		return nil, err
	}
	if o.Game == "" {
		o.Game = filepath.Base(filepath.Clean(o.Dir))
	}
	files, err := TestFiles(o.Dir)
	if err != nil {
		return nil, err
	}
	var results []TestResult
	for _, f := range files {
		results = append(results, runTestFile(prog, o, f)...)
	}
	return results, nil
}

// Test files get generous limits: they loop over many actions.
const (
	testInstructions = 10_000_000
	testMemory       = 512 << 20
	testTime         = 60 * time.Second
)

func runTestFile(game *Program, o TestOptions, file string) []TestResult {
	chunk := filepath.Base(filepath.Clean(o.Dir)) + "/" + file
	fail := func(err error) []TestResult { return []TestResult{{File: chunk, Err: err.Error()}} }
	src, err := os.ReadFile(filepath.Join(o.Dir, file))
	if err != nil {
		return fail(err)
	}
	proto, err := compile(src, chunk)
	if err != nil {
		return fail(err)
	}
	rig := &testRig{game: game, gameName: o.Game}
	opts := game.opts
	opts.MaxInstructions, opts.MaxMemoryBytes, opts.Budget = testInstructions/10, testMemory/10, testTime/10
	tp := &Program{opts: opts, files: []script{{name: chunk, proto: proto}}, version: "test", setup: rig.install}
	rt, err := NewRuntime(tp)
	if err != nil {
		return fail(err)
	}
	defer rt.Close()
	rig.rt = rt

	type test struct {
		name string
		fn   *glua.LFunction
	}
	var tests []test
	g := rt.realTable(rt.env)
	for k, v := g.Next(glua.LNil); k != glua.LNil; k, v = g.Next(k) {
		name, ok1 := k.(glua.LString)
		fn, ok2 := v.(*glua.LFunction)
		if ok1 && ok2 && !fn.IsG && strings.HasPrefix(string(name), "test") && (o.Run == nil || o.Run.MatchString(string(name))) {
			tests = append(tests, test{string(name), fn})
		}
	}
	slices.SortFunc(tests, func(a, b test) int { return a.fn.Proto.LineDefined - b.fn.Proto.LineDefined })
	if len(tests) == 0 && o.Run == nil {
		return fail(fmt.Errorf("%s: no test functions (global functions named test...)", chunk))
	}
	var out []TestResult
	for _, tc := range tests {
		start := time.Now()
		err := rt.runTest(tc.fn, rig.t)
		rig.cleanup()
		res := TestResult{File: chunk, Name: tc.name, Duration: time.Since(start)}
		if err != nil {
			res.Err = err.Error()
		}
		out = append(out, res)
	}
	return out
}

// runTest calls fn(t) with the test limits.
func (r *Runtime) runTest(fn *glua.LFunction, t glua.LValue) error {
	L := r.L
	b := r.budget
	b.reset(testInstructions, testMemory, r.prog.opts.MaxStringBytes, testTime)
	L.SetContext(b)
	L.Push(fn)
	L.Push(t)
	err := L.PCall(1, 0, nil)
	L.RemoveContext()
	L.SetTop(0)
	r.restoreCells()
	if err != nil || b.err != nil {
		se := r.scriptError(err, "", fn.Proto.SourceName).(*ScriptError)
		se.File = fn.Proto.SourceName
		return se
	}
	return nil
}

// testRig provides t and game to a test file.
type testRig struct {
	game     *Program
	gameName string
	rt       *Runtime // the test file's runtime
	t        *glua.LTable
	open     []*Runtime // game runtimes of the running test
}

func (g *testRig) cleanup() {
	for _, r := range g.open {
		r.Close()
	}
	g.open = nil
}

// install registers t and game before the test file runs.
func (g *testRig) install(r *Runtime) {
	L := r.L
	g.rt = r
	t := L.NewTable()
	for name, f := range map[string]glua.LGFunction{
		"eq":    g.luaEq,
		"ne":    g.luaNe,
		"ok":    g.luaOK,
		"near":  g.luaNear,
		"fail":  g.luaFail,
		"error": g.luaError,
		"find":  g.luaFind,
	} {
		t.RawSetString(name, L.NewFunction(f))
	}
	g.t = t
	L.G.Global.RawSetString("t", t)
	game := L.NewTable()
	game.RawSetString("new", L.NewFunction(g.luaGameNew))
	L.G.Global.RawSetString("game", game)
}

// show formats a value for a failure message.
func (g *testRig) show(v glua.LValue) string {
	switch v := v.(type) {
	case glua.LString:
		return fmt.Sprintf("%q", string(v))
	case *glua.LTable:
		var e encoder
		e.r = g.rt
		if b, err := e.encode(v); err == nil {
			return string(b)
		}
	}
	return v.String()
}

func (g *testRig) msg(L *glua.LState, n int) string {
	if s, ok := L.Get(n).(glua.LString); ok {
		return " (" + string(s) + ")"
	}
	return ""
}

// deepEqual compares values, tables by contents.
func (g *testRig) deepEqual(a, b glua.LValue, depth int) bool {
	ta, ok1 := a.(*glua.LTable)
	tb, ok2 := b.(*glua.LTable)
	if !ok1 || !ok2 {
		return a == b
	}
	if depth > maxDepth {
		return false
	}
	ta, tb = g.rt.realTable(ta), g.rt.realTable(tb)
	if ta == tb {
		return true
	}
	n := 0
	for k, v := ta.Next(glua.LNil); k != glua.LNil; k, v = ta.Next(k) {
		n++
		if !g.deepEqual(v, tb.RawGet(k), depth+1) {
			return false
		}
	}
	for k, _ := tb.Next(glua.LNil); k != glua.LNil; k, _ = tb.Next(k) {
		n--
	}
	return n == 0
}

func (g *testRig) luaEq(L *glua.LState) int {
	got, want := L.Get(1), L.Get(2)
	if !g.deepEqual(got, want, 0) {
		L.RaiseError("t.eq: got %s, want %s%s", g.show(got), g.show(want), g.msg(L, 3))
	}
	return 0
}

func (g *testRig) luaNe(L *glua.LState) int {
	got, other := L.Get(1), L.Get(2)
	if g.deepEqual(got, other, 0) {
		L.RaiseError("t.ne: got %s, want anything else%s", g.show(got), g.msg(L, 3))
	}
	return 0
}

func (g *testRig) luaOK(L *glua.LState) int {
	if !glua.LVAsBool(L.Get(1)) {
		L.RaiseError("t.ok: got %s%s", g.show(L.Get(1)), g.msg(L, 2))
	}
	return 0
}

func (g *testRig) luaNear(L *glua.LState) int {
	got, want, eps := float64(L.CheckNumber(1)), float64(L.CheckNumber(2)), float64(L.OptNumber(3, 1e-9))
	if !(math.Abs(got-want) <= eps) {
		L.RaiseError("t.near: got %v, want %v ± %v%s", got, want, eps, g.msg(L, 4))
	}
	return 0
}

func (g *testRig) luaFail(L *glua.LState) int {
	L.RaiseError("t.fail: %s", L.OptString(1, "failed"))
	return 0
}

// luaError is t.error(fn, pattern): fn must raise an error containing pattern.
func (g *testRig) luaError(L *glua.LState) int {
	fn := L.CheckFunction(1)
	want := L.OptString(2, "")
	L.Push(fn)
	err := L.PCall(0, 0, nil)
	if err == nil {
		L.RaiseError("t.error: no error, want one containing %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		L.RaiseError("t.error: error %q does not contain %q", err.Error(), want)
	}
	return 0
}

// luaFind is t.find(list, key, value): the first element e of list with
// e[key] == value, or nil.
func (g *testRig) luaFind(L *glua.LState) int {
	list := g.rt.realTable(L.CheckTable(1))
	key, val := L.CheckAny(2), L.Get(3)
	for i := 1; i <= list.Len(); i++ {
		if e, ok := list.RawGetInt(i).(*glua.LTable); ok && L.GetTable(e, key) == val {
			L.Push(e)
			return 1
		}
	}
	L.Push(glua.LNil)
	return 1
}

// A game of a test: the game's rules behind engine/core, in memory.
type testGame struct {
	rig  *testRig
	off  *Offline
	hunt string
	now  int64
	step int64
	seqs map[string]uint64
}

// luaGameNew is game.new{hunt = {...}, now = ms, step = ms}.
func (g *testRig) luaGameNew(L *glua.LState) int {
	spec := L.OptTable(1, L.NewTable())
	def := glua.LValue(L.NewTable())
	if h, ok := L.GetField(spec, "hunt").(*glua.LTable); ok {
		def = h
	}
	var e encoder
	e.r = g.rt
	raw, err := e.encode(def)
	if err != nil {
		L.RaiseError("game.new: hunt: %s", err.Error())
	}
	id := "test"
	if s, ok := L.GetField(def, "id").(glua.LString); ok {
		id = string(s)
	}
	var endsAt int64
	if n, ok := L.GetField(def, "ends_at").(glua.LNumber); ok {
		endsAt = int64(n)
	}
	rules, err := NewRuntime(g.game)
	if err != nil {
		L.RaiseError("game.new: %s", err.Error())
	}
	g.open = append(g.open, rules)
	tg := &testGame{rig: g, hunt: id, now: 1_700_000_000_000, step: 1000, seqs: map[string]uint64{}}
	if n, ok := L.GetField(spec, "now").(glua.LNumber); ok {
		tg.now = int64(n)
	}
	if n, ok := L.GetField(spec, "step").(glua.LNumber); ok {
		tg.step = int64(n)
	}
	tg.off = NewOffline(func(string) string { return g.game.Version() })
	tg.off.AddHunt(core.Hunt{ID: id, Game: g.gameName, Def: raw, EndsAt: endsAt}, rules)

	obj := L.NewTable()
	for name, f := range map[string]glua.LGFunction{
		"join":  func(L *glua.LState) int { return tg.act(L, core.Action{Type: "join", Player: L.CheckString(2)}) },
		"leave": func(L *glua.LState) int { return tg.act(L, core.Action{Type: "leave", Player: L.CheckString(2)}) },
		"finish": func(L *glua.LState) int {
			return tg.act(L, core.Action{Type: "end", Player: L.OptString(2, "operator")})
		},
		"move":    tg.luaMove,
		"session": tg.luaSession,
		"state":   tg.luaState,
		"advance": func(L *glua.LState) int { tg.now += L.CheckInt64(2); L.Push(glua.LNumber(tg.now)); return 1 },
		"now":     func(L *glua.LState) int { L.Push(glua.LNumber(tg.now)); return 1 },
	} {
		obj.RawSetString(name, L.NewFunction(f))
	}
	L.Push(obj)
	return 1
}

// luaMove is g:move(player, lat, lon [, at]); at defaults to the action's time.
func (tg *testGame) luaMove(L *glua.LState) int {
	a := core.Action{Type: "move", Player: L.CheckString(2), Lat: float64(L.CheckNumber(3)), Lon: float64(L.CheckNumber(4)), At: L.OptInt64(5, tg.now)}
	return tg.act(L, a)
}

// act applies a and returns the outcome table.
func (tg *testGame) act(L *glua.LState, a core.Action) int {
	a.Hunt, a.TS = tg.hunt, tg.now
	tg.seqs[a.Player]++
	a.Seq = tg.seqs[a.Player]
	tg.now += tg.step
	out, err := tg.off.Do(a)
	if err != nil {
		L.RaiseError("game: %s", err.Error())
	}
	res := L.NewTable()
	if out.Answer.Type != "" {
		res.RawSetString("ok", glua.LBool(out.Answer.OK != nil && *out.Answer.OK))
		if out.Answer.Reason != "" {
			res.RawSetString("reason", glua.LString(out.Answer.Reason))
		}
		res.RawSetString("v", glua.LString(out.Answer.Version))
	}
	if len(out.Failures) > 0 {
		res.RawSetString("error", glua.LString(out.Failures[0].Error()))
	}
	events := L.NewTable()
	for _, e := range out.Events {
		if e.Msg.Type == "result" {
			continue
		}
		ev := L.NewTable()
		ev.RawSetString("type", glua.LString(e.Msg.Type))
		if e.To != "" {
			ev.RawSetString("to", glua.LString(e.To))
		}
		if len(e.Msg.Data) > 0 {
			ev.RawSetString("data", tg.decode(L, e.Msg.Data))
		}
		events.Append(ev)
	}
	res.RawSetString("events", events)
	audit := L.NewTable()
	for _, row := range out.Audit {
		ar := L.NewTable()
		ar.RawSetString("kind", glua.LString(row.Kind))
		ar.RawSetString("player", glua.LString(row.Player))
		if len(row.Data) > 0 {
			ar.RawSetString("data", tg.decode(L, row.Data))
		}
		audit.Append(ar)
	}
	res.RawSetString("audit", audit)
	L.Push(res)
	return 1
}

func (tg *testGame) decode(L *glua.LState, data []byte) glua.LValue {
	d := decoder{L: L}
	v, err := d.decode(data)
	if err != nil {
		L.RaiseError("game: decode %s: %s", data, err.Error())
	}
	return v
}

func (tg *testGame) luaSession(L *glua.LState) int {
	s := tg.off.Session(tg.hunt, L.CheckString(2))
	if s == nil {
		L.Push(glua.LNil)
		return 1
	}
	L.Push(tg.decode(L, s))
	return 1
}

func (tg *testGame) luaState(L *glua.LState) int {
	s := tg.off.HuntState(tg.hunt)
	if s == nil {
		L.Push(L.NewTable())
		return 1
	}
	L.Push(tg.decode(L, s))
	return 1
}
