package huntdef

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads a hunt definition from a YAML file, applies defaults and
// validates it. Decoding is strict: an unknown key (usually a typo such as
// `radius:` for `radius_m:`) is an error rather than a silently ignored
// setting. Errors name the file.
func Load(path string) (*Hunt, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("huntdef: %w", err) // the PathError names the file
	}
	h, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("huntdef: %s: %w", path, err)
	}
	return h, nil
}

// Decode is Load for YAML already in memory.
func Decode(data []byte) (*Hunt, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var h Hunt
	if err := dec.Decode(&h); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty hunt definition")
		}
		return nil, yamlError(err)
	}
	// A second document would be silently ignored; refuse it instead.
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one YAML document (---) in a hunt definition")
	}

	// An explicit `first_finder_bonus: 0` means "no bonus", not "default":
	// look at whether the key was present. The strict decode above already
	// accepted this YAML, so this lenient one cannot fail.
	var present struct {
		FirstFinderBonus *int `yaml:"first_finder_bonus"`
	}
	_ = yaml.Unmarshal(data, &present)

	h.applyDefaults(present.FirstFinderBonus != nil)
	if err := h.Validate(); err != nil {
		return nil, err
	}
	return &h, nil
}

// LoadDir loads every *.yaml and *.yml file in dir (not recursively), in
// name order. It reports every broken file at once, and refuses two files
// defining the same hunt id.
func LoadDir(dir string) ([]*Hunt, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("huntdef: loading hunts: %w", err)
	}
	var (
		hunts []*Hunt
		errs  []error
		files = map[string]string{} // hunt id -> file defining it
	)
	for _, e := range entries { // os.ReadDir sorts by name
		name := e.Name()
		ext := strings.ToLower(filepath.Ext(name))
		// Dot files are editor leftovers (emacs .#x.yaml locks, ...).
		if e.IsDir() || strings.HasPrefix(name, ".") || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		path := filepath.Join(dir, name)
		h, err := Load(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, dup := files[h.ID]; dup {
			errs = append(errs, fmt.Errorf("huntdef: %s: duplicate hunt id %q, already defined in %s", path, h.ID, prev))
			continue
		}
		files[h.ID] = path
		hunts = append(hunts, h)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return hunts, nil
}

// unknownField matches yaml.v3's wording for a key KnownFields rejects.
var unknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type \S*\.(\w+)$`)

// yamlError flattens yaml.v3's multi-line "unmarshal errors" into one line
// and rewords unknown-key errors to name the key plainly.
func yamlError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		if sm := unknownField.FindStringSubmatch(m); sm != nil {
			m = fmt.Sprintf("line %s: unknown field %q in %s", sm[1], sm[2], strings.ToLower(sm[3]))
		}
		msgs[i] = m
	}
	return &decodeError{msg: strings.Join(msgs, "; "), err: te}
}

// decodeError rewords a yaml.v3 error but keeps it reachable by errors.As.
type decodeError struct {
	msg string
	err error
}

func (e *decodeError) Error() string { return e.msg }
func (e *decodeError) Unwrap() error { return e.err }
