package gpx_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/engine/geo"
	"github.com/veltrix/veltrix/games/treasurehunt/gpx"
	"github.com/veltrix/veltrix/internal/shareddata"
)

func parseShared(t *testing.T, name string) *gpx.File {
	t.Helper()
	path := shareddata.SharedFile(t, name)
	f, err := gpx.ParseFile(path)
	if err != nil {
		t.Fatalf("ParseFile(%s): %v", name, err)
	}
	if f.Path != path {
		t.Errorf("Path = %q, want %q", f.Path, path)
	}
	return f
}

func TestWalkWithWaypoints(t *testing.T) {
	f := parseShared(t, "walk_visnjan_with_waypoints.gpx")

	if f.Version != "1.0" {
		t.Errorf("Version = %q, want 1.0", f.Version)
	}
	if len(f.Waypoints) != 2 {
		t.Fatalf("got %d waypoints, want 2", len(f.Waypoints))
	}
	for i, want := range []struct {
		name     string
		lat, lon float64
	}{
		{"wpt1", 45.2733160261, 13.7205934525},
		{"wpt2", 45.2767285945, 13.7233614922},
	} {
		w := f.Waypoints[i]
		if w.Name != want.name || w.Lat != want.lat || w.Lon != want.lon || w.Sym != "panoramic.png" {
			t.Errorf("waypoint %d = %q (%v, %v) sym %q, want %q (%v, %v) sym panoramic.png",
				i, w.Name, w.Lat, w.Lon, w.Sym, want.name, want.lat, want.lon)
		}
		if w.HasEle || !w.Time.IsZero() || w.Cache != nil {
			t.Errorf("waypoint %d: unexpected ele/time/cache: %+v", i, w)
		}
	}

	if len(f.Tracks) != 1 || len(f.Tracks[0].Segments) != 1 {
		t.Fatalf("got %d tracks, want 1 track with 1 segment", len(f.Tracks))
	}
	trk := f.Tracks[0]
	// <type/> and <desc/> are empty elements: tolerated, left empty.
	if trk.Name != "8/22/2014 18:48" || trk.Type != "" || trk.Desc != "" {
		t.Errorf("track name/type/desc = %q/%q/%q", trk.Name, trk.Type, trk.Desc)
	}
	pts := f.TrackPoints()
	if len(pts) != 413 {
		t.Fatalf("got %d track points, want 413", len(pts))
	}
	first, last := pts[0], pts[len(pts)-1]
	if first.Lat != 45.273245 || first.Lon != 13.715185 || !first.HasEle || first.Ele != 271 ||
		!first.Time.Equal(time.Date(2014, 8, 22, 16, 48, 52, 0, time.UTC)) {
		t.Errorf("first point = %+v", first)
	}
	if !last.Time.Equal(time.Date(2014, 8, 22, 17, 19, 42, 0, time.UTC)) || last.Lat != 45.273292 {
		t.Errorf("last point = %+v", last)
	}
	for i := 1; i < len(pts); i++ {
		if !pts[i].Time.After(pts[i-1].Time) {
			t.Fatalf("point %d time %v not after %v", i, pts[i].Time, pts[i-1].Time)
		}
	}
}

// TestWalkGeometry checks the facts an end-to-end replay of the walk relies
// on: the walker never exceeds the default 15 m/s speed limit, and both
// waypoints lie a few metres from a recorded point, well inside the default
// 30 m discovery radius.
func TestWalkGeometry(t *testing.T) {
	f := parseShared(t, "walk_visnjan_with_waypoints.gpx")
	pts := f.TrackPoints()

	var maxSpeed, total float64
	for i := 1; i < len(pts); i++ {
		d := geo.Distance(pts[i-1].Lat, pts[i-1].Lon, pts[i].Lat, pts[i].Lon)
		total += d
		if dt := pts[i].Time.Sub(pts[i-1].Time).Seconds(); d/dt > maxSpeed {
			maxSpeed = d / dt
		}
	}
	t.Logf("walk: %.0f m, max speed %.2f m/s", total, maxSpeed)
	if maxSpeed < 4.80 || maxSpeed > 4.82 {
		t.Errorf("max speed = %.3f m/s, want 4.81", maxSpeed)
	}
	if total < 4440 || total > 4450 {
		t.Errorf("length = %.0f m, want about 4446", total)
	}

	for i, want := range []struct {
		dist  float64 // metres to the nearest track point
		index int     // that point
	}{{4.551, 63}, {4.233, 285}} {
		w := f.Waypoints[i]
		best, bestIdx := math.Inf(1), -1
		for j, p := range pts {
			if d := geo.Distance(w.Lat, w.Lon, p.Lat, p.Lon); d < best {
				best, bestIdx = d, j
			}
		}
		t.Logf("%s: %.2f m from track point %d", w.Name, best, bestIdx)
		if math.Abs(best-want.dist) > 0.01 || bestIdx != want.index {
			t.Errorf("%s: nearest track point %d at %.3f m, want %d at %.3f m", w.Name, bestIdx, best, want.index, want.dist)
		}
	}
}

