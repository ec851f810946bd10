package lua

import (
	"encoding/json"
	"fmt"

	"github.com/veltrix/veltrix/engine/core"
	"github.com/veltrix/veltrix/engine/protocol"
)

// Offline is the engine without its IO: actions go through engine/core and
// a game's rules exactly as in the server, with the state in memory and no
// Kafka, RocksDB or network. `veltrix hunt simulate`, the Lua test runner
// and the hot-reload dry run use it. Not safe for concurrent use.
type Offline struct {
	core    *core.Core
	rows    map[string][]byte
	hunts   map[string]*core.Hunt
	rules   map[string]core.Rules
	version func(game string) string
	offset  int64
}

// Outcome is what one action produced.
type Outcome struct {
	// Answer is the "result" message answering the action (Type is empty
	// when the action got none, e.g. an "end").
	Answer protocol.ServerMessage
	// Events are all the messages published, the answer included, in order.
	Events []Event
	// Audit rows and rule failures, as the runner would write and log them.
	Audit    []core.AuditRow
	Failures []error
}

// Event is one published message and who it goes to ("" = the whole hunt).
type Event struct {
	To  string
	Msg protocol.ServerMessage
}

// NewOffline returns an empty offline engine. version names the rules'
// version of a game (nil: "").
func NewOffline(version func(game string) string) *Offline {
	o := &Offline{rows: map[string][]byte{}, hunts: map[string]*core.Hunt{}, rules: map[string]core.Rules{}, version: version}
	if o.version == nil {
		o.version = func(string) string { return "" }
	}
	o.core = core.New(core.Config{Catalog: o, State: o, Version: func(g string) string { return o.version(g) }})
	return o
}

// AddHunt serves h with rules (for h.Game).
func (o *Offline) AddHunt(h core.Hunt, rules core.Rules) {
	o.hunts[h.ID] = &h
	o.rules[h.Game] = rules
}

// Hunt implements core.Catalog.
func (o *Offline) Hunt(id string) (*core.Hunt, bool) { h, ok := o.hunts[id]; return h, ok }

// Rules implements core.Catalog.
func (o *Offline) Rules(game string) (core.Rules, bool) { r, ok := o.rules[game]; return r, ok }

// Get implements core.StateReader.
func (o *Offline) Get(key []byte) ([]byte, bool, error) {
	v, ok := o.rows[string(key)]
	return v, ok, nil
}

// Do applies one action, as if it were the next record of partition 0.
func (o *Offline) Do(a core.Action) (*Outcome, error) {
	src := core.Source{Partition: 0, Offset: o.offset}
	o.offset++
	if err := o.core.Step(src, a); err != nil {
		return nil, err
	}
	rd := o.core.Ready()
	defer o.core.Advance()
	for _, w := range rd.Writes {
		if w.Delete {
			delete(o.rows, string(w.Key))
		} else {
			o.rows[string(w.Key)] = w.Value
		}
	}
	out := &Outcome{Audit: rd.Audit, Failures: rd.Failures}
	for _, e := range rd.Events {
		var m protocol.ServerMessage
		if err := json.Unmarshal(e.Payload, &m); err != nil {
			return nil, fmt.Errorf("offline: event %s: %w", e.Payload, err)
		}
		out.Events = append(out.Events, Event{To: e.To, Msg: m})
		if m.Type == protocol.TypeResult && e.To == a.Player && m.Seq == a.Seq && out.Answer.Type == "" {
			out.Answer = m
		}
	}
	return out, nil
}

// Session returns the game's session state of a player (nil if none).
func (o *Offline) Session(hunt, player string) json.RawMessage {
	v, ok := o.rows[string(core.SessionKey(hunt, player))]
	if !ok {
		return nil
	}
	rec, err := core.DecodeSession(v)
	if err != nil {
		return nil
	}
	return rec.State
}

// HuntState returns the game's state of a hunt (nil if none).
func (o *Offline) HuntState(hunt string) json.RawMessage {
	v, ok := o.rows[string(core.HuntKey(hunt))]
	if !ok {
		return nil
	}
	rec, err := core.DecodeHunt(v)
	if err != nil {
		return nil
	}
	return rec.State
}
