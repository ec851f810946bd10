// Package lua runs a game's rules written in Lua (gopher-lua, Lua 5.1).
//
// Load compiles a folder of scripts once into a Program, which is immutable
// and may be shared by any number of goroutines. Each goroutine that runs
// rules owns a Runtime (one Lua state) built from the Program; a Runtime
// implements core.Rules.
//
// Every call is isolated and deterministic: the hunt state and the player's
// session are the tables their JSON decodes to (kept from the previous call
// when its bytes are the same, see state.go), the random source is seeded
// from the call, and everything the scripts built at load time (globals,
// library tables, top-level locals) is read-only while a handler runs. So
// replaying the same calls gives the same bytes, and one call cannot leak
// into the next. Each call has an instruction, memory and time budget
// (budget.go). The Lua API offered to scripts is documented in
// docs/lua-api.md and ctx.go.
//
// Live (live.go) runs the current Program of a Source and switches to a new
// one between two calls: the game's hot reload (Reloader, reload.go).
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
	// MaxInstructions is the instruction budget of one handler call,
	// 200,000 by default (about 5-10 ms). Host functions charge their work
	// in the same unit. A call over budget fails with a *ScriptError
	// wrapping ErrBudget. Loading the scripts gets ten times each limit.
	MaxInstructions int64
	// MaxMemoryBytes bounds the large allocations of one call (strings,
	// array slots, event data; see budget.go), 16 MiB by default. Over it a
	// call fails with a *ScriptError wrapping ErrMemory.
	MaxMemoryBytes int64
	// Budget is the wall-clock time one handler call may take, 500ms by
	// default: a backstop behind the instruction budget (a time limit is
	// not deterministic: a stalled machine could fail a call that passes
	// on replay). With the defaults, the instruction budget runs out after
	// 5-20 ms of work.
	Budget time.Duration
	// MaxStringBytes caps every string a script builds (concatenation,
	// string.rep, table.concat, string.format, string.gsub), 1 MiB by
	// default.
	MaxStringBytes int
	// MaxStateBytes caps the JSON of a hunt state or a session a call
	// stores, 1 MiB by default: a call whose state would be larger fails.
	MaxStateBytes int
	// MaxEventBytes caps the JSON data of one event or audit row (ctx.emit,
	// ctx.broadcast, ctx.audit), 256 KiB by default: events travel through
	// Kafka, whose messages are limited.
	MaxEventBytes int
	// CacheBytes bounds the decoded states a Runtime keeps between calls,
	// counted in JSON bytes, 16 MiB by default (the tables take several
	// times that). Negative disables the cache.
	CacheBytes int
	// Version names the rules' version; by default a short hash of the
	// scripts' names and bytes.
	Version string
	// Log receives ctx.log and print output (already prefixed with the file
	// and line). Nil discards it. It is called on the Runtime's goroutine.
	Log func(msg string)
}

// Defaults of Options.
const (
	DefaultMaxInstructions = 200_000
	DefaultMaxMemoryBytes  = 16 << 20
	DefaultBudget          = 500 * time.Millisecond
	DefaultMaxStringBytes  = 1 << 20
	DefaultMaxStateBytes   = 1 << 20
	DefaultMaxEventBytes   = 256 << 10
	DefaultCacheBytes      = 16 << 20
)

// Program is a game's compiled scripts. It is immutable and safe to share:
// gopher-lua function prototypes carry no per-state data.
type Program struct {
	opts    Options
	files   []script
	modules map[string]*glua.FunctionProto // lib/<name>.lua, for require
	version string
	hash    string // of the sources (the version unless Options.Version is set)
	loaded  time.Time
	setup   func(r *Runtime) // extra globals, before the scripts run (tests)
}

type script struct {
	name  string // chunk name used in errors: "<dir base>/<file>"
	proto *glua.FunctionProto
}

