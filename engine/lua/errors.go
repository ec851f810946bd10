package lua

import (
	"errors"
	"strconv"
	"strings"
)

// ErrBudget is wrapped by the *ScriptError of a call that ran out of its
// instruction budget (or, on a stalled machine, of its time budget).
var ErrBudget = errors.New("budget exceeded")

// ErrMemory is wrapped by the *ScriptError of a call that would have
// allocated more than its memory budget, or built a string over the limit.
var ErrMemory = errors.New("memory budget exceeded")

// ScriptError is a failure of a script: a syntax error at Load (Handler is
// empty), an error while loading it in NewRuntime (Handler is "load"), or a
// runtime error in a handler. File is the chunk name ("treasurehunt/main.lua");
// Line is 0 when unknown.
type ScriptError struct {
	File    string
	Line    int
	Handler string
	Msg     string
	Trace   string // Lua stack traceback, when there is one; for logs
	err     error  // wrapped sentinel (ErrBudget, ErrMemory), if any
}

// Error reads like "treasurehunt/main.lua:42: on_move: attempt to index a nil value".
func (e *ScriptError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Handler != "" {
		b.WriteString(e.Handler)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns ErrBudget or ErrMemory for a call over budget.
func (e *ScriptError) Unwrap() error { return e.err }

// parsePosition moves a leading "<chunk>:<line>: " of Msg (added by the Lua
// VM) into File and Line. Only known chunk names are recognised, so a colon
// in the message itself is never mistaken for a position.
func (e *ScriptError) parsePosition(chunks []string) {
	for _, c := range chunks {
		rest, ok := strings.CutPrefix(e.Msg, c+":")
		if !ok {
			continue
		}
		num, msg, ok := strings.Cut(rest, ":")
		line, err := strconv.Atoi(num)
		if !ok || err != nil {
			continue
		}
		e.File, e.Line, e.Msg = c, line, strings.TrimPrefix(msg, " ")
		return
	}
}
