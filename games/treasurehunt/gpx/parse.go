package gpx

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// groundspeakPrefix matches every version of the Groundspeak cache namespace
// (1/0, 1/0/1, 1/0/2...): they share the elements read here.
const groundspeakPrefix = NamespaceGroundspeak10

// ParseFile reads and parses the GPX file at path. Errors name the file.
func ParseFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		// The *fs.PathError already names the file.
		return nil, fmt.Errorf("gpx: %w", err)
	}
	defer fh.Close()

	f, err := parse(bufio.NewReader(fh), path)
	if err != nil {
		return nil, err
	}
	f.Path = path
	return f, nil
}

// Parse parses a GPX document from r.
func Parse(r io.Reader) (*File, error) {
	return parse(r, "")
}

// parser streams the document token by token rather than unmarshalling it
// into one big struct, so that every error can carry the line of the point
// that caused it and foreign extension elements are skipped by namespace.
type parser struct {
	d    *xml.Decoder
	path string
	ns   string // namespace of the <gpx> root; children must share it
	file File
}

func parse(r io.Reader, path string) (*File, error) {
	cr := &countingReader{r: r}
	p := &parser{d: xml.NewDecoder(cr), path: path}
	p.d.CharsetReader = charsetReader

	root, err := p.root(cr)
	if err != nil {
		return nil, err
	}
	if err := p.gpx(root); err != nil {
		return nil, err
	}
	return &p.file, nil
}

// root reads up to the document's root element and checks that it is <gpx>.
func (p *parser) root(cr *countingReader) (xml.StartElement, error) {
	for {
		tok, err := p.d.Token()
		if err == io.EOF {
			if cr.n == 0 {
				return xml.StartElement{}, p.errf(0, "%w: empty file", ErrNotGPX)
			}
			return xml.StartElement{}, p.errf(0, "%w: no XML root element", ErrNotGPX)
		}
		if err != nil {
			return xml.StartElement{}, p.xmlErr(err, true)
		}
		switch t := tok.(type) {
		case xml.CharData:
			// encoding/xml happily returns stray text before any element;
			// that is what a text, CSV or JSON file looks like to it.
			if text := strings.TrimSpace(string(t)); text != "" {
				// No line: the decoder has read the whole text run by now.
				return xml.StartElement{}, p.errf(0, "%w: not XML: text %q before any element",
					ErrNotGPX, truncate(text, 20))
			}
		case xml.StartElement:
			if t.Name.Local != "gpx" {
				return xml.StartElement{}, p.errf(0, "%w: root element is <%s>, want <gpx>", ErrNotGPX, t.Name.Local)
			}
			switch t.Name.Space {
			case NamespaceGPX10, NamespaceGPX11, "":
			default:
				return xml.StartElement{}, p.errf(p.line(), "%w: <gpx> namespace is %q, want %s or %s",
					ErrNotGPX, t.Name.Space, NamespaceGPX10, NamespaceGPX11)
			}
			return t, nil
		}
	}
}

// gpx reads the children of the root element up to its end tag.
func (p *parser) gpx(root xml.StartElement) error {
	p.ns = root.Name.Space
	for _, a := range root.Attr {
		switch a.Name.Local {
		case "version":
			p.file.Version = a.Value
		case "creator":
			p.file.Creator = a.Value
		}
	}
	return p.children(func(t xml.StartElement) error {
		if t.Name.Space != p.ns {
			return p.d.Skip() // root-level extension elements
		}
		switch t.Name.Local {
		case "wpt":
			w, err := p.waypoint(t, fmt.Sprintf("waypoint %d", len(p.file.Waypoints)+1))
			if err != nil {
				return err
			}
			p.file.Waypoints = append(p.file.Waypoints, w)
			return nil
		case "trk":
			return p.track()
		case "rte":
			return p.route()
		case "metadata": // GPX 1.1 keeps name, desc and time here
			return p.children(p.metadataField)
		default: // GPX 1.0 keeps them directly under <gpx>
			return p.metadataField(t)
		}
	})
}

func (p *parser) metadataField(t xml.StartElement) error {
	if t.Name.Space != p.ns {
		return p.d.Skip()
	}
	switch t.Name.Local {
	case "name":
		return p.text(t, &p.file.Name)
	case "desc":
		return p.text(t, &p.file.Desc)
	case "time":
		line := p.line()
		var s string
		if err := p.text(t, &s); err != nil {
			return err
		}
		tm, err := parseTime(s)
		if err != nil {
			return p.errf(line, "metadata: %w", err)
		}
		p.file.Time = tm
		return nil
	default:
		return p.d.Skip()
	}
}