// Load reads and compiles every script in o.Dir. A syntax error is returned
// as a *ScriptError naming the file and line.
func Load(o Options) (*Program, error) {
	if o.MaxInstructions <= 0 {
		o.MaxInstructions = DefaultMaxInstructions
	}
	if o.MaxMemoryBytes <= 0 {
		o.MaxMemoryBytes = DefaultMaxMemoryBytes
	}
	if o.Budget <= 0 {
		o.Budget = DefaultBudget
	}
	if o.MaxStringBytes <= 0 {
		o.MaxStringBytes = DefaultMaxStringBytes
	}
	if o.MaxStateBytes <= 0 {
		o.MaxStateBytes = DefaultMaxStateBytes
	}
	if o.MaxEventBytes <= 0 {
		o.MaxEventBytes = DefaultMaxEventBytes
	}
	if o.CacheBytes == 0 {
		o.CacheBytes = DefaultCacheBytes
	}
	srcs, hash, err := readSources(o.Dir)
	if err != nil {
		return nil, err
	}
	p := &Program{opts: o, modules: map[string]*glua.FunctionProto{}, loaded: time.Now(), hash: hash}
	for _, f := range srcs {
		proto, err := compile(f.src, f.chunk)
		if err != nil {
			return nil, err
		}
		if f.module == "" {
			p.files = append(p.files, script{name: f.chunk, proto: proto})
		} else {
			p.modules[f.module] = proto
		}
	}
	p.version = o.Version
	if p.version == "" {
		p.version = hash
	}
	return p, nil
}

// source is one script file as read from the folder.
type source struct {
	rel    string // path in the folder: main.lua, lib/util.lua
	chunk  string // name in errors: <folder base>/<rel>
	module string // module name for lib/ files, "" for scripts
	src    []byte
}

// readSources reads the scripts of dir (*.lua in name order, then
// lib/*.lua; *_test.lua excluded) and hashes their names and bytes, and the
// manifest's.
func readSources(dir string) ([]source, string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, "", fmt.Errorf("lua: load scripts: %w", err)
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
		return nil, "", fmt.Errorf("lua: load scripts: no *.lua file in %s", dir)
	}
	mods, err := moduleNames(dir)
	if err != nil {
		return nil, "", err
	}
	base := filepath.Base(filepath.Clean(dir))
	var out []source
	h := sha256.New()
	add := func(rel, module string) error {
		src, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			return fmt.Errorf("lua: load scripts: %w", err)
		}
		out = append(out, source{rel: rel, chunk: base + "/" + rel, module: module, src: src})
		fmt.Fprintf(h, "%s\x00%d\x00", rel, len(src))
		h.Write(src)
		return nil
	}
	for _, n := range names {
		if err := add(n, ""); err != nil {
			return nil, "", err
		}
	}
	for _, m := range mods {
		if err := add(moduleFile(m), m); err != nil {
			return nil, "", err
		}
	}
	// The manifest is part of the version too (it is not compiled).
	if man, err := os.ReadFile(filepath.Join(dir, ManifestFile)); err == nil {
		fmt.Fprintf(h, "%s\x00%d\x00", ManifestFile, len(man))
		h.Write(man)
	}
	return out, hex.EncodeToString(h.Sum(nil))[:12], nil
}

// SourceHash is the hash of the scripts of dir as Load would compute it,
// for telling whether they changed; "" if they cannot be read.
func SourceHash(dir string) string {
	_, h, err := readSources(dir)
	if err != nil {
		return ""
	}
	return h
}

// Version returns Options.Version or the hash of the scripts.
func (p *Program) Version() string { return p.version }

// Hash is the hash of the scripts' names and bytes.
func (p *Program) Hash() string { return p.hash }

// Options returns the options the program was loaded with, defaults applied.
func (p *Program) Options() Options { return p.opts }

// LoadedAt is when the program was compiled.
func (p *Program) LoadedAt() time.Time { return p.loaded }

// Files lists the chunk names of the scripts and modules, in load order.
func (p *Program) Files() []string {
	var out []string
	for _, f := range p.files {
		out = append(out, f.name)
	}
	mods := make([]string, 0, len(p.modules))
	for _, m := range p.modules {
		mods = append(mods, m.SourceName)
	}
	slices.Sort(mods)
	return append(out, mods...)
}

// moduleDir is the folder of a game's modules (require).
const moduleDir = "lib"

func moduleFile(name string) string { return moduleDir + "/" + name + ".lua" }

// moduleNames lists lib/*.lua (without _test.lua) by module name.
func moduleNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(dir, moduleDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lua: load scripts: %w", err)
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasSuffix(n, ".lua") && !strings.HasSuffix(n, "_test.lua") {
			names = append(names, strings.TrimSuffix(n, ".lua"))
		}
	}
	slices.Sort(names)
	return names, nil
}

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