func TestGeocachePocketQuery(t *testing.T) {
	f := parseShared(t, "geocaches_pocket_query.gpx")

	if f.Name != "test" || !f.Time.Equal(time.Date(2014, 5, 14, 14, 58, 0, 82583600, time.UTC)) {
		t.Errorf("file name/time = %q %v", f.Name, f.Time)
	}
	if len(f.Waypoints) != 25 {
		t.Fatalf("got %d waypoints, want 25", len(f.Waypoints))
	}
	byCode := map[string]gpx.Waypoint{}
	for i, w := range f.Waypoints {
		if w.Cache == nil {
			t.Fatalf("waypoint %d (%s) has no cache extension", i, w.Name)
		}
		c := w.Cache
		if c.Type != "Multi-cache" || w.Type != "Geocache|Multi-cache" {
			t.Errorf("%s: type %q / %q", w.Name, c.Type, w.Type)
		}
		if c.Difficulty < 1 || c.Difficulty > 5 || c.Terrain < 1 || c.Terrain > 5 {
			t.Errorf("%s: difficulty/terrain %v/%v out of range", w.Name, c.Difficulty, c.Terrain)
		}
		byCode[w.Name] = w
	}

	// Values read from the file by hand.
	tests := []struct {
		code, name, container  string
		difficulty, terrain    float64
		hint                   string // exact, or prefix when hintPrefix
		hintPrefix             bool
		lat, lon               float64
		sym                    string
		cacheID, owner, region string
	}{
		{"GC3FGVH", "Mittagspausen Mini Multi", "Other", 2.5, 1.5, "klein, magnetisch, an grün", false,
			51.288667, 6.79795, "Geocache Found", "2822507", "WoogeRocker", "Nordrhein-Westfalen"},
		{"GC3NBDE", "Glückwunsch zum Kilo PH1990", "Regular", 5, 3, "Eingang: links", false,
			51.2665, 6.784417, "Geocache", "", "", ""},
		// The hint element holds only whitespace: trimmed to "".
		{"GC1T26K", "Grachtensiedlung", "Regular", 1, 2, "", false, 51.2869, 6.814867, "Geocache", "", "", ""},
		{"GC24DT0", "Bunker V/NZA52 (Lost Place)", "Micro", 2, 2.5, "magnetisch", false, 51.258, 6.798833, "", "", "", ""},
		{"GC1WEWW", "Nur für Eulenaugen (Nachtcache)", "Regular", 4.5, 3.5, "...retiew sawte thets", true, 51.2681, 6.832667, "", "", "", ""},
		{"GC1QXN0", "Ratinger Türme", "Small", 2, 1, ".e.t.t.a.l.p.h.c.o.l.n.u.a.Z.", false, 51.298183, 6.847517, "", "", "", ""},
		{"GC30BZQ", `Unterrather "hier waren die Bunker"-Runde`, "Regular", 1.5, 1.5,
			"WP2: am grauen Pfahl oben\nWP3: gelb hinter dem Zaun, nur schauen, nicht rüberklettern", false, 51.261283, 6.769417, "", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			w, ok := byCode[tt.code]
			if !ok {
				t.Fatalf("no waypoint named %s", tt.code)
			}
			c := w.Cache
			if c.Name != tt.name || c.Container != tt.container || c.Difficulty != tt.difficulty || c.Terrain != tt.terrain {
				t.Errorf("cache = %q %q D%v T%v, want %q %q D%v T%v",
					c.Name, c.Container, c.Difficulty, c.Terrain, tt.name, tt.container, tt.difficulty, tt.terrain)
			}
			if tt.hintPrefix && !strings.HasPrefix(c.EncodedHints, tt.hint) || !tt.hintPrefix && c.EncodedHints != tt.hint {
				t.Errorf("hint = %q, want %q", c.EncodedHints, tt.hint)
			}
			if w.Lat != tt.lat || w.Lon != tt.lon {
				t.Errorf("position = %v, %v, want %v, %v", w.Lat, w.Lon, tt.lat, tt.lon)
			}
			if tt.sym != "" && w.Sym != tt.sym {
				t.Errorf("sym = %q, want %q", w.Sym, tt.sym)
			}
			if tt.cacheID != "" && (c.ID != tt.cacheID || c.Owner != tt.owner || c.State != tt.region) {
				t.Errorf("id/owner/state = %q/%q/%q", c.ID, c.Owner, c.State)
			}
		})
	}

	// HTML escaped inside descriptions comes out as plain (unescaped) text.
	if d := byCode["GC1T26K"].Cache.LongDescription; !strings.HasPrefix(d, `<div align="center">`) {
		t.Errorf("GC1T26K long description starts %q", d[:min(len(d), 40)])
	}
}

