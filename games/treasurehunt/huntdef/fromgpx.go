package huntdef

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/veltrix/veltrix/games/treasurehunt/gpx"
)

// MaxSlugLen is the longest id Slug returns.
const MaxSlugLen = 40

// FromGPX builds a hunt with one beacon per waypoint of f, in file order
// (tracks and routes are ignored). Defaults are applied and the result is
// validated; name defaults to the file's name, then to id.
//
// Beacon ids are slugs of the waypoint names (for geocaches the GC code,
// which is unique and stable), "wpt-<n>" for an unnamed n-th waypoint, with
// "-2", "-3"... appended to repeats, so re-importing the same file gives the
// same ids. Geocache waypoints take the cache's display name, type,
// container, difficulty, terrain and hint; plain ones get their type from
// <type>, else <sym>, and difficulty and terrain 1.
func FromGPX(f *gpx.File, id, name string) (*Hunt, error) {
	if name == "" {
		name = f.Name
	}
	h := &Hunt{ID: id, Name: name, Beacons: make([]Beacon, 0, len(f.Waypoints))}

	used := make(map[string]bool, len(f.Waypoints))
	for i, w := range f.Waypoints {
		base := Slug(w.Name)
		if base == "" {
			base = "wpt-" + strconv.Itoa(i+1)
		}
		bid := base
		for n := 2; used[bid]; n++ {
			bid = base + "-" + strconv.Itoa(n)
		}
		used[bid] = true

		b := Beacon{ID: bid, Name: w.Name, Lat: w.Lat, Lon: w.Lon, Type: w.Type}
		if b.Type == "" {
			b.Type = w.Sym
		}
		if c := w.Cache; c != nil {
			if c.Name != "" {
				b.Name = c.Name
			}
			if c.Type != "" {
				b.Type = c.Type
			}
			b.Container = c.Container
			b.Difficulty = c.Difficulty
			b.Terrain = c.Terrain
			b.Hint = c.EncodedHints
		}
		h.Beacons = append(h.Beacons, b)
	}

	h.ApplyDefaults()
	if err := h.Validate(); err != nil {
		if f.Path != "" {
			return nil, fmt.Errorf("huntdef: from %s: %w", f.Path, err)
		}
		return nil, fmt.Errorf("huntdef: from GPX: %w", err)
	}
	return h, nil
}

// Slug turns a name into a stable id: lowercase ASCII letters, digits and
// single hyphens, at most MaxSlugLen bytes, "" when nothing is left. Latin
// accented letters lose their accents ("Kēōkea" -> "keokea"), apostrophes
// and the Hawaiian ʻokina vanish ("Leonie`s" -> "leonies"), everything else
// separates words. The result is a valid hunt id whenever it is non-empty.
func Slug(name string) string {
	var b strings.Builder
	pendingSep := false
	emit := func(s string) {
		if pendingSep && b.Len() > 0 {
			b.WriteByte('-')
		}
		pendingSep = false
		b.WriteString(s)
	}
	for _, r := range name {
		r = unicode.ToLower(r)
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			emit(string(r))
		case strings.ContainsRune(apostrophes, r):
			// dropped without separating: "‘Ualapu‘e" -> "ualapue"
		default:
			if s, ok := foldTable[r]; ok {
				emit(s)
			} else {
				pendingSep = true
			}
		}
	}
	s := b.String()
	if len(s) > MaxSlugLen {
		s = strings.TrimRight(s[:MaxSlugLen], "-")
	}
	return s
}

const apostrophes = "'`´‘’ʻʼ"

// foldTable maps lowercase Latin-1 and Latin Extended-A letters to ASCII.
// A table keeps this free of golang.org/x/text; it covers the European and
// Hawaiian names in real GPX files, and other scripts simply separate words.
var foldTable = func() map[rune]string {
	groups := map[string]string{
		"a": "àáâãäåāăą", "c": "çćĉċč", "d": "ďđð", "e": "èéêëēĕėęě",
		"g": "ĝğġģ", "h": "ĥħ", "i": "ìíîïĩīĭįı", "j": "ĵ", "k": "ķĸ",
		"l": "ĺļľŀł", "n": "ñńņňŉŋ", "o": "òóôõöøōŏő", "r": "ŕŗř",
		"s": "śŝşšſ", "t": "ţťŧ", "u": "ùúûüũūŭůűų", "w": "ŵ", "y": "ýÿŷ",
		"z": "źżž", "ss": "ß", "ae": "æ", "oe": "œ", "th": "þ", "ij": "ĳ",
	}
	m := make(map[rune]string)
	for ascii, letters := range groups {
		for _, r := range letters {
			m[r] = ascii
		}
	}
	return m
}()
