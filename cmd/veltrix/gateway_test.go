package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/veltrix/veltrix/engine/app"
	"github.com/veltrix/veltrix/engine/client"
	"github.com/veltrix/veltrix/engine/config"
	"github.com/veltrix/veltrix/engine/protocol"
)

const resumeSecret = "gateway-tier-resume-secret-0123456789"

// startGateway2 starts a second gateway-only process-equivalent against the
// broker of s, as `veltrix gateway --config configs/kafka.yaml` would.
func startGateway2(t *testing.T, s *server) *app.App {
	t.Helper()
	cfg, err := config.Load(repoPath(t, "configs/kafka.yaml"), nil, []string{
		"data_dir=" + t.TempDir(),
		"broker.brokers=" + s.Seeds()[0],
		"topics.actions=" + s.cfg.Topics.Actions, "topics.events=" + s.cfg.Topics.Events,
		"topics.partitions=" + jsonInt(s.cfg.Topics.Partitions),
		"gateway.listen=127.0.0.1:0", "gateway.resume_secret=" + resumeSecret,
		"games.treasurehunt.scripts=" + repoPath(t, "scripts/treasurehunt"),
		"games.treasurehunt.hunts=" + repoPath(t, "configs/hunts"),
		"log_level=warn",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, err := app.Start(ctx, cfg, app.Roles{Gateway: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	return a
}

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

// A player who loses its connection right after a move resumes on a second
// gateway with its session id and resume token: the same session and
// score, the result and discovery of that move exactly once, nothing it had
// already processed again.
func TestResumeOnSecondGatewaySameSessionAndScore(t *testing.T) {
	s := startServer(t, repoPath(t, "configs/hunts"), "gateway.resume_secret="+resumeSecret)
	gw2 := startGateway2(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	c1, err := client.Dial(ctx, s.GatewayURL(), client.Options{Player: "resumer"})
	if err != nil {
		t.Fatal(err)
	}
	play(ctx, t, c1, 1) // join, then a move onto the first beacon: a discovery
	d1 := nextOf(ctx, t, c1, "discovery")
	nextOf(ctx, t, c1, "leaderboard")
	processed := c1.LastPos()
	if processed == 0 {
		t.Fatal("engine events carry no pos")
	}
	// Next beacon (Market hall, 160 m on, a minute later), and the
	// connection drops before any answer is read.
	at := time.Now().UnixMilli() + 2*60_000
	if err := c1.Send(protocol.ClientMessage{Type: "move", Seq: 3, Lat: 38.70700, Lon: -9.14590, At: at}); err != nil {
		t.Fatal(err)
	}
	c1.Close()

	c2, err := client.Dial(ctx, gw2.GatewayURL(), client.Options{Session: c1.Session, ResumeToken: c1.ResumeToken})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if c2.Player != "resumer" {
		t.Fatalf("resumed as %q, want the same session", c2.Player)
	}
	if err := c2.Resume("harbour", processed); err != nil {
		t.Fatal(err)
	}
	if r := nextOf(ctx, t, c2, protocol.TypeResumed); r.Gap {
		t.Fatalf("resume on the second gateway found a gap: %+v", r)
	}
	// The missed events of move 3 arrive (replayed or live), then a rejoin
	// gives the snapshot.
	results := map[uint64]int{}
	var d2 struct {
		Beacon string `json:"beacon"`
		Score  int    `json:"score"`
	}
	last := processed
	for d2.Beacon == "" {
		m, err := c2.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Pos != 0 {
			if m.Pos <= last {
				t.Fatalf("%s at pos %d after pos %d: a repeat", m.Type, m.Pos, last)
			}
			last = m.Pos
		}
		switch m.Type {
		case protocol.TypeResult:
			results[m.Seq]++
		case "discovery":
			_ = json.Unmarshal(m.Data, &d2)
		}
	}
	if err := c2.Send(protocol.ClientMessage{Type: "join", Hunt: "harbour", Seq: 4}); err != nil {
		t.Fatal(err)
	}
	j := nextOf(ctx, t, c2, "joined")
	for m := range results {
		if m != 3 && m != 4 {
			t.Fatalf("result of seq %d again after the resume: it had been processed", m)
		}
	}
	if results[3] != 1 {
		t.Fatalf("result of the move sent before the drop: %d times, want 1", results[3])
	}
	var snap struct {
		Score int `json:"score"`
		Found int `json:"found"`
	}
	if err := json.Unmarshal(j.Data, &snap); err != nil {
		t.Fatal(err)
	}
	var first struct {
		Score int `json:"score"`
	}
	_ = json.Unmarshal(d1.Data, &first)
	if d2.Beacon != "ribeira" || d2.Score <= first.Score || snap.Score != d2.Score || snap.Found != 2 {
		t.Fatalf("after resuming: discovery %+v (before: score %d), snapshot %+v", d2, first.Score, snap)
	}
}