func TestGarminHike(t *testing.T) {
	f := parseShared(t, "track_garmin_hike.gpx")

	if f.Version != "1.1" || f.Creator != "GPSMAP 64s" {
		t.Errorf("version/creator = %q/%q", f.Version, f.Creator)
	}
	// GPX 1.1 keeps the file time in <metadata>.
	if !f.Time.Equal(time.Date(2019, 5, 2, 8, 53, 17, 0, time.UTC)) {
		t.Errorf("metadata time = %v", f.Time)
	}
	if len(f.Waypoints) != 0 || len(f.Tracks) != 1 {
		t.Fatalf("got %d waypoints, %d tracks; want 0, 1", len(f.Waypoints), len(f.Tracks))
	}
	trk := f.Tracks[0]
	if trk.Name != "2019-05-01 06:31:11 Tag" {
		t.Errorf("track name = %q", trk.Name)
	}
	if len(trk.Segments) != 2 {
		t.Fatalf("got %d segments, want 2", len(trk.Segments))
	}
	if n0, n1 := len(trk.Segments[0].Points), len(trk.Segments[1].Points); n0 != 35 || n1 != 3505 {
		t.Errorf("segment sizes = %d, %d, want 35, 3505", n0, n1)
	}
	pts := f.TrackPoints()
	if len(pts) != 3540 {
		t.Fatalf("got %d points, want 3540", len(pts))
	}
	// 10-decimal coordinates survive; segments come back in file order.
	if p := pts[0]; p.Lat != 47.4844814278 || p.Lon != 10.9756895620 || p.Ele != 860 {
		t.Errorf("first point = %+v", p)
	}
	if p := pts[35]; p != trk.Segments[1].Points[0] || p.Lat != 47.4845448788 {
		t.Errorf("point 35 = %+v, want the first of segment 2", p)
	}
	for i, p := range pts {
		if !p.HasEle || p.Time.IsZero() {
			t.Fatalf("point %d lacks ele or time: %+v", i, p)
		}
		if i > 0 && p.Time.Before(pts[i-1].Time) {
			t.Fatalf("point %d goes back in time", i)
		}
	}
}

func TestOSMPlacesHawaii(t *testing.T) {
	f := parseShared(t, "osm_places_hawaii.gpx")

	if len(f.Waypoints) != 490 {
		t.Fatalf("got %d waypoints, want 490", len(f.Waypoints))
	}
	// Non-ASCII names are intact (macrons, ʻokina, curly quotes).
	for i, want := range map[int]string{3: "Kēahole", 7: "Kēōkea", 9: "‘Ualapu‘e", 11: "ʻAiea Heights", 13: "Āliamanu"} {
		w := f.Waypoints[i]
		if w.Name != want || w.Cmt != want || w.Desc != want {
			t.Errorf("waypoint %d name/cmt/desc = %q/%q/%q, want %q", i, w.Name, w.Cmt, w.Desc, want)
		}
	}
	counts := map[string]int{}
	var unnamed int
	minLon := 0.0
	for _, w := range f.Waypoints {
		if w.Name == "" {
			unnamed++
		} else {
			counts[w.Name]++
		}
		minLon = min(minLon, w.Lon)
		if !w.Time.IsZero() {
			t.Errorf("%s has a time %v; the file's waypoints have none", w.Name, w.Time)
		}
	}
	if counts["Honolulu"] != 2 || counts["Waimea"] != 2 {
		t.Errorf("Honolulu×%d Waimea×%d, want 2 each (duplicate names are kept)", counts["Honolulu"], counts["Waimea"])
	}
	// 12 places have no <name> at all (only a position).
	if unnamed != 12 {
		t.Errorf("%d unnamed waypoints, want 12", unnamed)
	}
	if minLon != -178.3342368 {
		t.Errorf("westernmost lon = %v, want -178.3342368", minLon)
	}
	if !f.Time.Equal(time.Unix(0, 0)) {
		t.Errorf("file time = %v, want the Unix epoch", f.Time)
	}
}

