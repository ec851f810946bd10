// Package token is the "token" auth plugin: a player presents a signed
// token naming it, with an expiry, and the handshake is refused (401) if the
// token is malformed, forged, expired or not yet valid.
//
// Tokens are JSON Web Tokens signed with HMAC-SHA256 (HS256, RFC 7519), so
// any JWT library can issue them; `veltrix token issue` does too. Claims:
// sub (the player id, 1-64 characters [A-Za-z0-9_-]), exp (required), iat,
// nbf, and iss (checked when the plugin's issuer is set). Only HS256 is
// accepted: a token naming another algorithm ("none" included) is refused.
//
// Clients send the token as "Authorization: Bearer <token>" or, since
// browsers cannot set headers on a WebSocket, as ?token=<token>.
//
//	gateway:
//	  auth:
//	    plugin: token
//	    secret_file: /etc/veltrix/token.key   # or secret: (env VELTRIX_GATEWAY__AUTH__SECRET)
//	    previous_secrets: []                  # still accepted, during a key rotation
//	    issuer: ""                            # required iss, if set
//	    leeway: 30s                           # clock skew allowed on exp and nbf
package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/veltrix/veltrix/engine/gateway"
	"github.com/veltrix/veltrix/engine/plugin"
	"github.com/veltrix/veltrix/engine/protocol"
)

func init() {
	plugin.Register(plugin.Info{ID: "veltrix.auth.token", New: func() any { return new(Auth) }})
}

// MinSecretBytes is the shortest secret accepted (RFC 7518 asks HS256 keys
// to be at least as long as the hash).
const MinSecretBytes = 32

// DefaultLeeway is the clock skew allowed on exp and nbf.
const DefaultLeeway = 30 * time.Second

// maxTokenBytes bounds what is parsed from an untrusted request.
const maxTokenBytes = 4096

// Errors of Verify; each refuses the handshake.
var (
	ErrMalformed = errors.New("token: malformed")
	ErrAlgorithm = errors.New("token: algorithm not HS256")
	ErrSignature = errors.New("token: bad signature")
	ErrExpired   = errors.New("token: expired")
	ErrNotYet    = errors.New("token: not valid yet")
	ErrIssuer    = errors.New("token: wrong issuer")
	ErrSubject   = errors.New("token: sub is not a valid player id")
	ErrMissing   = errors.New("token: no token (Authorization: Bearer, or ?token=)")
)

// Claims is what a token says.
type Claims struct {
	Subject   string `json:"sub"`
	ExpiresAt int64  `json:"exp"`           // unix seconds
	IssuedAt  int64  `json:"iat,omitempty"` // unix seconds
	NotBefore int64  `json:"nbf,omitempty"` // unix seconds
	Issuer    string `json:"iss,omitempty"`
}

// Auth checks player tokens.
type Auth struct {
	// Secret is the HMAC key (at least 32 bytes). Prefer SecretFile or the
	// environment (VELTRIX_GATEWAY__AUTH__SECRET) to a config file.
	Secret string `koanf:"secret"`
	// SecretFile holds the key (surrounding white space is dropped).
	SecretFile string `koanf:"secret_file"`
	// PreviousSecrets are still accepted (not used to sign): rotate keys
	// by issuing with the new one while tokens signed by the old one expire.
	PreviousSecrets []string `koanf:"previous_secrets"`
	// Issuer, if set, must be the tokens' iss.
	Issuer string `koanf:"issuer"`
	// Leeway is the clock skew allowed on exp and nbf. Default 30s.
	Leeway time.Duration `koanf:"leeway"`

	keys [][]byte
	// Now is the clock; tests may set it. Default time.Now.
	Now func() time.Time
}

// Provision reads the secret file.
func (a *Auth) Provision(ctx plugin.Context) error {
	if a.SecretFile != "" {
		b, err := os.ReadFile(a.SecretFile)
		if err != nil {
			return fmt.Errorf("gateway.auth.secret_file: %w", err)
		}
		if a.Secret != "" {
			return errors.New("gateway.auth: set secret or secret_file, not both")
		}
		a.Secret = strings.TrimSpace(string(b))
	}
	if a.Leeway == 0 {
		a.Leeway = DefaultLeeway
	}
	if a.Now == nil {
		a.Now = time.Now
	}
	return nil
}

