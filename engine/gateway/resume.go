package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"time"
)

// Resume tokens let a player reconnect to any gateway without its auth
// plugin's credential (which may be short-lived): every gateway of a
// deployment shares Options.ResumeSecret. A token names the session (the
// player id) and its expiry:
//
//	r1.<base64url(expiry unix s, 8 bytes BE | player)>.<base64url(HMAC-SHA256)>
//
// The welcome message hands out a fresh one on every connection.

const resumePrefix = "r1."

var b64 = base64.RawURLEncoding

// ErrResumeToken is returned for a resume token that is malformed, forged,
// expired or names another session.
var ErrResumeToken = errors.New("gateway: invalid or expired resume token")

func resumeMAC(secret []byte, body string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(resumePrefix))
	m.Write([]byte(body))
	return m.Sum(nil)
}

// signResume returns a resume token for player valid until exp.
func signResume(secret []byte, player string, exp time.Time) string {
	raw := make([]byte, 8+len(player))
	binary.BigEndian.PutUint64(raw, uint64(exp.Unix()))
	copy(raw[8:], player)
	body := b64.EncodeToString(raw)
	return resumePrefix + body + "." + b64.EncodeToString(resumeMAC(secret, body))
}

// verifyResume checks tok against session and returns the player.
func verifyResume(secret []byte, session, tok string, now time.Time) (string, error) {
	rest, ok := strings.CutPrefix(tok, resumePrefix)
	if !ok {
		return "", ErrResumeToken
	}
	body, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return "", ErrResumeToken
	}
	got, err := b64.DecodeString(sig)
	if err != nil || !hmac.Equal(got, resumeMAC(secret, body)) {
		return "", ErrResumeToken
	}
	raw, err := b64.DecodeString(body)
	if err != nil || len(raw) < 9 {
		return "", ErrResumeToken
	}
	player := string(raw[8:])
	if player != session || now.Unix() > int64(binary.BigEndian.Uint64(raw)) {
		return "", ErrResumeToken
	}
	return player, nil
}
