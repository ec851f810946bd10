package huntdef_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/games/treasurehunt/gpx"
	"github.com/veltrix/veltrix/games/treasurehunt/huntdef"
	"github.com/veltrix/veltrix/internal/shareddata"
)

func parseShared(t *testing.T, name string) *gpx.File {
	t.Helper()
	f, err := gpx.ParseFile(shareddata.SharedFile(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFromGPXGeocaches(t *testing.T) {
	f := parseShared(t, "geocaches_pocket_query.gpx")
	h, err := huntdef.FromGPX(f, "ratingen-multis", "Ratingen multis")
	if err != nil {
		t.Fatal(err)
	}
	if h.ID != "ratingen-multis" || h.Name != "Ratingen multis" {
		t.Errorf("id/name = %q/%q", h.ID, h.Name)
	}
	if h.RadiusM != 30 || h.MaxSpeedMPS != 15 || h.FirstFinderBonus != 10 || h.EndsAt != 0 {
		t.Errorf("defaults not applied: %+v", *h)
	}
	if len(h.Beacons) != 25 {
		t.Fatalf("got %d beacons, want 25", len(h.Beacons))
	}
	// One beacon per waypoint, in file order, id = the GC code lowercased.
	for i, b := range h.Beacons {
		if want := strings.ToLower(f.Waypoints[i].Name); b.ID != want {
			t.Errorf("beacons[%d].ID = %q, want %q", i, b.ID, want)
		}
		if b.Type != "Multi-cache" {
			t.Errorf("beacons[%d].Type = %q", i, b.Type)
		}
	}

	// Values read from the file by hand.
	tests := []struct {
		index               int
		id, name, container string
		difficulty, terrain float64
		hint                string
		hintPrefix          bool // hint is only the start of a long one
		lat, lon            float64
	}{
		{0, "gc3fgvh", "Mittagspausen Mini Multi", "Other", 2.5, 1.5, "klein, magnetisch, an grün", false, 51.288667, 6.79795},
		{1, "gc3nbde", "Glückwunsch zum Kilo PH1990", "Regular", 5, 3, "Eingang: links", false, 51.2665, 6.784417},
		{2, "gc1t26k", "Grachtensiedlung", "Regular", 1, 2, "", false, 51.2869, 6.814867}, // whitespace-only hint
		{6, "gc24dt0", "Bunker V/NZA52 (Lost Place)", "Micro", 2, 2.5, "magnetisch", false, 51.258, 6.798833},
		{8, "gc3kx98", "Waldlehrpfad", "Small", 1.5, 2, "Ehemaliger Baum", false, 51.300683, 6.798317},
		{21, "gc1qxn0", "Ratinger Türme", "Small", 2, 1, ".e.t.t.a.l.p.h.c.o.l.n.u.a.Z.", false, 51.298183, 6.847517},
		{24, "gc3nyx0", "Abseits der Hauptstraßen.", "Small", 2, 2, "Vom Ziel eins bis Ziel zwei", true, 51.243033, 6.829233},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			b := h.Beacons[tt.index]
			got := []any{b.ID, b.Name, b.Container, b.Difficulty, b.Terrain, b.Lat, b.Lon}
			want := []any{tt.id, tt.name, tt.container, tt.difficulty, tt.terrain, tt.lat, tt.lon}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("beacon = %v, want %v", got, want)
			}
			if b.Hint != tt.hint && !(tt.hintPrefix && strings.HasPrefix(b.Hint, tt.hint)) {
				t.Errorf("hint = %q, want %q", b.Hint, tt.hint)
			}
		})
	}
}

