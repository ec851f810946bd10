package core

import "encoding/json"

// Action is one player (or operator) action as it travels the actions topic,
// keyed by Hunt so that one partition owner is the single writer of a hunt.
type Action struct {
	Hunt    string  `json:"hunt"`
	Player  string  `json:"player"`
	Session string  `json:"session,omitempty"`
	Seq     uint64  `json:"seq"`
	Type    string  `json:"type"` // join, move, leave, end
	Lat     float64 `json:"lat,omitempty"`
	Lon     float64 `json:"lon,omitempty"`
	At      int64   `json:"at,omitempty"` // client's position fix time, unix ms
	TS      int64   `json:"ts"`           // gateway receive time, unix ms: the engine's clock for this action
	Gateway string  `json:"gw,omitempty"`
}

// Source is where an action was read from; it makes audit keys and random
// seeds deterministic, so replaying the log rebuilds identical state.
type Source struct {
	Partition int32
	Offset    int64
}

// Call is one invocation of a game's rules: pure input, no IO.
type Call struct {
	Game      string
	Handler   string // "on_join", "on_move", "on_leave", "on_end"
	Action    Action
	HuntDef   json.RawMessage // static hunt definition (beacons...); the same slice for every call of a hunt, so it may be cached by identity
	HuntState json.RawMessage // JSON object, nil when the hunt has no state yet
	Session   json.RawMessage // JSON object, nil for a new player
	Seed      uint64          // seed for the rules' random source (derived from hunt and source)
	Now       int64           // unix ms (Action.TS)
}

// Emit is an event the rules send to one player (To) or the whole hunt (To == "").
type Emit struct {
	To   string          `json:"to,omitempty"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data,omitempty"`
}

// AuditEntry is a row the rules ask to keep in the audit store.
type AuditEntry struct {
	Kind   string          `json:"kind"`
	Player string          `json:"player,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
}

// Result is what the rules return: the new state and the effects.
// JSON objects are encoded with sorted keys so identical inputs give identical bytes.
type Result struct {
	HuntState json.RawMessage // new hunt state (nil: unchanged)
	Session   json.RawMessage // new session state (nil: unchanged)
	Events    []Emit
	Audit     []AuditEntry
	Reject    string // non-empty: the action is rejected with this reason (state changes and audit rows still apply)
	EndHunt   bool   // the rules ended the hunt
}

// Rules runs a game's rules. Implementations are used from one goroutine.
type Rules interface {
	Call(c *Call) (*Result, error)
}
