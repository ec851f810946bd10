// Package lua runs a game's rules written in Lua (gopher-lua, Lua 5.1).
//
// Load compiles a folder of scripts once into a Program, which is immutable
// and may be shared by any number of goroutines. Each goroutine that runs
// rules owns a Runtime (one Lua state) built from the Program; a Runtime
// implements core.Rules.
//
// Every call is isolated and deterministic: the hunt state and the player's
// session are decoded from JSON into fresh tables, the random source is
// seeded from the call, and everything the scripts built at load time
// (globals, library tables, top-level locals) is read-only while a handler
// runs. So replaying the same calls gives the same bytes, and one call cannot
// leak into the next. The Lua API offered to scripts is documented in ctx.go.
package lua

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	glua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// Options configures Load.
type Options struct {
	// Dir is the folder of a game's *.lua scripts; files named *_test.lua are
	// not loaded. Files are run in sorted name order, so shared helpers go in
	// a file that sorts first (00_util.lua).
	Dir string
	// Budget is the wall-clock time one handler call may take, 100ms by
	// default. A call over budget fails with a *ScriptError wrapping
	// ErrBudget. Loading the scripts in NewRuntime gets ten times as much.
	Budget time.Duration
	// MaxStringBytes caps the strings the string helpers build (string.rep,
	// table.concat, string.format, string.gsub), 1 MiB by default.
	MaxStringBytes int
	// Version names the rules' version; by default a short hash of the
	// scripts' names and bytes.
	Version string
	// Log receives ctx.log and print output (already prefixed with the file
	// and line). Nil discards it. It is called on the Runtime's goroutine.
	Log func(msg string)
}

const (
	defaultBudget         = 100 * time.Millisecond
	defaultMaxStringBytes = 1 << 20
)

// Program is a game's compiled scripts. It is immutable and safe to share:
// gopher-lua function prototypes carry no per-state data.
type Program struct {
	opts    Options
	files   []script
	version string
}

type script struct {
	name  string // chunk name used in errors: "<dir base>/<file>"
	proto *glua.FunctionProto
}

// Load reads and compiles every script in o.Dir. A syntax error is returned
// as a *ScriptError naming the file and line.
func Load(o Options) (*Program, error) {
	if o.Budget <= 0 {
		o.Budget = defaultBudget
	}
	if o.MaxStringBytes <= 0 {
		o.MaxStringBytes = defaultMaxStringBytes
	}
	entries, err := os.ReadDir(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("lua: load scripts: %w", err)
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasSuffix(n, ".lua") && !strings.HasSuffix(n, "_test.lua") {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("lua: load scripts: no *.lua file in %s", o.Dir)
	}

	p := &Program{opts: o}
	h := sha256.New()
	base := filepath.Base(filepath.Clean(o.Dir))
	for _, n := range names {
		src, err := os.ReadFile(filepath.Join(o.Dir, n))
		if err != nil {
			return nil, fmt.Errorf("lua: load scripts: %w", err)
		}
		chunk := base + "/" + n
		proto, err := compile(src, chunk)
		if err != nil {
			return nil, err
		}
		p.files = append(p.files, script{name: chunk, proto: proto})
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(src))
		h.Write(src)
	}
	p.version = o.Version
	if p.version == "" {
		p.version = hex.EncodeToString(h.Sum(nil))[:12]
	}
	return p, nil
}

// Version returns Options.Version or the hash of the scripts.
func (p *Program) Version() string { return p.version }

func compile(src []byte, chunk string) (*glua.FunctionProto, error) {
	stmts, err := parse.Parse(bytes.NewReader(src), chunk)
	if err != nil {
		se := &ScriptError{File: chunk, Msg: err.Error()}
		var perr *parse.Error
		if errors.As(err, &perr) {
			se.Line, se.Msg = perr.Pos.Line, perr.Message
			if perr.Token != "" {
				se.Msg += " near '" + perr.Token + "'"
			}
		}
		return nil, se
	}
	proto, err := glua.Compile(stmts, chunk)
	if err != nil {
		se := &ScriptError{File: chunk, Msg: err.Error()}
		var cerr *glua.CompileError
		if errors.As(err, &cerr) {
			se.Line, se.Msg = cerr.Line, cerr.Message
		}
		return nil, se
	}
	return proto, nil
}
