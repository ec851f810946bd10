// Package anonymous is the "anonymous" (alias "dev") auth plugin for development: every
// handshake is accepted. A player may choose its id with ?player=ID (so a
// reconnect resumes the same session); otherwise a random id is assigned.
// Never use it where players could impersonate each other.
package anonymous

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"

	"github.com/veltrix/veltrix/engine/gateway"
	"github.com/veltrix/veltrix/engine/plugin"
	"github.com/veltrix/veltrix/engine/protocol"
)

func init() {
	plugin.Register(plugin.Info{ID: "veltrix.auth.anonymous", New: func() any { return new(Auth) }})
	// "dev" is the same plugin under the name the operations docs use.
	plugin.Register(plugin.Info{ID: "veltrix.auth.dev", New: func() any { return new(Auth) }})
}

// Auth accepts everyone.
type Auth struct {
	// AllowChosenID lets clients pick their id with ?player=. Default true.
	AllowChosenID *bool `koanf:"allow_chosen_id"`
}

// Authenticate implements gateway.Authenticator.
func (a *Auth) Authenticate(r *http.Request) (string, error) {
	if id := r.URL.Query().Get("player"); id != "" && (a.AllowChosenID == nil || *a.AllowChosenID) {
		if !protocol.ValidID(id) {
			return "", errors.New("player id must be 1-64 characters [A-Za-z0-9_-]")
		}
		return id, nil
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "p-" + hex.EncodeToString(b[:]), nil
}

// Interface guards.
var _ gateway.Authenticator = (*Auth)(nil)
