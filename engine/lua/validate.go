package lua

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ManifestFile is the name of a game's manifest in its scripts folder.
const ManifestFile = "manifest.yaml"

// Manifest describes a game's scripts (manifest.yaml).
type Manifest struct {
	Name        string   `yaml:"name"`
	Version     string   `yaml:"version"`
	Description string   `yaml:"description"`
	Handlers    []string `yaml:"handlers"` // the handlers the scripts must define
}

var (
	manifestName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)
	unknownKey   = regexp.MustCompile(`^line (\d+): field (\S+) not found in type`)
)

// LoadManifest reads and checks dir/manifest.yaml. A missing file returns
// (nil, nil). Errors name the file and, for YAML errors, the line.
func LoadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	where := filepath.Base(filepath.Clean(dir)) + "/" + ManifestFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty manifest", where)
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			msgs := make([]string, len(te.Errors))
			for i, m := range te.Errors {
				if sm := unknownKey.FindStringSubmatch(m); sm != nil {
					m = fmt.Sprintf("line %s: unknown field %q", sm[1], sm[2])
				}
				msgs[i] = m
			}
			return nil, fmt.Errorf("%s: %s", where, strings.Join(msgs, "; "))
		}
		return nil, fmt.Errorf("%s: %s", where, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var problems []string
	if !manifestName.MatchString(m.Name) {
		problems = append(problems, fmt.Sprintf("name %q must match %s", m.Name, manifestName))
	}
	if m.Version == "" {
		problems = append(problems, "version is required")
	}
	if len(m.Handlers) == 0 {
		problems = append(problems, "handlers: list the handlers the scripts define (at least one of "+strings.Join(Handlers, ", ")+")")
	}
	for _, h := range m.Handlers {
		if !slices.Contains(Handlers, h) {
			problems = append(problems, fmt.Sprintf("handlers: %q is not a handler the engine calls (%s)", h, strings.Join(Handlers, ", ")))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: %s", where, strings.Join(problems, "; "))
	}
	return &m, nil
}

// Check loads p in a fresh Lua state (running every script, so load-time
// errors surface with their file and line) and checks that the handlers in
// required are defined. It returns the runtime, which the caller closes.
func Check(p *Program, required []string) (*Runtime, error) {
	rt, err := NewRuntime(p)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, h := range required {
		if !rt.HasHandler(h) {
			missing = append(missing, h)
		}
	}
	if len(missing) > 0 {
		rt.Close()
		return nil, fmt.Errorf("lua: %s: handler %s not defined (the manifest requires it)",
			filepath.Base(filepath.Clean(p.opts.Dir)), strings.Join(missing, ", "))
	}
	return rt, nil
}