// writeTemp writes content to a file named name in a temp dir.
func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const gpx10Head = `<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.0" creator="test" xmlns="http://www.topografix.com/GPX/1/0">
`

func TestParseFileErrors(t *testing.T) {
	tests := []struct {
		name    string
		file    string // file name, shown in the error
		content string
		want    []string // substrings of the error, besides the path
		notGPX  bool     // errors.Is(err, ErrNotGPX)
		line    int      // wanted *Error.Line, 0 to skip the check
	}{
		{name: "empty file", file: "empty.gpx", content: "",
			want: []string{"not a GPX file: empty file"}, notGPX: true},
		{name: "whitespace only", file: "blank.gpx", content: "\n  \n",
			want: []string{"not a GPX file: no XML root element"}, notGPX: true},
		{name: "plain text", file: "notes.txt", content: "lat,lon\n45.1,13.2\n",
			want: []string{"not a GPX file: not XML", `"lat,lon`}, notGPX: true},
		{name: "binary", file: "x.bin", content: "<\x00\x01\x02",
			want: []string{"not a GPX file: invalid XML"}, notGPX: true},
		{name: "HTML page", file: "x.txt",
			content: "<!DOCTYPE html>\n<html><head><title>Oops</title><meta charset=utf-8></head><body>404</body></html>\n",
			want:    []string{"not a GPX file: root element is <html>, want <gpx>"}, notGPX: true},
		{name: "HTML lowercase doctype", file: "page.gpx",
			content: "\n<!doctype html>\n<!-- saved page -->\n<html lang=\"en\"><body>&nbsp;</body></html>",
			want:    []string{"not a GPX file: root element is <html>, want <gpx>"}, notGPX: true},
		{name: "KML", file: "track.kml",
			content: `<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document/></kml>`,
			want:    []string{"not a GPX file: root element is <kml>, want <gpx>"}, notGPX: true},
		{name: "foreign gpx namespace", file: "odd.gpx", content: `<gpx xmlns="http://example.com/gpx"></gpx>`,
			want: []string{"not a GPX file", `namespace is "http://example.com/gpx"`}, notGPX: true},
		{name: "bad lat", file: "badlat.gpx",
			content: gpx10Head + "<wpt lat=\"1\" lon=\"2\"/>\n<wpt lat=\"1\" lon=\"2\"/>\n<wpt lat=\"abc\" lon=\"2\"/>\n</gpx>",
			want:    []string{`line 5: waypoint 3: invalid lat "abc"`}, line: 5},
		{name: "lat out of range", file: "north.gpx",
			content: gpx10Head + `<wpt lat="95" lon="2"/></gpx>`,
			want:    []string{"waypoint 1: lat 95 out of range [-90, 90]"}},
		{name: "lon out of range", file: "east.gpx",
			content: gpx10Head + `<wpt lat="45" lon="-180.5"/></gpx>`,
			want:    []string{"waypoint 1: lon -180.5 out of range [-180, 180]"}},
		{name: "NaN lat", file: "nan.gpx",
			content: gpx10Head + `<wpt lat="NaN" lon="2"/></gpx>`,
			want:    []string{`waypoint 1: invalid lat "NaN"`}},
		{name: "missing lon", file: "nolon.gpx",
			content: gpx10Head + `<wpt lat="45"><name>x</name></wpt></gpx>`,
			want:    []string{"waypoint 1: missing lon"}},
		{name: "bad track point", file: "trk.gpx",
			content: gpx10Head + "<trk><trkseg>\n<trkpt lat=\"1\" lon=\"2\"/>\n</trkseg><trkseg>\n<trkpt lat=\"1\" lon=\"2\"/>\n<trkpt lat=\"1\" lon=\"\"/>\n</trkseg></trk></gpx>",
			want:    []string{`line 7: track 1 segment 2 point 2: invalid lon ""`}, line: 7},
		{name: "bad route point", file: "rte.gpx",
			content: gpx10Head + `<rte><rtept lat="91" lon="2"/></rte></gpx>`,
			want:    []string{"route 1 point 1: lat 91 out of range"}},
		{name: "bad ele", file: "ele.gpx",
			content: gpx10Head + "<wpt lat=\"1\" lon=\"2\">\n<ele>high</ele></wpt></gpx>",
			want:    []string{`line 4: waypoint 1: invalid ele "high"`}, line: 4},
		{name: "bad time", file: "time.gpx",
			content: gpx10Head + `<wpt lat="1" lon="2"><time>yesterday</time></wpt></gpx>`,
			want:    []string{`waypoint 1: invalid time "yesterday"`}},
		{name: "bad difficulty", file: "gc.gpx",
			content: gpx10Head + `<wpt lat="1" lon="2"><cache xmlns="http://www.groundspeak.com/cache/1/0"><difficulty>hard</difficulty></cache></wpt></gpx>`,
			want:    []string{`waypoint 1: cache difficulty: invalid number "hard"`}},
		{name: "truncated", file: "cut.gpx",
			content: gpx10Head + "<wpt lat=\"1\" lon=\"2\">\n<name>x</na",
			want:    []string{"invalid XML"}},
		{name: "unsupported encoding", file: "sjis.gpx",
			content: `<?xml version="1.0" encoding="Shift_JIS"?><gpx/>`,
			want:    []string{"invalid XML", `unsupported encoding "Shift_JIS"`}, notGPX: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeTemp(t, tt.file, tt.content)
			f, err := gpx.ParseFile(path)
			if err == nil {
				t.Fatalf("ParseFile succeeded: %+v", f)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "gpx: "+path+": ") {
				t.Errorf("error %q does not start with %q", msg, "gpx: "+path+": ")
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			if got := errors.Is(err, gpx.ErrNotGPX); got != tt.notGPX {
				t.Errorf("errors.Is(err, ErrNotGPX) = %v, want %v (%v)", got, tt.notGPX, err)
			}
			var pe *gpx.Error
			if !errors.As(err, &pe) || pe.Path != path {
				t.Fatalf("error %v is not a *gpx.Error for %s", err, path)
			}
			if tt.line != 0 && pe.Line != tt.line {
				t.Errorf("Line = %d, want %d", pe.Line, tt.line)
			}
		})
	}
}

func TestParseFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.gpx")
	_, err := gpx.ParseFile(path)
	if err == nil || !strings.Contains(err.Error(), path) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want a not-exist error naming %s", err, path)
	}
}

func TestParseReaderErrorHasNoPath(t *testing.T) {
	_, err := gpx.Parse(strings.NewReader(gpx10Head + `<wpt lat="x" lon="1"/></gpx>`))
	if want := `gpx: line 3: waypoint 1: invalid lat "x"`; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

func TestParseTolerant(t *testing.T) {
	tests := []struct {
		name  string
		input string
		check func(t *testing.T, f *gpx.File)
	}{
		{
			name: "empty ele and time",
			input: gpx10Head + `<wpt lat="1.5" lon="-2.5"><ele></ele><time></time><name> A </name></wpt>
<wpt lat="1" lon="2"><ele/><time/></wpt>
<trk><trkseg><trkpt lat="3" lon="4"><ele> </ele><time></time></trkpt></trkseg></trk></gpx>`,
			check: func(t *testing.T, f *gpx.File) {
				if len(f.Waypoints) != 2 || len(f.TrackPoints()) != 1 {
					t.Fatalf("got %d waypoints, %d points", len(f.Waypoints), len(f.TrackPoints()))
				}
				w := f.Waypoints[0]
				if w.HasEle || !w.Time.IsZero() || w.Name != "A" || w.Lat != 1.5 || w.Lon != -2.5 {
					t.Errorf("waypoint = %+v", w)
				}
				if p := f.TrackPoints()[0]; p.HasEle || !p.Time.IsZero() {
					t.Errorf("track point = %+v", p)
				}
			},
		},
		{
			name: "GPX 1.1 with groundspeak 1/0/1 in extensions",
			input: `<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1" xmlns:gs="http://www.groundspeak.com/cache/1/0/1">
<metadata><name>PQ</name></metadata>
<wpt lat="51" lon="7"><name>GC123</name><type>Geocache|Traditional Cache</type>
<extensions><other xmlns="urn:x"><difficulty>9</difficulty></other>
<gs:cache id="42"><gs:name>Tiny &amp; hidden</gs:name><gs:type>Traditional Cache</gs:type>
<gs:container>Micro</gs:container><gs:difficulty>1.5</gs:difficulty><gs:terrain>4</gs:terrain>
<gs:encoded_hints>under the &lt;bench&gt;</gs:encoded_hints>
<gs:logs><gs:log><gs:type>Found it</gs:type></gs:log></gs:logs></gs:cache></extensions></wpt></gpx>`,
			check: func(t *testing.T, f *gpx.File) {
				if f.Name != "PQ" || len(f.Waypoints) != 1 || f.Waypoints[0].Cache == nil {
					t.Fatalf("file = %+v", f)
				}
				c := *f.Waypoints[0].Cache
				want := gpx.Cache{ID: "42", Name: "Tiny & hidden", Type: "Traditional Cache", Container: "Micro",
					Difficulty: 1.5, Terrain: 4, EncodedHints: "under the <bench>"}
				if c != want {
					t.Errorf("cache = %+v, want %+v", c, want)
				}
			},
		},
		{
			name: "no namespace, routes, several tracks and segments in order",
			input: `<gpx version="1.1"><rte><name>R</name><rtept lat="1" lon="1"><name>a</name></rtept><rtept lat="2" lon="2"/></rte>
<trk><trkseg><trkpt lat="1" lon="0"/></trkseg><trkseg><trkpt lat="2" lon="0"/><trkpt lat="3" lon="0"/></trkseg></trk>
<trk><trkseg><trkpt lat="4" lon="0"/></trkseg></trk></gpx>`,
			check: func(t *testing.T, f *gpx.File) {
				if len(f.Routes) != 1 || len(f.Routes[0].Points) != 2 || f.Routes[0].Points[0].Name != "a" || f.Routes[0].Name != "R" {
					t.Errorf("routes = %+v", f.Routes)
				}
				var lats []float64
				for _, p := range f.TrackPoints() {
					lats = append(lats, p.Lat)
				}
				if len(lats) != 4 || lats[0] != 1 || lats[1] != 2 || lats[2] != 3 || lats[3] != 4 {
					t.Errorf("track point lats = %v, want [1 2 3 4]", lats)
				}
			},
		},
		{
			name:  "ISO-8859-1 encoding",
			input: "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<gpx version=\"1.0\" xmlns=\"http://www.topografix.com/GPX/1/0\"><wpt lat=\"1\" lon=\"2\"><name>M\xfcnchen</name></wpt></gpx>",
			check: func(t *testing.T, f *gpx.File) {
				if n := f.Waypoints[0].Name; n != "München" {
					t.Errorf("name = %q, want München", n)
				}
			},
		},
		{
			name:  "times without zone and with fractions",
			input: gpx10Head + `<wpt lat="1" lon="2"><time>2020-01-02T03:04:05</time></wpt><wpt lat="1" lon="2"><time>2020-01-02T03:04:05.5+01:00</time></wpt></gpx>`,
			check: func(t *testing.T, f *gpx.File) {
				if tm := f.Waypoints[0].Time; !tm.Equal(time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)) {
					t.Errorf("time 0 = %v", tm)
				}
				if tm := f.Waypoints[1].Time; !tm.Equal(time.Date(2020, 1, 2, 2, 4, 5, 5e8, time.UTC)) {
					t.Errorf("time 1 = %v", tm)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := gpx.Parse(strings.NewReader(tt.input))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, f)
		})
	}
}

func BenchmarkParseGarminHike(b *testing.B) {
	data, err := os.ReadFile(shareddata.SharedFile(b, "track_garmin_hike.gpx"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := gpx.Parse(strings.NewReader(string(data))); err != nil {
			b.Fatal(err)
		}
	}
}