// Validate checks the keys.
func (a *Auth) Validate() error {
	if a.Secret == "" {
		return errors.New("gateway.auth.secret: the token plugin needs a secret (or secret_file)")
	}
	a.keys = a.keys[:0]
	for i, s := range append([]string{a.Secret}, a.PreviousSecrets...) {
		if len(s) < MinSecretBytes {
			key := "gateway.auth.secret"
			if i > 0 {
				key = fmt.Sprintf("gateway.auth.previous_secrets[%d]", i-1)
			}
			return fmt.Errorf("%s: must be at least %d bytes, got %d", key, MinSecretBytes, len(s))
		}
		a.keys = append(a.keys, []byte(s))
	}
	if a.Leeway < 0 {
		return fmt.Errorf("gateway.auth.leeway: must not be negative, got %s", a.Leeway)
	}
	return nil
}

// Authenticate implements gateway.Authenticator.
func (a *Auth) Authenticate(r *http.Request) (string, error) {
	tok := r.URL.Query().Get("token")
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return "", ErrMalformed
		}
		tok = strings.TrimSpace(rest)
	}
	if tok == "" {
		return "", ErrMissing
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	c, err := Verify(tok, a.keys, now(), a.Leeway, a.Issuer)
	if err != nil {
		return "", err
	}
	return c.Subject, nil
}

// Key returns the signing key (the first secret); `veltrix token issue` uses it.
func (a *Auth) Key() []byte { return []byte(a.Secret) }

var b64 = base64.RawURLEncoding

// header is the only JOSE header issued: {"alg":"HS256","typ":"JWT"}.
var header = b64.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// Issue signs claims with key.
func Issue(key []byte, c Claims) (string, error) {
	if !protocol.ValidID(c.Subject) {
		return "", ErrSubject
	}
	if c.ExpiresAt == 0 {
		return "", errors.New("token: exp is required")
	}
	if len(key) < MinSecretBytes {
		return "", fmt.Errorf("token: key must be at least %d bytes", MinSecretBytes)
	}
	body, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	signing := header + "." + b64.EncodeToString(body)
	return signing + "." + b64.EncodeToString(sign(key, signing)), nil
}

func sign(key []byte, signing string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signing))
	return m.Sum(nil)
}

// Verify checks tok's signature against keys (any of them), its algorithm,
// times (with leeway) and issuer (if issuer is set), and returns its claims.
func Verify(tok string, keys [][]byte, now time.Time, leeway time.Duration, issuer string) (Claims, error) {
	var c Claims
	if len(tok) > maxTokenBytes || strings.Count(tok, ".") != 2 {
		return c, ErrMalformed
	}
	h, rest, _ := strings.Cut(tok, ".")
	body, sig, _ := strings.Cut(rest, ".")
	hb, err := b64.DecodeString(h)
	if err != nil {
		return c, ErrMalformed
	}
	var hdr struct {
		Alg  string `json:"alg"`
		Typ  string `json:"typ"`
		Crit any    `json:"crit"`
	}
	if err := json.Unmarshal(hb, &hdr); err != nil {
		return c, ErrMalformed
	}
	if hdr.Alg != "HS256" || hdr.Crit != nil {
		return c, ErrAlgorithm
	}
	got, err := b64.DecodeString(sig)
	if err != nil {
		return c, ErrMalformed
	}
	ok := false
	for _, k := range keys {
		if hmac.Equal(got, sign(k, h+"."+body)) {
			ok = true
			break
		}
	}
	if !ok {
		return c, ErrSignature
	}
	bb, err := b64.DecodeString(body)
	if err != nil || json.Unmarshal(bb, &c) != nil {
		return c, ErrMalformed
	}
	skew := int64(leeway / time.Second)
	switch {
	case c.ExpiresAt == 0 || now.Unix() > c.ExpiresAt+skew:
		return c, ErrExpired
	case c.NotBefore != 0 && now.Unix() < c.NotBefore-skew:
		return c, ErrNotYet
	case issuer != "" && c.Issuer != issuer:
		return c, ErrIssuer
	case !protocol.ValidID(c.Subject):
		return c, ErrSubject
	}
	return c, nil
}

// Interface guards.
var (
	_ gateway.Authenticator = (*Auth)(nil)
	_ plugin.Provisioner    = (*Auth)(nil)
	_ plugin.Validator      = (*Auth)(nil)
)