func TestFromGPXPlainWaypoints(t *testing.T) {
	t.Run("walk", func(t *testing.T) {
		h, err := huntdef.FromGPX(parseShared(t, "walk_visnjan_with_waypoints.gpx"), "visnjan", "")
		if err != nil {
			t.Fatal(err)
		}
		want := []huntdef.Beacon{
			{ID: "wpt1", Name: "wpt1", Lat: 45.2733160261, Lon: 13.7205934525, Type: "panoramic.png", Difficulty: 1, Terrain: 1},
			{ID: "wpt2", Name: "wpt2", Lat: 45.2767285945, Lon: 13.7233614922, Type: "panoramic.png", Difficulty: 1, Terrain: 1},
		}
		if !reflect.DeepEqual(h.Beacons, want) {
			t.Errorf("beacons = %+v, want %+v", h.Beacons, want)
		}
		// No file name in the GPX: the hunt is named after its id.
		if h.Name != "visnjan" {
			t.Errorf("name = %q, want visnjan", h.Name)
		}
	})

	t.Run("hawaii", func(t *testing.T) {
		f := parseShared(t, "osm_places_hawaii.gpx")
		h, err := huntdef.FromGPX(f, "hawaii", "Hawaii places")
		if err != nil {
			t.Fatal(err)
		}
		if len(h.Beacons) != 490 {
			t.Fatalf("got %d beacons, want 490", len(h.Beacons))
		}
		idRE := regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
		seen := map[string]bool{}
		byID := map[string]huntdef.Beacon{}
		for i, b := range h.Beacons {
			if seen[b.ID] {
				t.Errorf("duplicate id %q", b.ID)
			}
			seen[b.ID] = true
			byID[b.ID] = b
			if !idRE.MatchString(b.ID) || len(b.ID) > huntdef.MaxSlugLen+3 {
				t.Errorf("beacons[%d].ID = %q is not a slug", i, b.ID)
			}
		}
		tests := []struct{ id, name string }{
			{"honolulu", "Honolulu"},
			{"honolulu-2", "Honolulu"}, // duplicate name
			{"keokea", "Keokea"},
			{"keokea-2", "Kēōkea"}, // a different place whose slug collides
			{"ualapue", "‘Ualapu‘e"},
			{"aiea-heights", "ʻAiea Heights"},
			{"wpt-80", "wpt-80"}, // the 80th waypoint has no name
		}
		for _, tt := range tests {
			if b, ok := byID[tt.id]; !ok || b.Name != tt.name {
				t.Errorf("beacon %q = %+v, want name %q", tt.id, b, tt.name)
			}
		}
		// Ids are stable: a second import gives the same ones.
		h2, _ := huntdef.FromGPX(f, "hawaii", "")
		for i := range h.Beacons {
			if h.Beacons[i].ID != h2.Beacons[i].ID {
				t.Fatalf("beacons[%d] id %q then %q", i, h.Beacons[i].ID, h2.Beacons[i].ID)
			}
		}
	})

	t.Run("no waypoints", func(t *testing.T) {
		f := parseShared(t, "track_garmin_hike.gpx")
		_, err := huntdef.FromGPX(f, "hike", "")
		if err == nil || !strings.Contains(err.Error(), f.Path) || !strings.Contains(err.Error(), "at least one beacon") {
			t.Errorf("err = %v, want 'at least one beacon' naming %s", err, f.Path)
		}
	})
}

func TestFromGPXSynthetic(t *testing.T) {
	f := &gpx.File{Waypoints: []gpx.Waypoint{
		{Point: gpx.Point{Lat: 1, Lon: 2}, Name: "Old Oak", Type: "tree", Sym: "Flag"},
		{Point: gpx.Point{Lat: 1, Lon: 2}, Name: "old oak!", Sym: "Flag"},
		{Point: gpx.Point{Lat: 1, Lon: 2}, Name: "Old-Oak"},
		{Point: gpx.Point{Lat: 1, Lon: 2}, Name: "东京"},
		{Point: gpx.Point{Lat: 1, Lon: 2}, Name: "GC1", Cache: &gpx.Cache{Difficulty: 3}},
	}}
	h, err := huntdef.FromGPX(f, "x", "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range h.Beacons {
		got = append(got, b.ID+"/"+b.Type+"/"+b.Name)
	}
	want := []string{"old-oak/tree/Old Oak", "old-oak-2/Flag/old oak!", "old-oak-3//Old-Oak", "wpt-4//东京", "gc1//GC1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("beacons = %q, want %q", got, want)
	}
	// A cache without terrain gets the default; its difficulty is kept.
	if b := h.Beacons[4]; b.Difficulty != 3 || b.Terrain != 1 {
		t.Errorf("cache beacon D%v T%v, want D3 T1", b.Difficulty, b.Terrain)
	}
}

func TestSlug(t *testing.T) {
	tests := []struct{ in, want string }{
		{"GC3FGVH", "gc3fgvh"},
		{"Kēōkea", "keokea"},
		{"‘Ualapu‘e", "ualapue"},
		{"ʻAiea Heights", "aiea-heights"},
		{"Leonie`s Geburtstag", "leonies-geburtstag"},
		{"  Hello,   World!  ", "hello-world"},
		{"Abseits der Hauptstraßen.", "abseits-der-hauptstrassen"},
		{"Ærø Æble", "aero-aeble"},
		{"a--b__c", "a-b-c"},
		{"東京", ""},
		{"", ""},
		{"8/22/2014 18:48", "8-22-2014-18-48"},
		// 40 bytes at most, never ending in a hyphen.
		{"Nur für Eulenaugen (Nachtcache) und andere Nachteulen", "nur-fur-eulenaugen-nachtcache-und-andere"},
		{strings.Repeat("abcd ", 10), "abcd-abcd-abcd-abcd-abcd-abcd-abcd-abcd"},
	}
	for _, tt := range tests {
		if got := huntdef.Slug(tt.in); got != tt.want {
			t.Errorf("Slug(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := huntdef.Slug(tt.in); len(got) > huntdef.MaxSlugLen {
			t.Errorf("Slug(%q) = %q is longer than %d", tt.in, got, huntdef.MaxSlugLen)
		}
	}
}

// sample is a valid hunt exercising the YAML writer's awkward cases.
func sample() *huntdef.Hunt {
	return &huntdef.Hunt{
		ID:               "spring-2025",
		Name:             `Spring "hunt": #1`,
		RadiusM:          25.5,
		MaxSpeedMPS:      8,
		FirstFinderBonus: 0, // explicit zero must survive the round trip
		EndsAt:           time.Date(2025, 6, 1, 16, 0, 0, 0, time.UTC).UnixMilli(),
		EndsAtRaw:        "2025-06-01T18:00:00+02:00",
		Beacons: []huntdef.Beacon{
			{ID: "b1", Name: "yes", Lat: -33.8688197, Lon: 151.2092955, Difficulty: 1, Terrain: 5, Hint: "null"},
			{ID: "b-2", Name: "Kēōkea", Lat: 0.0000001, Lon: -180, Type: "Multi-cache", Container: "Micro",
				Difficulty: 4.5, Terrain: 1.5, Hint: "line one \nline two\n\ttabbed: #not a comment"},
		},
	}
}

func TestWriteLoadRoundTrip(t *testing.T) {
	// The geocaches give real multi-line hints with trailing spaces, quotes
	// and umlauts.
	pq, err := huntdef.FromGPX(parseShared(t, "geocaches_pocket_query.gpx"), "pq", "Pocket query")
	if err != nil {
		t.Fatal(err)
	}
	hunts := map[string]*huntdef.Hunt{"sample": sample(), "geocaches": pq}

	for name, h := range hunts {
		t.Run(name, func(t *testing.T) {
			if err := h.Validate(); err != nil {
				t.Fatalf("the hunt to write is invalid: %v", err)
			}
			var buf bytes.Buffer
			if err := h.WriteWithHeader(&buf, "generated by a test\nfrom "+name); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(buf.String(), "# generated by a test\n# from "+name+"\n") {
				t.Errorf("header missing:\n%s", buf.String()[:80])
			}
			path := writeFile(t, t.TempDir(), name+".yaml", buf.String())
			got, err := huntdef.Load(path)
			if err != nil {
				t.Fatalf("Load after Write: %v\n%s", err, buf.String())
			}
			if !reflect.DeepEqual(got, h) {
				t.Errorf("round trip changed the hunt:\n got %+v\nwant %+v\nYAML:\n%s", *got, *h, buf.String())
			}
		})
	}
}

func TestWriteEndsAtOnly(t *testing.T) {
	// A hunt built in code may set EndsAt only; the YAML still carries it.
	h := sample()
	h.EndsAtRaw = ""
	h.EndsAt = time.Date(2025, 6, 1, 16, 0, 0, 250e6, time.UTC).UnixMilli()
	var buf bytes.Buffer
	if err := h.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "ends_at: \"2025-06-01T16:00:00.25Z\"") &&
		!strings.Contains(buf.String(), "ends_at: 2025-06-01T16:00:00.25Z") {
		t.Errorf("ends_at not written:\n%s", buf.String())
	}
	got, err := huntdef.Decode(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got.EndsAt != h.EndsAt {
		t.Errorf("EndsAt = %d, want %d", got.EndsAt, h.EndsAt)
	}
}

func TestLoadDefaultsAndJSON(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "mini.yaml", `
id: mini
beacons:
  - {id: a, lat: 45.27, lon: 13.72}
`)
	h, err := huntdef.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := &huntdef.Hunt{ID: "mini", Name: "mini", RadiusM: 30, MaxSpeedMPS: 15, FirstFinderBonus: 10,
		Beacons: []huntdef.Beacon{{ID: "a", Name: "a", Lat: 45.27, Lon: 13.72, Difficulty: 1, Terrain: 1}}}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("Load = %+v, want %+v", *h, *want)
	}
	data, err := h.JSON()
	if err != nil {
		t.Fatal(err)
	}
	// No end time: the key is omitted; the raw form never reaches the rules.
	wantJSON := `{"id":"mini","name":"mini","radius_m":30,"max_speed_mps":15,"first_finder_bonus":10,` +
		`"beacons":[{"id":"a","name":"a","lat":45.27,"lon":13.72,"difficulty":1,"terrain":1}]}`
	if string(data) != wantJSON {
		t.Errorf("JSON = %s\nwant   %s", data, wantJSON)
	}

	// Explicit zero bonus and an end time (unquoted: YAML sees a timestamp).
	path = writeFile(t, dir, "timed.yaml", `
id: timed
first_finder_bonus: 0
ends_at: 2025-06-01T18:00:00+02:00
beacons: [{id: a, lat: 1, lon: 2, difficulty: 2.5, terrain: 4, hint: "look up"}]
`)
	h, err = huntdef.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	wantMS := time.Date(2025, 6, 1, 16, 0, 0, 0, time.UTC).UnixMilli()
	if h.FirstFinderBonus != 0 || h.EndsAt != wantMS || h.EndsAtRaw != "2025-06-01T18:00:00+02:00" {
		t.Errorf("bonus/ends_at = %d/%d/%q, want 0/%d", h.FirstFinderBonus, h.EndsAt, h.EndsAtRaw, wantMS)
	}
	data, err = h.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m["ends_at"] != float64(wantMS) || m["first_finder_bonus"] != float64(0) {
		t.Errorf("JSON ends_at/bonus = %v/%v, want %d/0", m["ends_at"], m["first_finder_bonus"], wantMS)
	}
	b := m["beacons"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "name", "lat", "lon", "difficulty", "terrain", "hint"} {
		if _, ok := b[k]; !ok {
			t.Errorf("beacon JSON lacks %q: %s", k, data)
		}
	}
}