func (p *parser) track() error {
	var trk Track
	ti := len(p.file.Tracks) + 1
	err := p.children(func(t xml.StartElement) error {
		if t.Name.Space != p.ns {
			return p.d.Skip()
		}
		switch t.Name.Local {
		case "name":
			return p.text(t, &trk.Name)
		case "desc":
			return p.text(t, &trk.Desc)
		case "type":
			return p.text(t, &trk.Type)
		case "trkseg":
			var seg Segment
			si := len(trk.Segments) + 1
			err := p.children(func(t xml.StartElement) error {
				if t.Name.Space != p.ns || t.Name.Local != "trkpt" {
					return p.d.Skip()
				}
				w, err := p.waypoint(t, fmt.Sprintf("track %d segment %d point %d", ti, si, len(seg.Points)+1))
				if err != nil {
					return err
				}
				seg.Points = append(seg.Points, w.Point)
				return nil
			})
			if err != nil {
				return err
			}
			trk.Segments = append(trk.Segments, seg)
			return nil
		default:
			return p.d.Skip()
		}
	})
	if err != nil {
		return err
	}
	p.file.Tracks = append(p.file.Tracks, trk)
	return nil
}

func (p *parser) route() error {
	var rte Route
	ri := len(p.file.Routes) + 1
	err := p.children(func(t xml.StartElement) error {
		if t.Name.Space != p.ns {
			return p.d.Skip()
		}
		switch t.Name.Local {
		case "name":
			return p.text(t, &rte.Name)
		case "desc":
			return p.text(t, &rte.Desc)
		case "rtept":
			w, err := p.waypoint(t, fmt.Sprintf("route %d point %d", ri, len(rte.Points)+1))
			if err != nil {
				return err
			}
			rte.Points = append(rte.Points, w)
			return nil
		default:
			return p.d.Skip()
		}
	})
	if err != nil {
		return err
	}
	p.file.Routes = append(p.file.Routes, rte)
	return nil
}

// waypoint reads a wpt, trkpt or rtept element (they share one schema).
// what names the point in error messages, e.g. "waypoint 3".
func (p *parser) waypoint(start xml.StartElement, what string) (Waypoint, error) {
	w := Waypoint{Point: Point{Line: p.line()}}

	var latText, lonText string
	var hasLat, hasLon bool
	for _, a := range start.Attr {
		switch a.Name.Local {
		case "lat":
			latText, hasLat = a.Value, true
		case "lon":
			lonText, hasLon = a.Value, true
		}
	}
	var err error
	if w.Lat, err = coordinate("lat", latText, hasLat, 90); err != nil {
		return w, p.errf(w.Line, "%s: %w", what, err)
	}
	if w.Lon, err = coordinate("lon", lonText, hasLon, 180); err != nil {
		return w, p.errf(w.Line, "%s: %w", what, err)
	}

	err = p.children(func(t xml.StartElement) error {
		if strings.HasPrefix(t.Name.Space, groundspeakPrefix) && t.Name.Local == "cache" {
			// GPX 1.0 puts extension elements directly inside <wpt>.
			return p.cache(t, &w, what)
		}
		if t.Name.Space != p.ns {
			return p.d.Skip()
		}
		switch t.Name.Local {
		case "ele":
			line := p.line()
			var s string
			if err := p.text(t, &s); err != nil {
				return err
			}
			if s == "" {
				return nil // <ele></ele>: tolerated, no elevation
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return p.errf(line, "%s: invalid ele %q", what, s)
			}
			w.Ele, w.HasEle = v, true
			return nil
		case "time":
			line := p.line()
			var s string
			if err := p.text(t, &s); err != nil {
				return err
			}
			tm, err := parseTime(s)
			if err != nil {
				return p.errf(line, "%s: %w", what, err)
			}
			w.Time = tm
			return nil
		case "name":
			return p.text(t, &w.Name)
		case "desc":
			return p.text(t, &w.Desc)
		case "cmt":
			return p.text(t, &w.Cmt)
		case "sym":
			return p.text(t, &w.Sym)
		case "type":
			return p.text(t, &w.Type)
		case "extensions": // GPX 1.1 wraps extension elements
			return p.children(func(t xml.StartElement) error {
				if strings.HasPrefix(t.Name.Space, groundspeakPrefix) && t.Name.Local == "cache" {
					return p.cache(t, &w, what)
				}
				return p.d.Skip()
			})
		default:
			return p.d.Skip()
		}
	})
	return w, err
}

// rawCache mirrors <groundspeak:cache>. Untagged namespaces match any
// namespace, which is right here: only the direct children are mapped, so the
// <groundspeak:type> of each log entry does not clash with the cache's.
type rawCache struct {
	ID               string `xml:"id,attr"`
	Name             string `xml:"name"`
	PlacedBy         string `xml:"placed_by"`
	Owner            string `xml:"owner"`
	Type             string `xml:"type"`
	Container        string `xml:"container"`
	Difficulty       string `xml:"difficulty"`
	Terrain          string `xml:"terrain"`
	Country          string `xml:"country"`
	State            string `xml:"state"`
	ShortDescription string `xml:"short_description"`
	LongDescription  string `xml:"long_description"`
	EncodedHints     string `xml:"encoded_hints"`
}

