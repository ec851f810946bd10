package lua

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/veltrix/veltrix/engine/core"
)

// Source holds a game's current Program. The Reloader publishes new ones;
// every Live built on the Source switches to them between two actions.
// Safe for concurrent use.
type Source struct {
	cur atomic.Pointer[Program]
}

// NewSource returns a Source whose current program is p.
func NewSource(p *Program) *Source {
	s := &Source{}
	s.cur.Store(p)
	return s
}

// Program returns the current program.
func (s *Source) Program() *Program { return s.cur.Load() }

// Publish makes p the current program.
func (s *Source) Publish(p *Program) { s.cur.Store(p) }

// Live runs the current program of a Source. It implements core.Rules and,
// like a Runtime, belongs to one goroutine.
//
// A new program is adopted between two actions, never during one: when the
// engine asks Version (core does before every action it applies, to stamp
// the version on the events), Live first switches to the Source's current
// program, then names it, and the action's calls run it. So the version an
// event carries is the version that produced it. Until Version has been
// called once, Call switches by itself.
//
// Switching builds a new Lua state from the program (about a millisecond);
// the old one is closed. If building fails (the program passed validation,
// so this means a load-time error that depends on the machine, such as the
// time budget), the old program keeps running and OnError hears why.
type Live struct {
	src     *Source
	rt      *Runtime
	pinned  bool
	failed  *Program // the last program that could not be built
	OnError func(p *Program, err error)
	// OnSwitch, if set, is told of each switch (old and new version).
	OnSwitch func(from, to string)
}

var _ core.Rules = (*Live)(nil)

// NewLive builds a Runtime for the Source's current program.
func NewLive(src *Source) (*Live, error) {
	p := src.Program()
	if p == nil {
		return nil, errors.New("lua: no program to run")
	}
	rt, err := NewRuntime(p)
	if err != nil {
		return nil, err
	}
	return &Live{src: src, rt: rt}, nil
}

// sync switches to the Source's current program, if it is new.
func (l *Live) sync() {
	p := l.src.Program()
	if p == nil || p == l.rt.prog || p == l.failed {
		return
	}
	if p.Version() == l.rt.prog.Version() {
		// The same scripts again (an edit saved and undone): nothing to
		// switch, and the state cache stays warm.
		return
	}
	rt, err := NewRuntime(p)
	if err != nil {
		l.failed = p
		if l.OnError != nil {
			l.OnError(p, fmt.Errorf("lua: switching to version %s: %w", p.Version(), err))
		}
		return
	}
	from := l.rt.prog.Version()
	rt.noBudget = l.rt.noBudget
	l.rt.Close()
	l.rt = rt
	l.failed = nil
	if l.OnSwitch != nil {
		l.OnSwitch(from, p.Version())
	}
}

// Version adopts the Source's current program and returns its version:
// the calls until the next Version run that program.
func (l *Live) Version() string {
	l.sync()
	l.pinned = true
	return l.rt.prog.Version()
}

// Call runs the handler with the current runtime.
func (l *Live) Call(c *core.Call) (*core.Result, error) {
	if !l.pinned {
		l.sync()
	}
	return l.rt.Call(c)
}

// Runtime returns the runtime in use.
func (l *Live) Runtime() *Runtime { return l.rt }

// Close releases the Lua state.
func (l *Live) Close() { l.rt.Close() }
