// Package plugin is the registry of Veltrix modules and the contracts the host
// expects of them.
//
// Modules register themselves by ID from init(), in the manner of Caddy
// modules and CoreDNS plugins, and are chosen by name in config; the binary
// picks the built-in set by blank-importing plugins/standard. Adding a game or
// a plugin never edits the engine.
//
// IDs are dot-separated: "veltrix.<namespace>.<name>", for example
// "veltrix.games.treasurehunt", "veltrix.auth.anonymous",
// "veltrix.broker.embedded".
//
// Lifecycle: New returns a zero module with no side effects; the host decodes
// the module's config section into it strictly (unknown keys are errors), then
// calls Provision (if implemented) and Validate (if implemented), and finally
// asserts the namespace's interface. Cleanup (if implemented) runs when the
// host stops, also after a failed Provision or Validate.
package plugin

import (
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Info describes a module.
type Info struct {
	ID  string
	New func() any
}

// Namespace returns the part of the ID before its last dot.
func (i Info) Namespace() string { return i.ID[:strings.LastIndexByte(i.ID, '.')] }

// Name returns the last part of the ID: what config uses to choose the module.
func (i Info) Name() string { return i.ID[strings.LastIndexByte(i.ID, '.')+1:] }

// Registration is the only global state of Veltrix: it is written by init
// functions and read afterwards.
var (
	mu      sync.RWMutex
	modules = map[string]Info{}
)

var idRE = regexp.MustCompile(`^veltrix(\.[a-z][a-z0-9_]*){2,}$`)

// Register adds a module. It panics on a malformed or duplicate ID or a nil
// New, since those are programming errors found at start-up.
func Register(info Info) {
	if !idRE.MatchString(info.ID) {
		panic(fmt.Sprintf("plugin: malformed module ID %q", info.ID))
	}
	if info.New == nil {
		panic(fmt.Sprintf("plugin: module %s: New is nil", info.ID))
	}
	mu.Lock()
	defer mu.Unlock()
	if _, dup := modules[info.ID]; dup {
		panic(fmt.Sprintf("plugin: module %s already registered", info.ID))
	}
	modules[info.ID] = info
}

// Lookup finds the module named name in namespace ns (e.g. "veltrix.auth").
func Lookup(ns, name string) (Info, error) {
	mu.RLock()
	defer mu.RUnlock()
	if info, ok := modules[ns+"."+name]; ok {
		return info, nil
	}
	return Info{}, fmt.Errorf("plugin: no module %q in %s (have: %s)", name, ns, strings.Join(namesLocked(ns), ", "))
}

// Names lists the module names registered in namespace ns, sorted.
func Names(ns string) []string {
	mu.RLock()
	defer mu.RUnlock()
	return namesLocked(ns)
}

func namesLocked(ns string) []string {
	var out []string
	for id, info := range modules {
		if strings.HasPrefix(id, ns+".") && info.Namespace() == ns {
			out = append(out, info.Name())
		}
	}
	sort.Strings(out)
	return out
}

// Provisioner is implemented by modules that need set-up after decoding.
type Provisioner interface {
	Provision(ctx Context) error
}

// Validator is implemented by modules that check their config.
type Validator interface {
	Validate() error
}

// CleanerUpper is implemented by modules that hold resources.
type CleanerUpper interface {
	Cleanup() error
}

// Context is what the host gives a module at Provision time.
type Context struct {
	// BaseDir resolves relative paths in the module's config (the directory
	// the process was started in).
	BaseDir string
	// DataDir is the process's data directory.
	DataDir string
	// Log is the process's logger (nil: slog.Default()).
	Log *slog.Logger
}

// Load creates module ns.name, decodes its config with decode (which must be
// strict), provisions and validates it. Errors are prefixed with the module ID.
func Load(ns, name string, decode func(into any) error, ctx Context) (any, error) {
	info, err := Lookup(ns, name)
	if err != nil {
		return nil, err
	}
	m := info.New()
	fail := func(step string, err error) (any, error) {
		if c, ok := m.(CleanerUpper); ok {
			_ = c.Cleanup()
		}
		return nil, fmt.Errorf("%s: %s: %w", info.ID, step, err)
	}
	if decode != nil {
		if err := decode(m); err != nil {
			return fail("config", err)
		}
	}
	if p, ok := m.(Provisioner); ok {
		if err := p.Provision(ctx); err != nil {
			return fail("provision", err)
		}
	}
	if v, ok := m.(Validator); ok {
		if err := v.Validate(); err != nil {
			return fail("validate", err)
		}
	}
	return m, nil
}
