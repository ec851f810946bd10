// Package huntdef defines a treasure hunt: where the beacons are and the
// rules' parameters. Designers write it as YAML (or `veltrix hunt import`
// derives it from a GPX file); the engine hands it to the Lua rules as JSON.
//
// The YAML and JSON field names are a contract with the Lua rules: renaming
// one breaks every rules script and every stored definition.
package huntdef

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
)

// Defaults applied to fields left at zero.
const (
	DefaultRadiusM          = 30 // metres: a little over typical phone GPS error
	DefaultMaxSpeedMPS      = 15 // 54 km/h: faster than any walker or cyclist in a park
	DefaultFirstFinderBonus = 10
	DefaultRating           = 1 // difficulty and terrain
)

// Hunt is one treasure hunt definition.
type Hunt struct {
	ID               string   `yaml:"id" json:"id"`
	Name             string   `yaml:"name" json:"name"`
	RadiusM          float64  `yaml:"radius_m" json:"radius_m"`                     // discovery radius, default 30
	MaxSpeedMPS      float64  `yaml:"max_speed_mps" json:"max_speed_mps"`           // default 15 (54 km/h): faster moves are rejected
	FirstFinderBonus int      `yaml:"first_finder_bonus" json:"first_finder_bonus"` // default 10
	EndsAt           int64    `yaml:"-" json:"ends_at,omitempty"`                   // unix ms, from EndsAtRaw; 0 = no end time
	EndsAtRaw        string   `yaml:"ends_at,omitempty" json:"-"`                   // RFC3339
	Beacons          []Beacon `yaml:"beacons" json:"beacons"`
}

// Beacon is one place to discover.
type Beacon struct {
	ID         string  `yaml:"id" json:"id"`
	Name       string  `yaml:"name" json:"name"`
	Lat        float64 `yaml:"lat" json:"lat"`
	Lon        float64 `yaml:"lon" json:"lon"`
	Type       string  `yaml:"type,omitempty" json:"type,omitempty"`
	Container  string  `yaml:"container,omitempty" json:"container,omitempty"`
	Difficulty float64 `yaml:"difficulty" json:"difficulty"` // 1..5, default 1
	Terrain    float64 `yaml:"terrain" json:"terrain"`       // 1..5, default 1
	Hint       string  `yaml:"hint,omitempty" json:"hint,omitempty"`
}

// idPattern is the hunt id syntax: safe in URLs, file names, Kafka keys and
// Lua table keys without escaping.
var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// maxBeaconIDLen bounds beacon ids, which end up in every player's state.
const maxBeaconIDLen = 64

// ApplyDefaults fills fields left at zero: radius, speed limit and first
// finder bonus, beacon difficulty and terrain, names (from the ids), and
// EndsAt from EndsAtRaw when only the latter is set (an unparsable EndsAtRaw
// is left for Validate to report).
//
// A FirstFinderBonus of 0 becomes DefaultFirstFinderBonus; Load keeps an
// explicit `first_finder_bonus: 0` from the YAML.
func (h *Hunt) ApplyDefaults() {
	h.applyDefaults(false)
}

func (h *Hunt) applyDefaults(keepZeroBonus bool) {
	if h.Name == "" {
		h.Name = h.ID
	}
	if h.RadiusM == 0 {
		h.RadiusM = DefaultRadiusM
	}
	if h.MaxSpeedMPS == 0 {
		h.MaxSpeedMPS = DefaultMaxSpeedMPS
	}
	if h.FirstFinderBonus == 0 && !keepZeroBonus {
		h.FirstFinderBonus = DefaultFirstFinderBonus
	}
	if h.EndsAt == 0 && h.EndsAtRaw != "" {
		if t, err := time.Parse(time.RFC3339, h.EndsAtRaw); err == nil {
			h.EndsAt = t.UnixMilli()
		}
	}
	for i := range h.Beacons {
		b := &h.Beacons[i]
		if b.Name == "" {
			b.Name = b.ID
		}
		if b.Difficulty == 0 {
			b.Difficulty = DefaultRating
		}
		if b.Terrain == 0 {
			b.Terrain = DefaultRating
		}
	}
}

// ValidationError lists everything wrong with a hunt, so a designer can fix
// a file in one pass.
type ValidationError struct {
	HuntID   string
	Problems []string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid hunt %q: %s", e.HuntID, strings.Join(e.Problems, "; "))
}

// Validate checks the hunt after defaults have been applied. It returns a
// *ValidationError naming every problem; beacons are named by index and id.
func (h *Hunt) Validate() error {
	var problems []string
	add := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
	}

	if !idPattern.MatchString(h.ID) {
		add("id %q must match %s", h.ID, idPattern)
	}
	if !(h.RadiusM > 0) || math.IsInf(h.RadiusM, 0) { // !(x > 0) also catches NaN
		add("radius_m must be > 0, got %v", h.RadiusM)
	}
	if !(h.MaxSpeedMPS > 0) || math.IsInf(h.MaxSpeedMPS, 0) {
		add("max_speed_mps must be > 0, got %v", h.MaxSpeedMPS)
	}
	if h.FirstFinderBonus < 0 {
		add("first_finder_bonus must be >= 0, got %d", h.FirstFinderBonus)
	}
	if h.EndsAtRaw != "" {
		t, err := time.Parse(time.RFC3339, h.EndsAtRaw)
		switch {
		case err != nil:
			add("ends_at %q is not an RFC 3339 time (like 2025-06-01T18:00:00Z)", h.EndsAtRaw)
		case h.EndsAt != t.UnixMilli():
			add("ends_at %q does not match EndsAt %d", h.EndsAtRaw, h.EndsAt)
		}
	}
	if h.EndsAt < 0 {
		add("ends_at must not be before 1970, got %d", h.EndsAt)
	}
	if len(h.Beacons) == 0 {
		add("at least one beacon is required")
	}

	seen := make(map[string]int, len(h.Beacons))
	for i, b := range h.Beacons {
		where := fmt.Sprintf("beacons[%d] (id %q)", i, b.ID)
		switch {
		case b.ID == "":
			add("%s: id is required", where)
		case len(b.ID) > maxBeaconIDLen:
			add("%s: id longer than %d bytes", where, maxBeaconIDLen)
		}
		if j, dup := seen[b.ID]; dup && b.ID != "" {
			add("%s: duplicate id, also beacons[%d]", where, j)
		} else {
			seen[b.ID] = i
		}
		if !(b.Lat >= -90 && b.Lat <= 90) {
			add("%s: lat %v out of range [-90, 90]", where, b.Lat)
		}
		if !(b.Lon >= -180 && b.Lon <= 180) {
			add("%s: lon %v out of range [-180, 180]", where, b.Lon)
		}
		if !(b.Difficulty >= 1 && b.Difficulty <= 5) {
			add("%s: difficulty %v out of range [1, 5]", where, b.Difficulty)
		}
		if !(b.Terrain >= 1 && b.Terrain <= 5) {
			add("%s: terrain %v out of range [1, 5]", where, b.Terrain)
		}
	}

	if len(problems) > 0 {
		return &ValidationError{HuntID: h.ID, Problems: problems}
	}
	return nil
}
