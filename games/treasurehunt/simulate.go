package treasurehunt

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/veltrix/veltrix/engine/core"
	"github.com/veltrix/veltrix/engine/lua"
	"github.com/veltrix/veltrix/engine/protocol"
	"github.com/veltrix/veltrix/games/treasurehunt/gpx"
	"github.com/veltrix/veltrix/games/treasurehunt/huntdef"
)

// Offline runs of the rules: `veltrix hunt simulate`, and the dry run every
// new version of the scripts must pass before it is published.

// Track is one player's walk.
type Track struct {
	Player string
	Points []gpx.Point
}

// SimOptions configures Simulate.
type SimOptions struct {
	Program *lua.Program // the rules
	Hunt    *huntdef.Hunt
	Tracks  []Track
	// End sends an "end" action after the last move: on_end runs and the
	// report has the winners.
	End bool
	// Start is the time given to points without a time (one fix a second
	// from there). Default 2025-01-01T00:00:00Z.
	Start time.Time
}

// SimDiscovery is one discovery, as the player was told.
type SimDiscovery struct {
	Player string    `json:"player"`
	Beacon string    `json:"beacon"`
	Name   string    `json:"name"`
	Points int       `json:"points"`
	First  bool      `json:"first"`
	Score  int       `json:"score"`
	At     time.Time `json:"at"`
}

// SimPlayer sums up one player.
type SimPlayer struct {
	Player   string         `json:"player"`
	Moves    int            `json:"moves"`
	Accepted int            `json:"accepted"`
	Rejected map[string]int `json:"rejected,omitempty"`
	Found    int            `json:"found"`
	Score    int            `json:"score"`
}

// Rank is one leaderboard line.
type Rank struct {
	Player string `json:"player"`
	Score  int    `json:"score"`
}

// SimReport is what a simulation saw.
type SimReport struct {
	Hunt        string         `json:"hunt"`
	Version     string         `json:"version"`
	Actions     int            `json:"actions"`
	Discoveries []SimDiscovery `json:"discoveries"`
	Players     []SimPlayer    `json:"players"`
	Leaderboard []Rank         `json:"leaderboard"`
	Winners     []string       `json:"winners,omitempty"`
	// RuleErrors are the actions the rules failed on (file:line: message).
	RuleErrors []string `json:"rule_errors,omitempty"`
}