func TestJSONEmptyBeaconsIsArray(t *testing.T) {
	data, err := (&huntdef.Hunt{ID: "x"}).JSON()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"beacons":[]`) {
		t.Errorf("JSON = %s, want beacons as []", data)
	}
}

func TestLoadErrors(t *testing.T) {
	const beacons = "beacons: [{id: a, lat: 1, lon: 2}]\n"
	tests := []struct {
		name, content string
		want          []string
	}{
		{"unknown top-level key", "id: x\nradius: 50\n" + beacons,
			[]string{`line 2: unknown field "radius" in hunt`}},
		{"unknown beacon key", "id: x\nbeacons:\n  - id: a\n    lat: 1\n    lon: 2\n    lattitude: 3\n",
			[]string{`line 6: unknown field "lattitude" in beacon`}},
		{"empty file", "", []string{"empty hunt definition"}},
		{"two documents", "id: x\n" + beacons + "---\nid: y\n", []string{"more than one YAML document"}},
		{"wrong type", "id: x\nbeacons: [{id: a, lat: north, lon: 2}]\n", []string{"line 2", "north"}},
		{"bad syntax", "id: x\n  name: [\n", []string{"yaml:"}},
		{"bad ends_at", "id: x\nends_at: next tuesday\n" + beacons, []string{`ends_at "next tuesday" is not an RFC 3339 time`}},
		{"invalid hunt", "id: X\n" + beacons, []string{`invalid hunt "X"`, `id "X" must match`}},
		{"bad beacon", "id: x\nbeacons: [{id: a, lat: 1, lon: 2}, {id: b, lat: 91, lon: 2}]\n",
			[]string{`beacons[1] (id "b"): lat 91 out of range [-90, 90]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "hunt.yaml", tt.content)
			_, err := huntdef.Load(path)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "huntdef: "+path+": ") {
				t.Errorf("error %q does not name the file first", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}

	missing := filepath.Join(t.TempDir(), "none.yaml")
	if _, err := huntdef.Load(missing); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("Load(missing) = %v", err)
	}
}

