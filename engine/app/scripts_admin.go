package app

import (
	"encoding/json"
	"net/http"
)

// serveScripts is GET /scripts: for each game that reports one (an
// AdminStatus method), the state of its scripts: the version running, when
// it was loaded, and why the last new version was refused, if it was.
//
// The runner calls the rules on its own goroutine; a status is read from the
// game, which synchronises it.
func (c *catalog) serveScripts(w http.ResponseWriter, _ *http.Request) {
	out := make(map[string]any, len(c.status))
	for game, st := range c.status {
		out[game] = st()
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
}
