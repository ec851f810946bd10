package lua

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"

	glua "github.com/yuin/gopher-lua"

	"github.com/veltrix/veltrix/engine/core"
)

// Sizes of the Lua state, set explicitly (see PITFALLS.md): call depth bounds
// recursion, the value stack may grow from 20k to 80k slots and no further.
const (
	callStackSize   = 200
	registrySize    = 1024 * 20
	registryMaxSize = 1024 * 80
)

// handlerArgs lists the handlers the engine calls and what they receive.
var handlerArgs = map[string]struct{ player, pos bool }{
	"on_join":  {player: true},
	"on_move":  {player: true, pos: true},
	"on_leave": {player: true},
	"on_end":   {},
}

// Handlers are the handlers the engine may call, in a stable order.
var Handlers = []string{"on_join", "on_move", "on_leave", "on_end"}

// Runtime is one Lua state running a Program. It implements core.Rules and,
// like the state it owns, must be used from one goroutine only.
type Runtime struct {
	prog     *Program
	L        *glua.LState
	handlers map[string]*glua.LFunction
	chunks   []string // chunk names, to find positions in error messages

	env        *glua.LTable    // read-only global table
	roNewIndex *glua.LFunction // marks read-only proxies
	roLen      *glua.LFunction
	trackSet   *glua.LFunction // marks tracked state tables (state.go)
	lazyIndex  *glua.LFunction // __index of tracked tables not decoded yet
	next       *glua.LFunction
	ipairsAux  *glua.LFunction
	cells      []cell // long-lived upvalues and the values they must keep
	modules    map[string]glua.LValue
	loaded     bool // the scripts have run: require is over

	// ctx, ctx.action and pos are the same tables from call to call; their
	// fields are set before each call (ctx.go).
	ctxTable, ctxMeta, ctxFields *glua.LTable
	ctxHunt, ctxState            *glua.LTable // what ctxFields holds
	ctxNow                       glua.LNumber
	actionReal, actionProxy      *glua.LTable
	actionFor                    *core.Call // the call actionReal was filled for
	posTable                     *glua.LTable

	hunts   map[huntKey]*huntDef
	enc     encoder
	dec     decoder
	cache   stateCache
	budget  *budget
	pcg     *rand.PCG
	rng     *rand.Rand
	nearBuf []int

	// The call in progress.
	inCall bool
	call   *core.Call
	res    *core.Result
	hunt   *huntDef
	roots  [2]*stateRoot // hunt state, session
	closed bool

	noBudget bool // benchmarks only: measures what the budget costs
}

var _ core.Rules = (*Runtime)(nil)

// NewRuntime creates a Lua state, opens the sandboxed libraries and runs the
// program's scripts once to define the handlers. The scripts get ten times
// the call budget to load.
func NewRuntime(p *Program) (*Runtime, error) {
	L := glua.NewState(glua.Options{
		SkipOpenLibs:    true,
		CallStackSize:   callStackSize,
		RegistrySize:    registrySize,
		RegistryMaxSize: registryMaxSize,
	})
	r := &Runtime{
		prog:     p,
		L:        L,
		handlers: make(map[string]*glua.LFunction),
		modules:  make(map[string]glua.LValue),
		hunts:    make(map[huntKey]*huntDef),
		budget:   newBudget(L),
		pcg:      rand.NewPCG(0, 0),
	}
	r.cache.maxBytes = p.opts.CacheBytes
	r.rng = rand.New(r.pcg)
	r.dec.L, r.dec.r = L, r
	r.enc.r = r
	for _, f := range p.files {
		r.chunks = append(r.chunks, f.name)
	}
	for _, m := range p.modules {
		r.chunks = append(r.chunks, m.SourceName)
	}
	if err := r.init(); err != nil {
		L.Close()
		return nil, err
	}
	return r, nil
}

func (r *Runtime) init() error {
	if err := r.openSandbox(); err != nil {
		return fmt.Errorf("lua: open libraries: %w", err)
	}
	r.newCtx()
	if r.prog.setup != nil {
		r.prog.setup(r)
	}

	o := r.prog.opts
	b := r.budget
	b.reset(10*o.MaxInstructions, 10*o.MaxMemoryBytes, o.MaxStringBytes, 10*o.Budget)
	r.L.SetContext(b)
	defer r.L.RemoveContext()
	for _, f := range r.prog.files {
		r.L.Push(r.L.NewFunctionFromProto(f.proto))
		if err := r.L.PCall(0, 0, nil); err != nil || b.err != nil {
			r.L.SetTop(0)
			return r.scriptError(err, "load", f.name)
		}
	}
	r.loaded = true

	g := r.L.G.Global
	for name := range handlerArgs {
		switch fn := g.RawGetString(name).(type) {
		case *glua.LFunction:
			r.handlers[name] = fn
		case *glua.LNilType:
		default:
			return fmt.Errorf("lua: %s is a %s, not a function", name, fn.Type())
		}
	}
	if err := r.freezeGlobals(); err != nil {
		return fmt.Errorf("lua: scripts' load-time state: %w", err)
	}
	return nil
}

