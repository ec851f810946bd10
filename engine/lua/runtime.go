package lua

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

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
	next       *glua.LFunction
	ipairsAux  *glua.LFunction
	ctxMeta    *glua.LTable
	cells      []cell // long-lived upvalues and the values they must keep

	hunts   map[huntKey]*huntDef
	enc     encoder
	dec     decoder
	pcg     *rand.PCG
	rng     *rand.Rand
	nearBuf []int

	// The call in progress.
	inCall bool
	call   *core.Call
	res    *core.Result
	hunt   *huntDef
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
		hunts:    make(map[huntKey]*huntDef),
		pcg:      rand.NewPCG(0, 0),
	}
	r.rng = rand.New(r.pcg)
	r.dec.L = L
	r.enc.real = r.realTable
	for _, f := range p.files {
		r.chunks = append(r.chunks, f.name)
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
	r.ctxMeta = r.newCtxMeta()

	ctx, cancel := context.WithTimeout(context.Background(), 10*r.prog.opts.Budget)
	defer cancel()
	r.L.SetContext(ctx)
	defer r.L.RemoveContext()
	for _, f := range r.prog.files {
		r.L.Push(r.L.NewFunctionFromProto(f.proto))
		if err := r.L.PCall(0, 0, nil); err != nil {
			r.L.SetTop(0)
			return r.scriptError(err, ctx.Err() != nil, "load", f.name)
		}
	}

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

// Close releases the Lua state. The Runtime cannot be used afterwards.
func (r *Runtime) Close() {
	if !r.closed {
		r.closed = true
		r.L.Close()
	}
}

// Call runs c.Handler. A handler the scripts do not define rejects the
// action with "unsupported_action". A script failure (runtime error, budget
// exceeded) is returned as a *ScriptError; the Runtime stays usable.
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
	defer func() {
		// Whatever happened, the next call starts from a clean state.
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("lua: %s: panic: %v", c.Handler, p)
			L.RemoveContext()
			r.restoreCells()
		}
		L.SetTop(0)
		r.inCall, r.call, r.res, r.hunt = false, nil, nil, nil
	}()

	hunt, err := r.huntFor(c)
	if err != nil {
		return nil, err
	}
	state, err := r.decodeObject(c.HuntState, "hunt state")
	if err != nil {
		return nil, err
	}
	var player *glua.LTable
	if args.player {
		if player, err = r.decodeObject(c.Session, "session"); err != nil {
			return nil, err
		}
		if player.RawGetString("id") == glua.LNil {
			player.RawSetString("id", glua.LString(c.Action.Player))
		}
	}

	r.pcg.Seed(c.Seed, c.Seed^0x9e3779b97f4a7c15)
	r.inCall, r.call, r.res, r.hunt = true, c, &core.Result{}, hunt

	L.Push(fn)
	L.Push(r.newCtx(c, hunt.table, state))
	nargs := 1
	if args.player {
		L.Push(player)
		nargs++
	}
	if args.pos {
		pos := L.CreateTable(0, 3)
		pos.RawSetString("lat", glua.LNumber(c.Action.Lat))
		pos.RawSetString("lon", glua.LNumber(c.Action.Lon))
		pos.RawSetString("at", glua.LNumber(c.Action.At))
		L.Push(pos)
		nargs++
	}

	var callErr error
	expired := false
	if r.noBudget {
		callErr = L.PCall(nargs, 0, nil)
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), r.prog.opts.Budget)
		L.SetContext(ctx)
		callErr = L.PCall(nargs, 0, nil)
		expired = ctx.Err() != nil
		L.RemoveContext()
		cancel()
	}

	// Restore the top-level locals on every path, failed calls included.
	cellsChanged := r.restoreCells()
	if callErr != nil {
		return nil, r.scriptError(callErr, expired, c.Handler, fn.Proto.SourceName)
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
	if res.HuntState, err = r.encodeChanged(state, c.HuntState); err != nil {
		return nil, &ScriptError{File: fn.Proto.SourceName, Handler: c.Handler, Msg: "ctx.state: " + err.Error()}
	}
	if args.player {
		if res.Session, err = r.encodeChanged(player, c.Session); err != nil {
			return nil, &ScriptError{File: fn.Proto.SourceName, Handler: c.Handler, Msg: "player: " + err.Error()}
		}
	}
	return res, nil
}

// decodeObject decodes a JSON object into a fresh table; nil gives {}.
func (r *Runtime) decodeObject(data []byte, what string) (*glua.LTable, error) {
	if len(data) == 0 {
		return r.L.CreateTable(0, 2), nil
	}
	v, err := r.dec.decode(data)
	if err != nil {
		return nil, fmt.Errorf("lua: decode %s: %w", what, err)
	}
	t, ok := v.(*glua.LTable)
	if !ok {
		return nil, fmt.Errorf("lua: decode %s: a %s, not an object", what, v.Type())
	}
	return t, nil
}

// encodeChanged encodes t, or returns nil (unchanged) when the bytes equal old.
func (r *Runtime) encodeChanged(t *glua.LTable, old []byte) ([]byte, error) {
	b, err := r.enc.encode(t)
	if err != nil {
		return nil, err
	}
	if old != nil && bytes.Equal(b, old) {
		return nil, nil
	}
	return b, nil
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

// expired tells that the call's budget had run out when it failed.
func (r *Runtime) scriptError(err error, expired bool, handler, file string) error {
	se := &ScriptError{File: file, Handler: handler, Msg: err.Error()}
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
	if expired {
		// The VM raises the context error at whichever instruction it had
		// reached; pcall in the script may even have caught it. Either way
		// the call ran out of time.
		se.Msg = fmt.Sprintf("budget exceeded (%s)", budgetOf(handler, r.prog.opts.Budget))
		se.err = ErrBudget
	}
	return se
}

func budgetOf(handler string, b time.Duration) time.Duration {
	if handler == "load" {
		return 10 * b
	}
	return b
}