func TestValidate(t *testing.T) {
	valid := func() *huntdef.Hunt {
		h := &huntdef.Hunt{ID: "h", Beacons: []huntdef.Beacon{
			{ID: "a", Lat: 1, Lon: 2},
			{ID: "b", Lat: -90, Lon: 180},
		}}
		h.ApplyDefaults()
		return h
	}
	tests := []struct {
		name   string
		modify func(h *huntdef.Hunt)
		want   []string // substrings of the error; none = valid
	}{
		{"valid", func(h *huntdef.Hunt) {}, nil},
		{"64-char id", func(h *huntdef.Hunt) { h.ID = strings.Repeat("a", 64) }, nil},
		{"id with digits, _ and -", func(h *huntdef.Hunt) { h.ID = "0hunt_2025-spring" }, nil},
		{"zero bonus", func(h *huntdef.Hunt) { h.FirstFinderBonus = 0 }, nil},
		{"boundary ratings", func(h *huntdef.Hunt) { h.Beacons[0].Difficulty, h.Beacons[0].Terrain = 5, 1 }, nil},
		{"empty id", func(h *huntdef.Hunt) { h.ID = "" }, []string{`id "" must match`}},
		{"uppercase id", func(h *huntdef.Hunt) { h.ID = "Hunt" }, []string{`id "Hunt" must match`}},
		{"id starting with -", func(h *huntdef.Hunt) { h.ID = "-h" }, []string{"must match"}},
		{"65-char id", func(h *huntdef.Hunt) { h.ID = strings.Repeat("a", 65) }, []string{"must match"}},
		{"no beacons", func(h *huntdef.Hunt) { h.Beacons = nil }, []string{"at least one beacon"}},
		{"duplicate beacon ids", func(h *huntdef.Hunt) { h.Beacons[1].ID = "a" },
			[]string{`beacons[1] (id "a"): duplicate id, also beacons[0]`}},
		{"empty beacon id", func(h *huntdef.Hunt) { h.Beacons[1].ID = "" }, []string{`beacons[1] (id ""): id is required`}},
		{"lat too big", func(h *huntdef.Hunt) { h.Beacons[1].Lat = 90.0001 }, []string{`beacons[1] (id "b"): lat 90.0001 out of range`}},
		{"lon too small", func(h *huntdef.Hunt) { h.Beacons[0].Lon = -181 }, []string{`beacons[0] (id "a"): lon -181 out of range`}},
		{"NaN lat", func(h *huntdef.Hunt) { h.Beacons[0].Lat = math.NaN() }, []string{"lat NaN out of range"}},
		{"difficulty 0", func(h *huntdef.Hunt) { h.Beacons[0].Difficulty = 0 }, []string{`beacons[0] (id "a"): difficulty 0 out of range [1, 5]`}},
		{"terrain 5.5", func(h *huntdef.Hunt) { h.Beacons[1].Terrain = 5.5 }, []string{`beacons[1] (id "b"): terrain 5.5 out of range [1, 5]`}},
		{"radius 0", func(h *huntdef.Hunt) { h.RadiusM = 0 }, []string{"radius_m must be > 0"}},
		{"radius +Inf", func(h *huntdef.Hunt) { h.RadiusM = math.Inf(1) }, []string{"radius_m must be > 0"}},
		{"negative speed", func(h *huntdef.Hunt) { h.MaxSpeedMPS = -1 }, []string{"max_speed_mps must be > 0"}},
		{"negative bonus", func(h *huntdef.Hunt) { h.FirstFinderBonus = -5 }, []string{"first_finder_bonus must be >= 0"}},
		{"bad ends_at", func(h *huntdef.Hunt) { h.EndsAtRaw = "2025-06-01" }, []string{"not an RFC 3339 time"}},
		{"several problems at once", func(h *huntdef.Hunt) { h.ID = "X"; h.Beacons[0].Terrain = 9; h.Beacons[1].Lat = 100 },
			[]string{"must match", "; ", "terrain 9", "lat 100"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := valid()
			tt.modify(h)
			err := h.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			var ve *huntdef.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate() = %v, want a *ValidationError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadDir(t *testing.T) {
	hunt := func(id string) string { return "id: " + id + "\nbeacons: [{id: a, lat: 1, lon: 2}]\n" }

	dir := t.TempDir()
	writeFile(t, dir, "b.yaml", hunt("bravo"))
	writeFile(t, dir, "a.yml", hunt("alpha"))
	writeFile(t, dir, "C.YAML", hunt("charlie"))
	writeFile(t, dir, "notes.txt", "not a hunt")
	writeFile(t, dir, ".#b.yaml", "editor lock file")
	if err := os.Mkdir(filepath.Join(dir, "sub.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	hunts, err := huntdef.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, h := range hunts {
		ids = append(ids, h.ID)
	}
	// File name order: uppercase sorts first.
	if want := []string{"charlie", "alpha", "bravo"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("ids = %v, want %v", ids, want)
	}

	t.Run("duplicate id", func(t *testing.T) {
		dir := t.TempDir()
		first := writeFile(t, dir, "one.yaml", hunt("same"))
		second := writeFile(t, dir, "two.yaml", hunt("same"))
		_, err := huntdef.LoadDir(dir)
		if err == nil || !strings.Contains(err.Error(), `duplicate hunt id "same"`) ||
			!strings.Contains(err.Error(), first) || !strings.Contains(err.Error(), second) {
			t.Errorf("err = %v, want a duplicate id error naming both files", err)
		}
	})

	t.Run("every broken file reported", func(t *testing.T) {
		dir := t.TempDir()
		bad1 := writeFile(t, dir, "bad1.yaml", "id: x\nbogus: 1\n")
		bad2 := writeFile(t, dir, "bad2.yaml", "id: Y\nbeacons: [{id: a, lat: 1, lon: 2}]\n")
		writeFile(t, dir, "good.yaml", hunt("good"))
		hunts, err := huntdef.LoadDir(dir)
		if err == nil || hunts != nil || !strings.Contains(err.Error(), bad1) || !strings.Contains(err.Error(), bad2) {
			t.Errorf("LoadDir = %v, %v; want an error naming %s and %s", hunts, err, bad1, bad2)
		}
	})

	t.Run("missing dir", func(t *testing.T) {
		if _, err := huntdef.LoadDir(filepath.Join(dir, "nope")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("err = %v, want not-exist", err)
		}
	})
}
