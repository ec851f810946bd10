// Package protocol defines the JSON messages players exchange with a gateway
// over WebSocket. docs/protocol.md is the reference for client authors.
package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"

	"github.com/veltrix/veltrix/internal/jsonr"
)

// Client message types.
const (
	TypeJoin  = "join"
	TypeMove  = "move"
	TypeLeave = "leave"
	TypePing  = "ping"
	// TypeResume is answered by the gateway itself: after a reconnect, it
	// rejoins the hunt's event stream after the last event the client
	// processed (Pos) and replays what it missed (see docs/protocol.md).
	TypeResume = "resume"
)

// ClientMessage is what a player sends. Seq numbers a player's actions in a
// hunt: it must increase, and a client that resends an action (after a
// reconnect, say) reuses its seq, so the engine answers it again instead of
// applying it twice.
type ClientMessage struct {
	Type string  `json:"type"`
	Hunt string  `json:"hunt,omitempty"`
	Seq  uint64  `json:"seq,omitempty"`
	Lat  float64 `json:"lat,omitempty"`
	Lon  float64 `json:"lon,omitempty"`
	At   int64   `json:"at,omitempty"`  // position fix time, unix ms
	Pos  int64   `json:"pos,omitempty"` // resume: the pos of the last event processed
}

// ServerMessage is what a player receives. Results answer one action (by
// seq); other types carry game events whose Data the game defines.
type ServerMessage struct {
	Type      string          `json:"type"`
	Hunt      string          `json:"hunt,omitempty"`
	Seq       uint64          `json:"seq,omitempty"`
	OK        *bool           `json:"ok,omitempty"`
	Reason    string          `json:"reason,omitempty"`
	Duplicate bool            `json:"duplicate,omitempty"`
	Data      json.RawMessage `json:"data,omitempty"`
	Version   string          `json:"v,omitempty"`
	TS        int64           `json:"ts,omitempty"`
	// Gateway-only fields.
	Player  string `json:"player,omitempty"`  // welcome
	Code    string `json:"code,omitempty"`    // error
	Message string `json:"message,omitempty"` // error
	Session string `json:"session,omitempty"` // welcome: the session id to resume
	Resume  string `json:"resume,omitempty"`  // welcome: the resume token
	// Rate and Burst (welcome) are the connection's message limit: Rate
	// messages a second, bursts of Burst. Absent: no limit.
	Rate  float64 `json:"rate,omitempty"`
	Burst int     `json:"burst,omitempty"`
	// Pos is stamped by the gateway on every event from the engine: its
	// position in the hunt's event stream (increasing, never 0). A resuming
	// client sends back the pos of the last event it processed.
	Pos      int64 `json:"pos,omitempty"`
	Gap      bool  `json:"gap,omitempty"`      // resumed: events were lost, join again for a snapshot
	Replayed int   `json:"replayed,omitempty"` // resumed: how many missed events follow
}

// Server message types.
const (
	TypeWelcome = "welcome" // sent by the gateway on connect
	TypeResult  = "result"  // the engine's answer to one action
	TypeError   = "error"   // the gateway refused a message; the connection stays open
	TypePong    = "pong"
	TypeResumed = "resumed" // the gateway's answer to resume
)

// Error codes of TypeError messages.
const (
	ErrBadJSON     = "bad_json"
	ErrUnknownType = "unknown_type"
	ErrNotJoined   = "not_joined"
	ErrBadField    = "bad_field"
	ErrUnavailable = "unavailable"
	ErrBinary      = "binary_not_supported"
	ErrRateLimited = "rate_limited"
)

// ValidationError says why a client message was refused.
type ValidationError struct {
	Code, Msg string
}

func (e *ValidationError) Error() string { return e.Code + ": " + e.Msg }

// Decode parses and validates one client message.
func Decode(b []byte) (ClientMessage, error) {
	m, ok := decodeFast(b)
	if !ok {
		var err error
		if m, err = decodeJSON(b); err != nil {
			return m, err
		}
	}
	return m, validate(&m)
}

