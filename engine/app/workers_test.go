package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/engine/protocol"
)

// Two workers step their partitions side by side and commit as one batch:
// every partition's offset, state and audit rows must be in it. A restart
// that replayed any action would show a partition whose offset was lost.
func TestWorkersCommitEveryPartition(t *testing.T) {
	data, brokerDir, hunts := t.TempDir(), t.TempDir(), t.TempDir()
	def, err := os.ReadFile(repoPath(t, "configs/hunts/harbour.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const nHunts = 8
	for i := 0; i < nHunts; i++ {
		y := strings.Replace(string(def), "id: harbour", fmt.Sprintf("id: h%d", i), 1)
		if err := os.WriteFile(filepath.Join(hunts, fmt.Sprintf("h%d.yaml", i)), []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sets := []string{"topics.partitions=4", "engine.workers=2", "games.treasurehunt.hunts=" + hunts}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	a := mustStart(t, loadConfig(t, data, brokerDir, sets...))
	// Every player sends before any waits, so the polls carry several
	// partitions' records at once.
	players := make([]*player, 2*nHunts)
	for i := range players {
		players[i] = dial(ctx, t, a, fmt.Sprintf("p%d", i))
	}
	for round, typ := range []string{protocol.TypeJoin, protocol.TypeMove, protocol.TypeMove} {
		for i, p := range players {
			p.seq++
			p.at += 60_000
			m := protocol.ClientMessage{Type: typ, Seq: p.seq, Hunt: fmt.Sprintf("h%d", i%nHunts)}
			if typ == protocol.TypeMove {
				m.Hunt, m.Lat, m.Lon, m.At = "", 38.70585, -9.14480+float64(round)*1e-5, p.at
			}
			if err := p.c.Send(m); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range players {
			for {
				r, err := p.c.Next(ctx)
				if err != nil {
					t.Fatalf("%s: %v", p.id, err)
				}
				if r.Type == protocol.TypeResult && r.Seq == p.seq {
					if r.OK == nil || !*r.OK {
						t.Fatalf("%s: %s seq %d: %+v", p.id, typ, p.seq, r)
					}
					break
				}
			}
		}
	}
	const actions = 3 * 2 * nHunts
	waitFor(t, "the runner to count every action", func() bool { return a.Runner().Applied() >= actions })
	if n := a.Runner().Applied(); n != actions {
		t.Fatalf("applied %d actions, want %d", n, actions)
	}
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < nHunts; i++ {
		if rows := auditOnDisk(t, filepath.Join(data, "audit"), fmt.Sprintf("h%d", i)); len(rows) < 6 {
			t.Fatalf("hunt h%d: %d audit rows, want at least 6 (3 actions of 2 players)", i, len(rows))
		}
	}

	a = mustStart(t, loadConfig(t, data, brokerDir, sets...))
	// A lost offset stops the restarted engine (its store is behind the
	// group): then no answer comes.
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := dial(ctx, t, a, "late")
	if r := p.send(ctx, protocol.ClientMessage{Type: protocol.TypeJoin, Hunt: "h0"}); r.OK == nil || !*r.OK {
		t.Fatalf("join after the restart: %+v", r)
	}
	waitFor(t, "the restarted runner to count the join", func() bool { return a.Runner().Applied() >= 1 })
	if n := a.Runner().Applied(); n != 1 {
		t.Fatalf("the restarted engine stepped %d actions, want 1: a partition's offset was not committed", n)
	}
}
