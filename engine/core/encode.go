package core

import (
	"encoding/json"
	"fmt"

	"github.com/veltrix/veltrix/engine/protocol"
	"github.com/veltrix/veltrix/internal/jsonw"
)

// Every action writes one audit row and answers with one event: these build
// them without json.Marshal's reflection (and, for the audit data, its map),
// byte for byte as json.Marshal did, so replays and stored rows compare equal.

// encodeActionData is an action's audit data: the keys in sorted order,
// as json.Marshal writes a map.
func encodeActionData(a *Action, ans Answer) json.RawMessage {
	b := make([]byte, 0, 128)
	move := a.Type == "move"
	if move {
		b = append(b, `{"at":`...)
		b = jsonw.Int(b, a.At)
		b = append(b, `,"lat":`...)
		b = jsonw.Float(b, a.Lat)
		b = append(b, `,"lon":`...)
		b = jsonw.Float(b, a.Lon)
		b = append(b, `,"ok":`...)
	} else {
		b = append(b, `{"ok":`...)
	}
	b = jsonw.Bool(b, ans.OK)
	if ans.Reason != "" {
		b = append(b, `,"reason":`...)
		b = jsonw.String(b, ans.Reason)
	}
	b = append(b, `,"seq":`...)
	b = jsonw.Uint(b, a.Seq)
	b = append(b, `,"type":`...)
	b = jsonw.String(b, a.Type)
	return append(b, '}')
}

// encodeEvent writes the fields the engine sets on a server message, in
// the struct's order with its omitempty rules; a message with any other
// field goes through json.Marshal.
func encodeEvent(m protocol.ServerMessage) []byte {
	if m.Player != "" || m.Code != "" || m.Message != "" || m.Session != "" || m.Resume != "" ||
		m.Rate != 0 || m.Burst != 0 || m.Pos != 0 || m.Gap || m.Replayed != 0 {
		return marshalEvent(m)
	}
	b := make([]byte, 0, 96+len(m.Data))
	b = append(b, `{"type":`...)
	b = jsonw.String(b, m.Type)
	if m.Hunt != "" {
		b = append(b, `,"hunt":`...)
		b = jsonw.String(b, m.Hunt)
	}
	if m.Seq != 0 {
		b = append(b, `,"seq":`...)
		b = jsonw.Uint(b, m.Seq)
	}
	if m.OK != nil {
		b = append(b, `,"ok":`...)
		b = jsonw.Bool(b, *m.OK)
	}
	if m.Reason != "" {
		b = append(b, `,"reason":`...)
		b = jsonw.String(b, m.Reason)
	}
	if m.Duplicate {
		b = append(b, `,"duplicate":true`...)
	}
	if len(m.Data) > 0 {
		// json.Marshal compacts and HTML-escapes a RawMessage: marshal the
		// data alone to get the same bytes (and its check that it is JSON).
		d, err := json.Marshal(m.Data)
		if err != nil {
			panic(fmt.Sprintf("core: encode event data: %v", err))
		}
		b = append(b, `,"data":`...)
		b = append(b, d...)
	}
	if m.Version != "" {
		b = append(b, `,"v":`...)
		b = jsonw.String(b, m.Version)
	}
	if m.TS != 0 {
		b = append(b, `,"ts":`...)
		b = jsonw.Int(b, m.TS)
	}
	return append(b, '}')
}

func marshalEvent(m protocol.ServerMessage) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("core: encode event: %v", err))
	}
	return b
}
