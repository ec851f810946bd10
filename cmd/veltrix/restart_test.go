package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/engine/client"
	"github.com/veltrix/veltrix/engine/core"
	"github.com/veltrix/veltrix/engine/store"
)

// TestRestartKeepsEverything stops the all-in-one server cleanly in the
// middle of a walk (as Ctrl-C does) and starts it again on the same data
// dir: the player resumes with its score, and no action is lost or applied
// twice across the restart (the embedded broker's log and the engine's
// stored offsets survive together).
func TestRestartKeepsEverything(t *testing.T) {
	walk, pts := visnjanWalk(t)
	dir, hunt := importHunt(t, walk, "visnjan")
	data := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var seq uint64
	half := len(pts) / 2
	s := startServer(t, dir, "data_dir="+data)
	c, err := client.Dial(ctx, s.GatewayURL(), client.Options{Player: "walker"})
	if err != nil {
		t.Fatal(err)
	}
	scoreBefore := walkPart(ctx, t, c, hunt.ID, &seq, pts[:half])
	c.Close()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("clean stop: %v", err)
	}

	s = startServer(t, dir, "data_dir="+data)
	c, err = client.Dial(ctx, s.GatewayURL(), client.Options{Player: "walker"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	seq++
	if err := c.Send(joinMsg(hunt.ID, seq)); err != nil {
		t.Fatal(err)
	}
	// The engine answers the join (result), then sends the snapshot (joined).
	if m := nextOf(ctx, t, c, "result"); m.Seq != seq || m.OK == nil || !*m.OK {
		t.Fatalf("rejoin: %+v", m)
	}
	var snap struct {
		Score int `json:"score"`
	}
	if err := jsonData(nextOf(ctx, t, c, "joined"), &snap); err != nil || snap.Score != scoreBefore {
		t.Fatalf("after the restart the player has score %d (err %v), had %d", snap.Score, err, scoreBefore)
	}
	final := walkPart(ctx, t, c, hunt.ID, &seq, pts[half:])
	if final != 50 {
		t.Fatalf("final score %d, want 50", final)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}

	au, err := store.OpenAudit(store.AuditOptions{Path: filepath.Join(data, "audit")})
	if err != nil {
		t.Fatal(err)
	}
	defer au.Close()
	seen := map[string]int{}
	actions := 0
	err = au.Query(store.Query{Hunt: hunt.ID, Player: "walker"}, func(r store.Row) bool {
		if r.Kind == "action" {
			actions++
			seen[string(r.Data)]++
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := len(pts) + 2; actions != want { // two joins and every move
		t.Fatalf("%d action rows, want %d", actions, want)
	}
	for d, n := range seen {
		if n > 1 && !strings.Contains(d, `"type":"join"`) {
			t.Fatalf("action row %s written %d times", d, n)
		}
	}
	ss, err := store.OpenSessions(store.SessionsOptions{Path: filepath.Join(data, "sessions")})
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	if _, ok, err := ss.Get(core.SessionKey(hunt.ID, "walker")); !ok || err != nil {
		t.Fatalf("session gone after restart: %v", err)
	}
}