// decodeJSON is encoding/json's reading of b, the reference for decodeFast,
// with its errors put in the client's terms.
func decodeJSON(b []byte) (ClientMessage, error) {
	var m ClientMessage
	if err := json.Unmarshal(b, &m); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return m, &ValidationError{ErrBadJSON, fmt.Sprintf("field %q: a JSON %s where a %s is wanted", te.Field, te.Value, jsonKind(te.Type.Kind()))}
		}
		if errors.As(err, &te) {
			return m, &ValidationError{ErrBadJSON, fmt.Sprintf("a JSON %s where a message object is wanted", te.Value)}
		}
		return m, &ValidationError{ErrBadJSON, fmt.Sprintf("not a JSON message object: %v", strings.TrimPrefix(err.Error(), "json: "))}
	}
	return m, nil
}

// decodeFast reads the messages clients send (a flat object of the known
// keys, each once, in lower case, with plain values) as encoding/json would,
// without its reflection and deep stack. ok is false for anything else,
// which decodeJSON reads: FuzzDecode checks the two agree.
func decodeFast(b []byte) (m ClientMessage, ok bool) {
	o := jsonr.NewObject(b)
	var seen uint8
	for {
		key, val, k := o.Next()
		var f uint8
		switch k {
		case jsonr.End:
			return m, true
		case jsonr.String:
			switch string(key) {
			case "type":
				f, m.Type = 1, typeName(val)
			case "hunt":
				f, m.Hunt = 2, string(val)
			default:
				return ClientMessage{}, false
			}
		case jsonr.Number:
			switch string(key) {
			case "seq":
				f = 4
				m.Seq, ok = jsonr.Uint(val)
			case "lat":
				f = 8
				m.Lat, ok = jsonr.Float(val)
			case "lon":
				f = 16
				m.Lon, ok = jsonr.Float(val)
			case "at":
				f = 32
				m.At, ok = jsonr.Int(val)
			case "pos":
				f = 64
				m.Pos, ok = jsonr.Int(val)
			default:
				ok = false
			}
			if !ok {
				return ClientMessage{}, false // encoding/json's error, or an unknown key
			}
		default:
			return ClientMessage{}, false
		}
		if seen&f != 0 {
			return ClientMessage{}, false // encoding/json keeps the last
		}
		seen |= f
	}
}

// typeName returns the constant for a known type, saving an allocation.
func typeName(b []byte) string {
	switch string(b) {
	case TypeMove:
		return TypeMove
	case TypeJoin:
		return TypeJoin
	case TypePing:
		return TypePing
	case TypeLeave:
		return TypeLeave
	case TypeResume:
		return TypeResume
	}
	return string(b)
}

// validate checks a decoded message's type and fields.
func validate(m *ClientMessage) error {
	switch m.Type {
	case TypePing:
		return nil
	case TypeJoin:
		if !ValidID(m.Hunt) {
			return &ValidationError{ErrBadField, "join needs a hunt id of 1-64 characters [A-Za-z0-9_-]"}
		}
	case TypeMove:
		if math.IsNaN(m.Lat) || m.Lat < -90 || m.Lat > 90 {
			return &ValidationError{ErrBadField, fmt.Sprintf("lat %v out of range [-90,90]", m.Lat)}
		}
		if math.IsNaN(m.Lon) || m.Lon < -180 || m.Lon > 180 {
			return &ValidationError{ErrBadField, fmt.Sprintf("lon %v out of range [-180,180]", m.Lon)}
		}
		if m.At < 0 {
			return &ValidationError{ErrBadField, "at must be unix milliseconds"}
		}
	case TypeLeave:
	case TypeResume:
		if !ValidID(m.Hunt) {
			return &ValidationError{ErrBadField, "resume needs a hunt id of 1-64 characters [A-Za-z0-9_-]"}
		}
		if m.Pos < 0 {
			return &ValidationError{ErrBadField, "pos must not be negative"}
		}
		return nil // gateway-only: no seq
	case "":
		return &ValidationError{ErrUnknownType, "message has no type"}
	default:
		return &ValidationError{ErrUnknownType, fmt.Sprintf("unknown message type %q (want join, move, leave, resume or ping)", m.Type)}
	}
	if m.Seq == 0 {
		return &ValidationError{ErrBadField, "seq must be a positive integer"}
	}
	return nil
}

// ValidID reports whether s is a usable hunt or player id.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// IsValidation reports whether err is a *ValidationError.
func IsValidation(err error) bool {
	var v *ValidationError
	return errors.As(err, &v)
}

// jsonKind names a Go kind the way a client writing JSON thinks of it.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	default:
		return "number"
	}
}