func (p *parser) cache(start xml.StartElement, w *Waypoint, what string) error {
	line := p.line()
	var rc rawCache
	if err := p.d.DecodeElement(&rc, &start); err != nil {
		return p.xmlErr(err, false)
	}
	c := &Cache{
		ID:               strings.TrimSpace(rc.ID),
		Name:             strings.TrimSpace(rc.Name),
		PlacedBy:         strings.TrimSpace(rc.PlacedBy),
		Owner:            strings.TrimSpace(rc.Owner),
		Type:             strings.TrimSpace(rc.Type),
		Container:        strings.TrimSpace(rc.Container),
		Country:          strings.TrimSpace(rc.Country),
		State:            strings.TrimSpace(rc.State),
		ShortDescription: strings.TrimSpace(rc.ShortDescription),
		LongDescription:  strings.TrimSpace(rc.LongDescription),
		EncodedHints:     strings.TrimSpace(rc.EncodedHints),
	}
	var err error
	if c.Difficulty, err = rating("difficulty", rc.Difficulty); err != nil {
		return p.errf(line, "%s: cache %w", what, err)
	}
	if c.Terrain, err = rating("terrain", rc.Terrain); err != nil {
		return p.errf(line, "%s: cache %w", what, err)
	}
	w.Cache = c
	return nil
}

// children calls fn for each child element of the element whose start tag
// was just read, up to its end tag. fn must consume the whole child (read to
// its end, or Skip).
func (p *parser) children(fn func(xml.StartElement) error) error {
	for {
		tok, err := p.d.Token()
		if err != nil {
			return p.xmlErr(err, false)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if err := fn(t); err != nil {
				return err
			}
		case xml.EndElement:
			return nil
		}
	}
}

// text reads the character data of the element start and stores it trimmed.
// An empty element leaves "" (tolerated everywhere).
func (p *parser) text(start xml.StartElement, dst *string) error {
	var s string
	if err := p.d.DecodeElement(&s, &start); err != nil {
		return p.xmlErr(err, false)
	}
	*dst = strings.TrimSpace(s)
	return nil
}

// line is the current line in the input: the line of the token just read.
func (p *parser) line() int {
	line, _ := p.d.InputPos()
	return line
}

func (p *parser) errf(line int, format string, args ...any) error {
	return &Error{Path: p.path, Line: line, Err: fmt.Errorf(format, args...)}
}

// xmlErr turns a decoder error into an *Error. beforeRoot says whether the
// root element has been seen: a syntax error before it means the input is not
// XML at all, after it that the GPX document is malformed (e.g. truncated).
func (p *parser) xmlErr(err error, beforeRoot bool) error {
	var pe *Error
	if errors.As(err, &pe) {
		return err // already ours (returned through a children callback)
	}
	line := 0
	msg := err.Error()
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		line, msg = se.Line, se.Msg
	}
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		msg = "unexpected end of file"
	}
	if beforeRoot {
		return p.errf(line, "%w: invalid XML: %s", ErrNotGPX, msg)
	}
	return p.errf(line, "invalid XML: %s", msg)
}

// coordinate parses a lat or lon attribute and checks |v| <= limit.
func coordinate(name, s string, present bool, limit float64) (float64, error) {
	if !present {
		return 0, fmt.Errorf("missing %s", name)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	// ParseFloat accepts "NaN" and "Inf"; neither is a coordinate.
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("invalid %s %q", name, s)
	}
	if v < -limit || v > limit {
		return 0, fmt.Errorf("%s %s out of range [%g, %g]", name, s, -limit, limit)
	}
	return v, nil
}

// rating parses a Groundspeak difficulty or terrain ("1", "2.5"...); empty
// means unknown (0). The range is the hunt definition's concern.
func rating(name, s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%s: invalid number %q", name, s)
	}
	return v, nil
}

// timeLayouts are tried in order. GPX mandates UTC ISO 8601, but some
// writers omit the zone; those times are taken as UTC. (time.Parse accepts
// fractional seconds even when the layout has none.)
var timeLayouts = []string{time.RFC3339, "2006-01-02T15:04:05"}

// parseTime parses a GPX time; "" gives the zero time.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid time %q", s)
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "..."
}

// countingReader counts bytes read, to tell an empty file from one with no
// root element.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// charsetReader lets encoding/xml read the non-UTF-8 encodings that old GPS
// software writes. ISO-8859-1 maps byte for byte onto the first 256 code
// points, so it needs no table.
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return input, nil
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1":
		return &latin1Reader{r: bufio.NewReader(input)}, nil
	default:
		return nil, fmt.Errorf("unsupported encoding %q", charset)
	}
}

type latin1Reader struct {
	r   *bufio.Reader
	buf bytes.Buffer // UTF-8 not yet returned
}

func (l *latin1Reader) Read(b []byte) (int, error) {
	for l.buf.Len() < len(b) {
		c, err := l.r.ReadByte()
		if err != nil {
			if l.buf.Len() > 0 {
				break
			}
			return 0, err
		}
		l.buf.WriteRune(rune(c))
	}
	return l.buf.Read(b)
}
