package app_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/veltrix/veltrix/engine/core"
	"github.com/veltrix/veltrix/engine/protocol"
)

// TestRestartServesFromStore stops the engine and starts it again on its
// data dir: the player's session is read from RocksDB by the first action
// (score kept, a resent action answered as a duplicate), and the restarted
// engine applies only the new action: it resumes from the offsets stored
// with the state instead of replaying the log to rebuild anything.
func TestRestartServesFromStore(t *testing.T) {
	data, brokerDir := t.TempDir(), t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	cfg := loadConfig(t, data, brokerDir)
	a := mustStart(t, cfg)
	alice := dial(ctx, t, a, "alice")
	alice.join(ctx)
	if r := alice.move(ctx); r.OK == nil || !*r.OK {
		t.Fatalf("move: %+v", r)
	}
	before := score(t, a.Sessions().Get, "alice")
	if before <= 0 {
		t.Fatalf("alice's score before the restart is %d: the move should have found the first beacon", before)
	}
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	startAt := time.Now()
	a = mustStart(t, loadConfig(t, data, brokerDir))
	started := time.Since(startAt)
	if n := a.Runner().Applied(); n != 0 {
		t.Fatalf("the restarted engine applied %d actions before any was sent: it replayed the log", n)
	}
	alice2 := dial(ctx, t, a, "alice")
	alice2.seq, alice2.at = alice.seq, alice.at
	alice2.join(ctx) // the gateway wants a join on each connection
	firstServed := time.Since(startAt)
	if got := score(t, a.Sessions().Get, "alice"); got != before {
		t.Fatalf("alice's score after the restart is %d, want %d (kept in the session store)", got, before)
	}
	// A resend of the last action is answered from the stored session.
	alice2.seq--
	if r := alice2.send(ctx, protocol.ClientMessage{Type: protocol.TypeJoin, Hunt: "harbour"}); !r.Duplicate || r.OK == nil || !*r.OK {
		t.Fatalf("resent join after the restart: %+v, want the stored answer marked duplicate", r)
	}
	if r := alice2.move(ctx); r.OK == nil || !*r.OK {
		t.Fatalf("move after the restart: %+v", r)
	}
	// The counter moves just after the answers go out.
	waitFor(t, "the runner to count the 3 actions", func() bool { return a.Runner().Applied() >= 3 })
	if n := a.Runner().Applied(); n != 3 {
		t.Fatalf("the restarted engine stepped %d actions, want 3 (join, resent join, move): it replayed the log", n)
	}
	t.Logf("all-in-one restart (embedded broker, group join included): Start returned after %v, first new action answered after %v",
		started.Round(time.Millisecond), firstServed.Round(time.Millisecond))
}

func score(t testing.TB, get func([]byte) ([]byte, bool, error), player string) int {
	t.Helper()
	v, ok, err := get(core.SessionKey("harbour", player))
	if err != nil || !ok {
		t.Fatalf("session of %s: ok=%v err=%v", player, ok, err)
	}
	rec, err := core.DecodeSession(v)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Score int `json:"score"`
	}
	if err := json.Unmarshal(rec.State, &s); err != nil {
		t.Fatal(err)
	}
	return s.Score
}