// Program returns the program the runtime runs.
func (r *Runtime) Program() *Program { return r.prog }

// Version returns the program's version.
func (r *Runtime) Version() string { return r.prog.Version() }

// HasHandler reports whether the scripts define the handler.
func (r *Runtime) HasHandler(name string) bool { return r.handlers[name] != nil }

// Close releases the Lua state. The Runtime cannot be used afterwards.
func (r *Runtime) Close() {
	if !r.closed {
		r.closed = true
		r.cache.clear()
		r.L.Close()
	}
}

// Call runs c.Handler. A handler the scripts do not define rejects the
// action with "unsupported_action". A script failure (runtime error, budget
// exceeded, state that cannot be stored) is returned as a *ScriptError; the
// Runtime stays usable.
func (r *Runtime) Call(c *core.Call) (res *core.Result, err error) {
	if r.closed {
		return nil, errors.New("lua: runtime is closed")
	}
	args, known := handlerArgs[c.Handler]
	fn := r.handlers[c.Handler]
	if !known || fn == nil {
		return &core.Result{Reject: "unsupported_action"}, nil
	}
	L := r.L
	hk := stateKey{hunt: c.Action.Hunt}
	sk := stateKey{hunt: c.Action.Hunt, player: c.Action.Player, session: true}
	done := false
	defer func() {
		// Whatever happened, the next call starts from a clean state.
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("lua: %s: panic: %v", c.Handler, p)
			L.RemoveContext()
			r.restoreCells()
		}
		if !done {
			// The tables may be half modified: decode afresh next time.
			r.cache.drop(hk)
			r.cache.drop(sk)
		}
		L.SetTop(0)
		clear(r.enc.adopted)
		r.checkCtx()
		r.inCall, r.call, r.res, r.hunt, r.roots = false, nil, nil, nil, [2]*stateRoot{}
	}()

	hunt, err := r.huntFor(c)
	if err != nil {
		return nil, err
	}
	state, err := r.stateFor(hk, c.HuntState, "hunt state")
	if err != nil {
		return nil, err
	}
	var player *stateRoot
	if args.player {
		if player, err = r.stateFor(sk, c.Session, "session"); err != nil {
			return nil, err
		}
		if player.table.RawGetString("id") == glua.LNil {
			player.table.RawSetString("id", glua.LString(c.Action.Player))
		}
	}

	r.pcg.Seed(c.Seed, c.Seed^0x9e3779b97f4a7c15)
	r.inCall, r.call, r.res, r.hunt = true, c, &core.Result{}, hunt
	r.roots = [2]*stateRoot{state, player}
	r.setCtx(c, hunt, state.table)

	L.Push(fn)
	L.Push(r.ctxTable)
	nargs := 1
	if args.player {
		L.Push(player.table)
		nargs++
	}
	if args.pos {
		r.posTable.RawSetString("lat", glua.LNumber(c.Action.Lat))
		r.posTable.RawSetString("lon", glua.LNumber(c.Action.Lon))
		r.posTable.RawSetString("at", glua.LNumber(c.Action.At))
		L.Push(r.posTable)
		nargs++
	}

	o := r.prog.opts
	b := r.budget
	b.reset(o.MaxInstructions, o.MaxMemoryBytes, o.MaxStringBytes, o.Budget)
	var callErr error
	if r.noBudget {
		callErr = L.PCall(nargs, 0, nil)
	} else {
		L.SetContext(b)
		callErr = L.PCall(nargs, 0, nil)
		L.RemoveContext()
	}

	// Restore the top-level locals on every path, failed calls included.
	cellsChanged := r.restoreCells()
	if callErr != nil || b.err != nil {
		return nil, r.scriptError(callErr, c.Handler, fn.Proto.SourceName)
	}
	if top := L.GetTop(); top != 0 {
		return nil, &ScriptError{File: fn.Proto.SourceName, Handler: c.Handler,
			Msg: fmt.Sprintf("value stack not balanced after the call (%d values left)", top)}
	}
	if cellsChanged {
		return nil, &ScriptError{File: fn.Proto.SourceName, Handler: c.Handler,
			Msg: "a top-level local was assigned: state built at load time is read-only in handlers (keep state in ctx.state or the player table)"}
	}

	res = r.res
	if res.HuntState, err = r.storeState(state, c.HuntState); err != nil {
		return nil, &ScriptError{File: fn.Proto.SourceName, Handler: c.Handler, Msg: "ctx.state: " + err.Error()}
	}
	if args.player {
		if res.Session, err = r.storeState(player, c.Session); err != nil {
			return nil, &ScriptError{File: fn.Proto.SourceName, Handler: c.Handler, Msg: "player: " + err.Error()}
		}
	}
	done = true
	return res, nil
}