// Simulate plays the tracks through the same engine code as the server
// (engine/core and the Lua runtime), in memory: no broker, no store, no
// network. The players join at their first fix; their moves are
// interleaved by fix time, and each action's engine time is its fix time.
func Simulate(o SimOptions) (*SimReport, error) {
	if o.Program == nil || o.Hunt == nil {
		return nil, errors.New("simulate: rules and hunt are required")
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	h, err := Hunt(o.Hunt)
	if err != nil {
		return nil, err
	}
	rules, err := lua.NewRuntime(o.Program)
	if err != nil {
		return nil, err
	}
	defer rules.Close()
	off := lua.NewOffline(func(string) string { return o.Program.Version() })
	off.AddHunt(h, rules)

	type step struct {
		track, index int
		at           int64
	}
	var steps []step
	for ti, t := range o.Tracks {
		for i, p := range t.Points {
			at := p.Time.UnixMilli()
			if p.Time.IsZero() {
				at = o.Start.UnixMilli() + int64(i)*1000
			}
			steps = append(steps, step{track: ti, index: i, at: at})
		}
	}
	// By fix time; a tie keeps the tracks' order, then the points' order.
	slices.SortStableFunc(steps, func(a, b step) int {
		switch {
		case a.at != b.at:
			return cmp.Compare(a.at, b.at)
		case a.track != b.track:
			return a.track - b.track
		}
		return a.index - b.index
	})

	rep := &SimReport{Hunt: h.ID, Version: o.Program.Version()}
	players := make([]SimPlayer, len(o.Tracks))
	seqs := make([]uint64, len(o.Tracks))
	var last int64
	do := func(a core.Action) (*lua.Outcome, error) {
		a.Hunt = h.ID
		out, err := off.Do(a)
		if err != nil {
			return nil, err
		}
		rep.Actions++
		for _, f := range out.Failures {
			rep.RuleErrors = append(rep.RuleErrors, f.Error())
		}
		for _, e := range out.Events {
			switch e.Msg.Type {
			case "discovery":
				var d SimDiscovery
				if err := json.Unmarshal(e.Msg.Data, &d); err != nil {
					return nil, fmt.Errorf("simulate: discovery event: %w", err)
				}
				d.Player, d.At = e.To, time.UnixMilli(a.TS).UTC()
				rep.Discoveries = append(rep.Discoveries, d)
			case "leaderboard", "hunt_ended":
				var lb struct {
					Top     []Rank   `json:"top"`
					Winners []string `json:"winners"`
				}
				if err := json.Unmarshal(e.Msg.Data, &lb); err == nil {
					rep.Leaderboard = lb.Top
					if e.Msg.Type == "hunt_ended" {
						rep.Winners = lb.Winners
					}
				}
			}
		}
		return out, nil
	}
	for _, s := range steps {
		ti := s.track
		p := &players[ti]
		p.Player = o.Tracks[ti].Player
		if seqs[ti] == 0 {
			seqs[ti] = 1
			out, err := do(core.Action{Type: "join", Player: p.Player, Seq: 1, TS: s.at})
			if err != nil {
				return nil, err
			}
			if !answered(out) {
				return rep, fmt.Errorf("simulate: %s could not join hunt %s: %s", p.Player, h.ID, out.Answer.Reason)
			}
		}
		seqs[ti]++
		pt := o.Tracks[ti].Points[s.index]
		out, err := do(core.Action{Type: "move", Player: p.Player, Seq: seqs[ti], Lat: pt.Lat, Lon: pt.Lon, At: s.at, TS: s.at})
		if err != nil {
			return nil, err
		}
		p.Moves++
		if answered(out) {
			p.Accepted++
		} else {
			if p.Rejected == nil {
				p.Rejected = map[string]int{}
			}
			p.Rejected[out.Answer.Reason]++
		}
		last = s.at
	}
	if o.End {
		if _, err := do(core.Action{Type: "end", Player: "operator", Seq: 1, TS: last + 1}); err != nil {
			return nil, err
		}
	}
	for i := range players {
		p := &players[i]
		if p.Player == "" {
			p.Player = o.Tracks[i].Player
		}
		var s struct {
			Score int            `json:"score"`
			Found map[string]any `json:"found"`
		}
		_ = json.Unmarshal(off.Session(h.ID, p.Player), &s)
		p.Score, p.Found = s.Score, len(s.Found)
	}
	rep.Players = players
	return rep, nil
}

func answered(out *lua.Outcome) bool { return out.Answer.OK != nil && *out.Answer.OK }

// sampleHunt is the dry run's hunt when no hunt is configured: two beacons
// 300 m apart.
var sampleHunt = &huntdef.Hunt{
	ID: "dry-run", Name: "Dry run", RadiusM: 30, MaxSpeedMPS: 15, FirstFinderBonus: 10,
	Beacons: []huntdef.Beacon{
		{ID: "a", Name: "A", Lat: 45.0, Lon: 13.0, Difficulty: 1.5, Terrain: 2},
		{ID: "b", Name: "B", Lat: 45.0027, Lon: 13.0, Difficulty: 3, Terrain: 1},
	},
}

// DryRun plays a short game with p on hunt (nil: a built-in sample): two
// players join, walk to the first beacon and on, leave, and the hunt ends.
// Every handler runs; any rules error, or an action left unanswered, fails
// the dry run. The outcome of the game (scores) is not judged: a new
// version may score differently.
func DryRun(p *lua.Program, hunt *huntdef.Hunt) error {
	if hunt == nil || len(hunt.Beacons) == 0 {
		hunt = sampleHunt
	}
	h, err := Hunt(hunt)
	if err != nil {
		return err
	}
	rules, err := lua.NewRuntime(p)
	if err != nil {
		return err
	}
	defer rules.Close()
	off := lua.NewOffline(func(string) string { return p.Version() })
	off.AddHunt(h, rules)
	b := hunt.Beacons[0]
	t := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC).UnixMilli()
	if hunt.EndsAt > 0 {
		t = min(t, hunt.EndsAt-10*60_000)
	}
	actions := []core.Action{
		{Type: "join", Player: "dry-run-1", Seq: 1},
		{Type: "join", Player: "dry-run-2", Seq: 1},
		{Type: "move", Player: "dry-run-1", Seq: 2, Lat: b.Lat + 0.001, Lon: b.Lon},
		{Type: "move", Player: "dry-run-1", Seq: 3, Lat: b.Lat, Lon: b.Lon},
		{Type: "move", Player: "dry-run-2", Seq: 2, Lat: b.Lat, Lon: b.Lon},
		{Type: "move", Player: "dry-run-1", Seq: 4, Lat: b.Lat - 0.0005, Lon: b.Lon},
		{Type: "leave", Player: "dry-run-2", Seq: 3},
		{Type: "end", Player: "operator", Seq: 1},
	}
	for i, a := range actions {
		a.Hunt = h.ID
		a.TS = t + int64(i)*60_000
		if a.Type == "move" {
			a.At = a.TS
		}
		out, err := off.Do(a)
		if err != nil {
			return err
		}
		if len(out.Failures) > 0 {
			return fmt.Errorf("%s of %s: %w", a.Type, a.Player, out.Failures[0])
		}
		if a.Type != "end" && out.Answer.Type != protocol.TypeResult {
			return fmt.Errorf("%s of %s: no answer", a.Type, a.Player)
		}
	}
	return nil
}
