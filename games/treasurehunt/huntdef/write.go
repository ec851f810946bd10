package huntdef

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Write writes the hunt as YAML that Load reads back to an equal Hunt.
func (h *Hunt) Write(w io.Writer) error {
	return h.WriteWithHeader(w, "")
}

// WriteWithHeader is Write preceded by header as "# " comment lines, e.g.
// "imported from walk.gpx by veltrix hunt import".
func (h *Hunt) WriteWithHeader(w io.Writer, header string) error {
	out := *h
	// A hunt built in code may set only EndsAt; YAML carries the raw form.
	if out.EndsAtRaw == "" && out.EndsAt != 0 {
		out.EndsAtRaw = time.UnixMilli(out.EndsAt).UTC().Format(time.RFC3339Nano)
	}

	// Encode into a buffer so a failure leaves w untouched.
	var buf bytes.Buffer
	if header != "" {
		for _, line := range strings.Split(strings.TrimRight(header, "\n"), "\n") {
			buf.WriteString(strings.TrimRight("# "+line, " ") + "\n")
		}
	}
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&out); err != nil {
		return fmt.Errorf("huntdef: encoding hunt %q: %w", h.ID, err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("huntdef: encoding hunt %q: %w", h.ID, err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("huntdef: writing hunt %q: %w", h.ID, err)
	}
	return nil
}

// JSON encodes the hunt for the Lua rules: ends_at in unix milliseconds
// (omitted when there is no end time) and beacons always an array.
func (h *Hunt) JSON() ([]byte, error) {
	out := *h
	if out.EndsAt == 0 && out.EndsAtRaw != "" {
		t, err := time.Parse(time.RFC3339, out.EndsAtRaw)
		if err != nil {
			return nil, fmt.Errorf("huntdef: hunt %q: ends_at: %w", h.ID, err)
		}
		out.EndsAt = t.UnixMilli()
	}
	if out.Beacons == nil {
		out.Beacons = []Beacon{} // Lua sees an empty array, not nil
	}
	data, err := json.Marshal(&out)
	if err != nil {
		return nil, fmt.Errorf("huntdef: encoding hunt %q as JSON: %w", h.ID, err)
	}
	return data, nil
}