// stateFor returns the tables of a state: the cached ones when data is what
// they encoded to after the last call, else freshly decoded ones.
func (r *Runtime) stateFor(k stateKey, data []byte, what string) (*stateRoot, error) {
	if root := r.cache.get(k, data); root != nil {
		return root, nil
	}
	r.cache.drop(k)
	root, err := r.decodeRoot(k, data)
	if err != nil {
		return nil, fmt.Errorf("lua: decode %s: %w", what, err)
	}
	return root, nil
}

// storeState encodes a state after a call and keeps its tables for the
// next one. It returns nil when the bytes equal old (unchanged).
func (r *Runtime) storeState(root *stateRoot, old []byte) ([]byte, error) {
	if root.cached && root.unchanged() {
		return nil, nil // the bytes the cache matched old with
	}
	b, canonical, err := r.enc.encodeState(root)
	if err != nil {
		return nil, err
	}
	if max := r.prog.opts.MaxStateBytes; len(b) > max {
		return nil, fmt.Errorf("%d bytes of JSON exceed the limit of %d (keep state small: it is stored on every action)", len(b), max)
	}
	// The root keeps its own copy: old may alias a buffer of the store.
	prev := root.bytes
	if !bytes.Equal(prev, b) {
		root.bytes = bytes.Clone(b)
	}
	if canonical {
		r.cache.put(root, prev)
	} else {
		r.cache.drop(root.key)
	}
	if old != nil && bytes.Equal(root.bytes, old) {
		return nil, nil // unchanged
	}
	return root.bytes, nil // never written to: the next encoding makes a new slice
}

// restoreCells puts back the values of the scripts' top-level locals that
// a handler assigned, and reports whether there were any: they would
// otherwise carry state from one call to the next, which replays could not
// reproduce.
func (r *Runtime) restoreCells() bool {
	changed := false
	for _, c := range r.cells {
		if !sameValue(c.uv.Value(), c.v) {
			c.uv.SetValue(c.v)
			changed = true
		}
	}
	return changed
}

// scriptError turns what PCall returned into a *ScriptError; a call stopped
// by its budget says so whatever error the script raised afterwards.
func (r *Runtime) scriptError(err error, handler, file string) error {
	se := &ScriptError{File: file, Handler: handler}
	if err != nil {
		se.Msg = err.Error()
	}
	var aerr *glua.ApiError
	if errors.As(err, &aerr) {
		se.Trace = aerr.StackTrace
		switch obj := aerr.Object.(type) {
		case glua.LString:
			se.Msg = string(obj)
		case nil:
		default:
			se.Msg = "error object is a " + obj.Type().String() + " value"
		}
		if aerr.Type == glua.ApiErrorPanic {
			se.Msg = "panic in a host function: " + se.Msg
		}
	}
	se.parsePosition(r.chunks)
	if be := r.budget.err; be != nil {
		// The VM raises the budget error at whichever instruction it had
		// reached; pcall in the script may even have caught it. Either way
		// the call ran out of budget.
		if !budgetPosition(err, be) {
			se.Line = 0
		}
		se.Msg = be.msg
		se.err = be.sentinel
	}
	return se
}

// budgetPosition reports whether err is the budget error itself, raised by
// the VM at a position in the script (else the position is not where the
// budget ran out).
func budgetPosition(err error, be *budgetError) bool {
	var aerr *glua.ApiError
	if !errors.As(err, &aerr) {
		return false
	}
	s, ok := aerr.Object.(glua.LString)
	return ok && bytes.HasSuffix([]byte(s), []byte(be.msg))
}
