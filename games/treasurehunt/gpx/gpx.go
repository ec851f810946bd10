// Package gpx reads GPS Exchange Format files (GPX 1.0 and 1.1): waypoints,
// tracks and routes, plus the Groundspeak geocache extension that geocaching
// pocket queries carry. It reads what a treasure hunt needs and skips the rest
// (Garmin extensions, links, logs...).
//
// Parsing is strict about what makes a point usable (lat and lon present,
// numeric and in range) and lenient about everything else (empty <ele/> or
// <time></time>, unknown elements, missing names).
package gpx

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// GPX namespaces. Files without any namespace are accepted too: some tools
// omit it and the element names are unambiguous.
const (
	NamespaceGPX10 = "http://www.topografix.com/GPX/1/0"
	NamespaceGPX11 = "http://www.topografix.com/GPX/1/1"
)

// Groundspeak cache extension namespaces. 1/0 is the one pocket queries use;
// 1/0/1 and later versions add fields but keep the ones read here.
const (
	NamespaceGroundspeak10  = "http://www.groundspeak.com/cache/1/0"
	NamespaceGroundspeak101 = "http://www.groundspeak.com/cache/1/0/1"
)

// ErrNotGPX is wrapped by errors for input that is not a GPX document at all
// (empty, not XML, or another root element), as opposed to a GPX document
// with a bad point in it.
var ErrNotGPX = errors.New("not a GPX file")

// File is a parsed GPX document.
type File struct {
	Path    string // as given to ParseFile; empty for Parse
	Version string // the version attribute of <gpx>, e.g. "1.0" or "1.1"
	Creator string
	Name    string    // <name> (GPX 1.0) or <metadata><name> (GPX 1.1)
	Desc    string    // <desc> or <metadata><desc>
	Time    time.Time // <time> or <metadata><time>; zero if absent

	Waypoints []Waypoint // <wpt>, in file order
	Tracks    []Track    // <trk>, in file order
	Routes    []Route    // <rte>, in file order
}

// Point is a position, optionally with elevation and time.
type Point struct {
	Lat    float64   // decimal degrees, WGS84, in [-90, 90]
	Lon    float64   // decimal degrees, WGS84, in [-180, 180]
	Ele    float64   // metres; meaningful only when HasEle
	HasEle bool      // false when <ele> is absent or empty
	Time   time.Time // zero if absent or empty
	Line   int       // line of the point's start tag in the source, for messages
}

// Waypoint is a <wpt> (or a <rtept>, which has the same schema).
type Waypoint struct {
	Point
	Name string
	Desc string
	Cmt  string
	Sym  string
	Type string
	// Cache is the Groundspeak cache description, nil for a plain waypoint.
	Cache *Cache
}

// Cache is the part of a Groundspeak <groundspeak:cache> element a hunt uses.
// It sits directly inside <wpt> in GPX 1.0 and inside <wpt><extensions> in
// GPX 1.1.
type Cache struct {
	ID               string // the cache's numeric id attribute, as text
	Name             string // the cache's display name (the waypoint name is its GC code)
	PlacedBy         string
	Owner            string
	Type             string  // e.g. "Multi-cache", "Traditional Cache"
	Container        string  // e.g. "Micro", "Small", "Regular", "Other"
	Difficulty       float64 // 1..5 in half steps; 0 if absent
	Terrain          float64 // 1..5 in half steps; 0 if absent
	Country          string
	State            string
	ShortDescription string // may hold HTML (see the html attribute); kept as is
	LongDescription  string
	EncodedHints     string // despite the name, plain text in pocket queries
}

// Track is a <trk>: an ordered list of segments.
type Track struct {
	Name     string
	Desc     string
	Type     string
	Segments []Segment
}

// Segment is a <trkseg>: points recorded without interruption.
type Segment struct {
	Points []Point
}

// Route is a <rte>: an ordered list of points to follow.
type Route struct {
	Name   string
	Desc   string
	Points []Waypoint
}

// TrackPoints returns every track point of every track and segment, in file
// order, as one slice (a player's replayed path does not care about
// segment breaks).
func (f *File) TrackPoints() []Point {
	var n int
	for _, t := range f.Tracks {
		for _, s := range t.Segments {
			n += len(s.Points)
		}
	}
	pts := make([]Point, 0, n)
	for _, t := range f.Tracks {
		for _, s := range t.Segments {
			pts = append(pts, s.Points...)
		}
	}
	return pts
}

// Error is the error returned for input that cannot be parsed. It names the
// file (when known) and the line (when known).
type Error struct {
	Path string // file name, empty when parsing a reader
	Line int    // 1-based source line, 0 when unknown
	Err  error  // what is wrong; may wrap ErrNotGPX
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("gpx: ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }
