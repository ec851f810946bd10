package core

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/veltrix/veltrix/engine/protocol"
)

// StateReader is the read side of the session store. Get returns the payload of
// a live (not expired) row.
type StateReader interface {
	Get(key []byte) (val []byte, ok bool, err error)
}

// Hunt is one hunt the engine can serve: which game's rules run it and the
// game's static definition handed to those rules.
type Hunt struct {
	ID     string
	Game   string
	Def    json.RawMessage
	EndsAt int64 // unix ms, 0 = no end time
}

// Catalog finds hunts and the rules of their games.
type Catalog interface {
	Hunt(id string) (*Hunt, bool)
	Rules(game string) (Rules, bool)
}

// Write is one row for the session store. ExpiresAt is unix ms, 0 = never.
type Write struct {
	Key       []byte
	Value     []byte
	ExpiresAt int64
	Delete    bool
}

// AuditRow is one row for the audit store; (Partition, Offset, Index) make its
// key unique and stable across replays.
type AuditRow struct {
	Hunt, Player string
	TS           int64
	Partition    int32
	Offset       int64
	Index        uint16
	Kind         string
	Data         json.RawMessage
}

// Event is one message for the events topic: routed by Hunt (the record key)
// and To (one player; empty for the whole hunt). Payload is what the gateway
// writes to the socket unchanged.
type Event struct {
	Hunt    string
	To      string
	Payload []byte
}

// Ready is everything one batch of Steps asks the caller to do. See the
// package comment for the order.
type Ready struct {
	Writes   []Write
	Audit    []AuditRow
	Events   []Event
	Offsets  map[int32]int64 // next offset to consume, per partition
	Failures []error         // rule errors, already answered as rejections; for logs and metrics
}

// Empty reports whether the Ready holds nothing to do.
func (rd *Ready) Empty() bool {
	return len(rd.Writes) == 0 && len(rd.Audit) == 0 && len(rd.Events) == 0 && len(rd.Offsets) == 0
}

// Config configures a Core.
type Config struct {
	Catalog Catalog
	State   StateReader
	// SessionTTL is how long a session and its hunt's live state stay after
	// their last activity. Default 30 minutes.
	SessionTTL time.Duration
	// Version names the rules' version; it is stamped on every event.
	Version func(game string) string
}

// Core is the state machine. It is not safe for concurrent use: one goroutine
// (the partition owner) drives it.
type Core struct {
	cfg     Config
	pending map[string]pendingRow // writes of the current Ready, read back by later Steps
	rd      Ready
}

type pendingRow struct {
	val []byte
	del bool
}

// ErrBadAction is returned by Step for an action that cannot be attributed to
// a player (no hunt or player): nothing can be answered, so it is only counted.
var ErrBadAction = errors.New("core: action without hunt or player")

// New returns a Core.
func New(cfg Config) *Core {
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 30 * time.Minute
	}
	if cfg.Version == nil {
		cfg.Version = func(string) string { return "" }
	}
	return &Core{cfg: cfg, pending: make(map[string]pendingRow)}
}

// Key layout of the session store; documented in docs/architecture.md.
func SessionKey(hunt, player string) []byte { return []byte("s/" + hunt + "/" + player) }

// HuntKey is the key of a hunt's live state.
func HuntKey(hunt string) []byte { return []byte("h/" + hunt) }

var handlers = map[string]string{
	"join":  "on_join",
	"move":  "on_move",
	"leave": "on_leave",
}

// Step applies one action read from src. Its effects accumulate in the Ready.
// A returned error is an infrastructure failure (the state could not be read);
// the caller must not advance past src.
func (c *Core) Step(src Source, a Action) error {
	c.markOffset(src)
	if a.Hunt == "" || a.Player == "" {
		return ErrBadAction
	}
	audit := auditor{c: c, src: src, a: &a}
	h, ok := c.cfg.Catalog.Hunt(a.Hunt)
	if !ok {
		c.answer(&a, Answer{Reason: "unknown_hunt"}, false, "")
		audit.add("action", a.Player, encodeActionData(&a, Answer{Reason: "unknown_hunt"}))
		return nil
	}
	rules, ok := c.cfg.Catalog.Rules(h.Game)
	if !ok {
		return fmt.Errorf("core: hunt %q: no rules for game %q", h.ID, h.Game)
	}
	version := c.cfg.Version(h.Game)

	var sess SessionRecord
	if _, err := c.get(SessionKey(a.Hunt, a.Player), &sess); err != nil {
		return err
	}
	// A resent action (the gateway retried, or the player reconnected and
	// resent) is answered again, never applied twice.
	if a.Seq != 0 && a.Seq <= sess.Seq {
		if prev, ok := sess.AnswerTo(a.Seq); ok {
			c.answer(&a, prev, true, version)
		} else {
			// Older than the answers kept, or a seq this session skipped:
			// not applied now, and its answer (if any) is no longer known.
			c.event(a.Hunt, a.Player, protocol.ServerMessage{
				Type: protocol.TypeResult, Hunt: a.Hunt, Seq: a.Seq, Reason: "already_applied",
				Duplicate: true, Version: version, TS: a.TS,
			})
		}
		return nil
	}

	var hr HuntRecord
	if _, err := c.get(HuntKey(a.Hunt), &hr); err != nil {
		return err
	}

	if !hr.Ended && h.EndsAt > 0 && a.TS >= h.EndsAt || a.Type == "end" && !hr.Ended {
		if err := c.endHunt(src, &a, h, rules, &hr, version); err != nil {
			return err
		}
		if a.Type == "end" {
			return nil
		}
	}
	if hr.Ended {
		ans := Answer{Reason: "hunt_over"}
		c.answer(&a, ans, false, version)
		audit.add("action", a.Player, encodeActionData(&a, ans))
		return nil
	}

	handler, ok := handlers[a.Type]
	if !ok {
		ans := Answer{Reason: "unknown_action"}
		c.answer(&a, ans, false, version)
		audit.add("action", a.Player, encodeActionData(&a, ans))
		return nil
	}

	res, err := rules.Call(&Call{
		Game: h.Game, Handler: handler, Action: a, HuntDef: h.Def,
		HuntState: hr.State, Session: sess.State,
		Seed: seed(a.Hunt, src), Now: a.TS,
	})
	if err != nil {
		// A script error rejects this action and never stops the engine.
		c.rd.Failures = append(c.rd.Failures, fmt.Errorf("hunt %s: %s: %w", a.Hunt, handler, err))
		ans := Answer{Reason: "rules_error"}
		c.answer(&a, ans, false, version)
		data, _ := json.Marshal(map[string]any{"type": a.Type, "seq": a.Seq, "error": err.Error()})
		audit.add("rules_error", a.Player, data)
		return nil
	}

	ans := Answer{OK: res.Reject == "", Reason: res.Reject}
	if res.Session != nil {
		sess.State = res.Session
	}
	sess.Seq, sess.Seen = a.Seq, a.TS
	if a.Seq != 0 {
		sess.remember(a.Seq, ans)
	}
	c.put(SessionKey(a.Hunt, a.Player), &sess, a.TS+c.cfg.SessionTTL.Milliseconds())

	// The hunt record is rewritten when its state changed, or to push its
	// expiry on once a tenth of the TTL has passed: most moves change only
	// the mover's session, and a busy hunt's record need not be rewritten
	// for each of them. It expires 30 to 33 minutes after its last action.
	if res.HuntState != nil || hr.Seen == 0 || a.TS-hr.Seen >= c.cfg.SessionTTL.Milliseconds()/10 {
		if res.HuntState != nil {
			hr.State = res.HuntState
		}
		hr.Seen = a.TS
		c.put(HuntKey(a.Hunt), &hr, c.huntExpiry(h, a.TS))
	}

	audit.add("action", a.Player, encodeActionData(&a, ans))
	for _, e := range res.Audit {
		p := e.Player
		if p == "" {
			p = a.Player
		}
		audit.add(e.Kind, p, e.Data)
	}
	// The answer goes first so a client sees "accepted" before what it caused.
	c.answer(&a, ans, false, version)
	c.emit(&a, res.Events, version)
	if res.EndHunt {
		return c.endHunt(src, &a, h, rules, &hr, version)
	}
	return nil
}

func (c *Core) endHunt(src Source, a *Action, h *Hunt, rules Rules, hr *HuntRecord, version string) error {
	hr.Ended, hr.Seen = true, a.TS
	audit := auditor{c: c, src: src, a: a, base: 1000}
	res, err := rules.Call(&Call{
		Game: h.Game, Handler: "on_end", Action: *a, HuntDef: h.Def,
		HuntState: hr.State, Seed: seed(a.Hunt, src) ^ 1, Now: a.TS,
	})
	if err != nil {
		c.rd.Failures = append(c.rd.Failures, fmt.Errorf("hunt %s: on_end: %w", a.Hunt, err))
		data, _ := json.Marshal(map[string]any{"error": err.Error()})
		audit.add("rules_error", "", data)
	} else {
		if res.HuntState != nil {
			hr.State = res.HuntState
		}
		for _, e := range res.Audit {
			audit.add(e.Kind, e.Player, e.Data)
		}
		c.emit(a, res.Events, version)
	}
	c.put(HuntKey(a.Hunt), hr, c.huntExpiry(h, a.TS))
	return nil
}

// Skip records that the action at src was consumed without effect (it could
// not be decoded), so the stored offset moves past it.
func (c *Core) Skip(src Source) { c.markOffset(src) }

// Ready returns the work accumulated since the last Advance.
func (c *Core) Ready() Ready { return c.rd }

// Advance tells the core that the last Ready has been persisted and published.
func (c *Core) Advance() {
	clear(c.pending)
	c.rd = Ready{}
}

func (c *Core) markOffset(src Source) {
	if c.rd.Offsets == nil {
		c.rd.Offsets = make(map[int32]int64)
	}
	if next := src.Offset + 1; next > c.rd.Offsets[src.Partition] {
		c.rd.Offsets[src.Partition] = next
	}
}

// get decodes the row at key, looking first at this Ready's writes.
func (c *Core) get(key []byte, v encoding.BinaryUnmarshaler) (bool, error) {
	var raw []byte
	if p, ok := c.pending[string(key)]; ok {
		if p.del {
			return false, nil
		}
		raw = p.val
	} else {
		val, ok, err := c.cfg.State.Get(key)
		if err != nil {
			return false, fmt.Errorf("core: read %q: %w", key, err)
		}
		if !ok {
			return false, nil
		}
		raw = val
	}
	if err := v.UnmarshalBinary(raw); err != nil {
		return false, fmt.Errorf("core: decode %q: %w", key, err)
	}
	return true, nil
}

// huntExpiry keeps a hunt's live state (leaderboard, first finders) for
// longer than any of its sessions, and, for a hunt with an end time, at
// least until the session TTL after that end: a quiet half hour in the middle
// of a scheduled hunt must not wipe its leaderboard.
func (c *Core) huntExpiry(h *Hunt, ts int64) int64 {
	ttl := c.cfg.SessionTTL.Milliseconds()
	// The record is rewritten at most a tenth of the TTL apart (see Step):
	// the extra tenth keeps it alive past every session of the hunt, so no
	// session outlives the hunt's first finders and leaderboard.
	return max(ts+ttl+ttl/10, h.EndsAt+ttl)
}

// put stages a session-store row expiring at expiresAt (unix ms).
func (c *Core) put(key []byte, v encoding.BinaryMarshaler, expiresAt int64) {
	val, _ := v.MarshalBinary() // the records' encoders cannot fail
	c.pending[string(key)] = pendingRow{val: val}
	c.rd.Writes = append(c.rd.Writes, Write{Key: key, Value: val, ExpiresAt: expiresAt})
}

func (c *Core) answer(a *Action, ans Answer, dup bool, version string) {
	ok := ans.OK
	c.event(a.Hunt, a.Player, protocol.ServerMessage{
		Type: protocol.TypeResult, Hunt: a.Hunt, Seq: a.Seq, OK: &ok, Reason: ans.Reason,
		Duplicate: dup, Version: version, TS: a.TS,
	})
}

func (c *Core) emit(a *Action, es []Emit, version string) {
	for _, e := range es {
		c.event(a.Hunt, e.To, protocol.ServerMessage{Type: e.Type, Hunt: a.Hunt, Seq: a.Seq, Data: e.Data, Version: version, TS: a.TS})
	}
}

func (c *Core) event(hunt, to string, m protocol.ServerMessage) {
	c.rd.Events = append(c.rd.Events, Event{Hunt: hunt, To: to, Payload: encodeEvent(m)})
}

// auditor numbers the audit rows of one action so their keys are stable.
type auditor struct {
	c    *Core
	src  Source
	a    *Action
	base uint16
	n    uint16
}

func (w *auditor) add(kind, player string, data json.RawMessage) {
	w.c.rd.Audit = append(w.c.rd.Audit, AuditRow{
		Hunt: w.a.Hunt, Player: player, TS: w.a.TS,
		Partition: w.src.Partition, Offset: w.src.Offset, Index: w.base + w.n,
		Kind: kind, Data: data,
	})
	w.n++
}

func seed(hunt string, src Source) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d/%d", hunt, src.Partition, src.Offset)
	return h.Sum64()
}
