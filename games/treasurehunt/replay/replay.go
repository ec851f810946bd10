// Package replay plays one player along a recorded GPX track over a real
// WebSocket: join a hunt, send each track point as a move (at its recorded
// pace divided by Speed, or as fast as the answers come), and report what the
// player discovered and scored. `veltrix replay` and the end-to-end tests use
// it; the load tools run many at once.
package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/veltrix/veltrix/engine/client"
	"github.com/veltrix/veltrix/engine/protocol"
	"github.com/veltrix/veltrix/games/treasurehunt/gpx"
)

// Options configures a replay.
type Options struct {
	URL    string // gateway, ws://host:port/ws
	Hunt   string
	Player string // optional; the gateway assigns one when empty
	Points []gpx.Point
	// Speed divides the recorded time between points: 1 is real time, 10
	// ten times faster, 0 as fast as the engine answers.
	Speed float64
	// Window bounds the moves awaiting an answer when Speed is 0. Default 32.
	Window int
	// Progress, if set, is called after each answer.
	Progress func(done, total int)
	// FirstSeq is the join's seq; the moves follow it. Default: the clock
	// in unix ms, so a player who played before (whose actions up to some
	// seq the engine has applied) is replayed with higher seqs, not
	// answered as resends.
	FirstSeq uint64
}

// Discovery is one beacon found.
type Discovery struct {
	Beacon string `json:"beacon"`
	Name   string `json:"name"`
	Points int    `json:"points"`
	First  bool   `json:"first"`
	Score  int    `json:"score"`
}

// Report is what a replay saw.
type Report struct {
	Player      string          `json:"player"`
	Hunt        string          `json:"hunt"`
	Moves       int             `json:"moves"`
	Accepted    int             `json:"accepted"`
	Rejected    map[string]int  `json:"rejected,omitempty"` // by reason
	Discoveries []Discovery     `json:"discoveries"`
	Score       int             `json:"score"`
	Duration    time.Duration   `json:"duration_ns"`
	Latencies   []time.Duration `json:"-"` // move to answer, in send order
}

// Run replays the track and returns when every move has been answered.
func Run(ctx context.Context, o Options) (*Report, error) {
	if len(o.Points) == 0 {
		return nil, errors.New("replay: the track has no points")
	}
	if o.Window <= 0 {
		o.Window = 32
	}
	start := time.Now()
	c, err := client.Dial(ctx, o.URL, client.Options{Player: o.Player})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	rep := &Report{Player: c.Player, Hunt: o.Hunt, Rejected: map[string]int{}}

	sent := make(map[uint64]time.Time, o.Window)
	seq := o.FirstSeq
	if seq == 0 {
		seq = uint64(time.Now().UnixMilli())
	}
	joinSeq := seq
	if err := c.Wait(ctx); err != nil {
		return nil, err
	}
	if err := c.Send(protocol.ClientMessage{Type: protocol.TypeJoin, Hunt: o.Hunt, Seq: seq}); err != nil {
		return nil, err
	}
	sent[seq] = time.Now()
	if err := awaitUntil(ctx, c, rep, sent, joinSeq, 0); err != nil {
		return nil, err
	}
	if rep.Rejected["join"] > 0 {
		reason := "refused"
		for k := range rep.Rejected {
			if r, ok := strings.CutPrefix(k, "join:"); ok {
				reason = r
			}
		}
		return rep, fmt.Errorf("replay: join %s: %s", o.Hunt, reason)
	}

	t0 := o.Points[0].Time
	synth := time.Now().UnixMilli()
	for i, p := range o.Points {
		at := p.Time.UnixMilli()
		if p.Time.IsZero() || t0.IsZero() {
			// No recorded time: assume one fix a second.
			at = synth + int64(i)*1000
		}
		if o.Speed > 0 && i > 0 && !p.Time.IsZero() && !t0.IsZero() {
			due := start.Add(time.Duration(float64(p.Time.Sub(t0)) / o.Speed))
			if d := time.Until(due); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return rep, ctx.Err()
				}
			}
		}
		seq++
		// Under the gateway's rate limit: a refused move would be lost, and
		// resending it after later moves were applied would be a duplicate.
		if err := c.Wait(ctx); err != nil {
			return rep, err
		}
		if err := c.Send(protocol.ClientMessage{Type: protocol.TypeMove, Seq: seq, Lat: p.Lat, Lon: p.Lon, At: at}); err != nil {
			return rep, err
		}
		sent[seq] = time.Now()
		rep.Moves++
		if err := awaitUntil(ctx, c, rep, sent, joinSeq, o.Window-1); err != nil {
			return rep, err
		}
		if o.Progress != nil {
			o.Progress(rep.Moves-len(sent), len(o.Points))
		}
	}
	if err := awaitUntil(ctx, c, rep, sent, joinSeq, 0); err != nil {
		return rep, err
	}
	if o.Progress != nil {
		o.Progress(len(o.Points), len(o.Points))
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

// awaitUntil reads messages until at most pending moves await an answer.
func awaitUntil(ctx context.Context, c *client.Client, rep *Report, sent map[uint64]time.Time, joinSeq uint64, pending int) error {
	for len(sent) > pending {
		m, err := c.Next(ctx)
		if err != nil {
			return fmt.Errorf("replay: %d actions unanswered: %w", len(sent), err)
		}
		switch m.Type {
		case protocol.TypeResult:
			t, ok := sent[m.Seq]
			if !ok {
				continue // a duplicate answer
			}
			delete(sent, m.Seq)
			rep.Latencies = append(rep.Latencies, time.Since(t))
			switch {
			case m.Duplicate:
				// The engine had these seqs already: nothing was applied.
				rep.Rejected["duplicate"]++
				if m.Seq == joinSeq {
					rep.Rejected["join"]++
					rep.Rejected["join:already applied (seq "+fmt.Sprint(m.Seq)+" is not above the player's last)"]++
				}
			case m.OK != nil && *m.OK:
				if m.Seq != joinSeq {
					rep.Accepted++
				}
			case m.Seq == joinSeq:
				rep.Rejected["join"]++
				rep.Rejected["join:"+m.Reason]++
			default:
				rep.Rejected[m.Reason]++
			}
		case "discovery":
			var d Discovery
			if err := json.Unmarshal(m.Data, &d); err != nil {
				return fmt.Errorf("replay: bad discovery event: %w", err)
			}
			rep.Discoveries = append(rep.Discoveries, d)
			rep.Score = d.Score
		case "joined":
			var j struct {
				Score int `json:"score"`
			}
			_ = json.Unmarshal(m.Data, &j)
			rep.Score = j.Score
		case protocol.TypeError:
			if _, ok := sent[m.Seq]; ok {
				delete(sent, m.Seq)
				rep.Rejected["gateway:"+m.Code]++
			}
		}
	}
	return nil
}
