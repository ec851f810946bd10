package core

import (
	"encoding/json"
	"math"
	"strings"

	"github.com/veltrix/veltrix/internal/jsonr"
	"github.com/veltrix/veltrix/internal/jsonw"
)

// Every action is encoded once by a gateway and decoded once by the engine
// (again at each replay): these do it without encoding/json's reflection,
// exactly as it would, so stored records and readers are unaffected.

// AppendJSON appends a as json.Marshal writes it, byte for byte. Like
// json.Marshal it refuses a NaN or infinite Lat or Lon (returning b and
// json.Marshal's error); protocol.Decode lets none through.
func (a *Action) AppendJSON(b []byte) ([]byte, error) {
	if math.IsNaN(a.Lat) || math.IsInf(a.Lat, 0) || math.IsNaN(a.Lon) || math.IsInf(a.Lon, 0) {
		_, err := json.Marshal(*a) // a copy, so that a does not escape
		return b, err
	}
	b = append(b, `{"hunt":`...)
	b = jsonw.String(b, a.Hunt)
	b = append(b, `,"player":`...)
	b = jsonw.String(b, a.Player)
	if a.Session != "" {
		b = append(b, `,"session":`...)
		b = jsonw.String(b, a.Session)
	}
	b = append(b, `,"seq":`...)
	b = jsonw.Uint(b, a.Seq)
	b = append(b, `,"type":`...)
	b = jsonw.String(b, a.Type)
	if a.Lat != 0 {
		b = append(b, `,"lat":`...)
		b = jsonw.Float(b, a.Lat)
	}
	if a.Lon != 0 {
		b = append(b, `,"lon":`...)
		b = jsonw.Float(b, a.Lon)
	}
	if a.At != 0 {
		b = append(b, `,"at":`...)
		b = jsonw.Int(b, a.At)
	}
	b = append(b, `,"ts":`...)
	b = jsonw.Int(b, a.TS)
	if a.Gateway != "" {
		b = append(b, `,"gw":`...)
		b = jsonw.String(b, a.Gateway)
	}
	return append(b, '}'), nil
}

// DecodeAction reads an action record: the same Action and error as
// json.Unmarshal into a zero Action. Records as gateways write them take a
// fast path; anything else (escapes, unknown keys, other value kinds...)
// goes through json.Unmarshal, and FuzzDecodeAction checks the two agree.
func DecodeAction(b []byte) (Action, error) {
	if a, ok := decodeActionFast(b); ok {
		return a, nil
	}
	var a Action
	err := json.Unmarshal(b, &a)
	return a, err
}

func decodeActionFast(b []byte) (a Action, ok bool) {
	// Field bits, to refuse duplicate keys (encoding/json keeps the last).
	const (
		fHunt = 1 << iota
		fPlayer
		fSession
		fSeq
		fType
		fLat
		fLon
		fAt
		fTS
		fGateway
	)
	o := jsonr.NewObject(b)
	var seen uint16
	// The strings are copied into one allocation once the record is known
	// to be good: the input is the consumer's buffer.
	var hunt, player, session, gw []byte
	for {
		key, val, k := o.Next()
		var f uint16
		switch k {
		case jsonr.End:
			a.Hunt, a.Player, a.Session, a.Gateway = copyStrings(hunt, player, session, gw)
			return a, true
		case jsonr.String:
			switch string(key) {
			case "hunt":
				f, hunt = fHunt, val
			case "player":
				f, player = fPlayer, val
			case "session":
				f, session = fSession, val
			case "type":
				f = fType
				a.Type = actionType(val)
			case "gw":
				f, gw = fGateway, val
			default:
				return Action{}, false
			}
		case jsonr.Number:
			switch string(key) {
			case "seq":
				f = fSeq
				a.Seq, ok = jsonr.Uint(val)
			case "lat":
				f = fLat
				a.Lat, ok = jsonr.Float(val)
			case "lon":
				f = fLon
				a.Lon, ok = jsonr.Float(val)
			case "at":
				f = fAt
				a.At, ok = jsonr.Int(val)
			case "ts":
				f = fTS
				a.TS, ok = jsonr.Int(val)
			default:
				ok = false
			}
			if !ok {
				return Action{}, false // encoding/json's error, or an unknown key
			}
		default:
			return Action{}, false
		}
		if seen&f != 0 {
			return Action{}, false
		}
		seen |= f
	}
}

// actionType returns the constant for a known type, saving an allocation.
func actionType(b []byte) string {
	switch string(b) {
	case "move":
		return "move"
	case "join":
		return "join"
	case "leave":
		return "leave"
	case "end":
		return "end"
	}
	return string(b)
}

// copyStrings copies its arguments into one string and returns its parts
// (one allocation instead of four; a part kept keeps the few others alive).
func copyStrings(a, b, c, d []byte) (string, string, string, string) {
	var sb strings.Builder
	sb.Grow(len(a) + len(b) + len(c) + len(d))
	sb.Write(a)
	sb.Write(b)
	sb.Write(c)
	sb.Write(d)
	s := sb.String()
	i, j, k := len(a), len(a)+len(b), len(a)+len(b)+len(c)
	return s[:i], s[i:j], s[j:k], s[k:]
}
