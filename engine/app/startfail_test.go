package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/engine/core"
	"github.com/veltrix/veltrix/engine/protocol"
	"github.com/veltrix/veltrix/engine/store"
	"github.com/veltrix/veltrix/internal/testdisk"
)

// startErr starts the server and wants it to fail with an error containing
// every one of wants.
func startErr(t *testing.T, data, brokerDir string, wants ...string) error {
	t.Helper()
	a, err := start(t, loadConfig(t, data, brokerDir))
	if err == nil {
		_ = a.Close(context.Background())
		t.Fatalf("start succeeded, want an error with %q", wants)
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("start error %q does not say %q", err, w)
		}
	}
	t.Logf("start refused: %v", err)
	return err
}

// listing is the names and sizes of the files in dir.
func listing(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %d", e.Name(), fi.Size()))
	}
	return out
}

// played starts the server on data, plays a join and a move, and stops it,
// leaving both stores with data.
func played(t *testing.T, data, brokerDir string) {
	t.Helper()
	a := mustStart(t, loadConfig(t, data, brokerDir))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := dial(ctx, t, a, "alice")
	p.join(ctx)
	p.move(ctx)
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestStartLockedByAnotherEngine(t *testing.T) {
	data := t.TempDir()
	a := mustStart(t, loadConfig(t, data, t.TempDir()))
	err := startErr(t, data, t.TempDir(), "is locked by another process (is another engine running on this data dir?)")
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("error %v does not match store.ErrLocked", err)
	}
	// The first engine is unharmed.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := dial(ctx, t, a, "bob")
	p.join(ctx)
}

func TestStartCorruptStore(t *testing.T) {
	data, brokerDir := t.TempDir(), t.TempDir()
	played(t, data, brokerDir)
	sessions := filepath.Join(data, "sessions")
	if err := os.WriteFile(filepath.Join(sessions, "CURRENT"), []byte("MANIFEST-999999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := startErr(t, data, brokerDir, sessions, "corrupt")
	if !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("error %v does not match store.ErrCorrupt", err)
	}
}

// A store whose CURRENT file is lost would be re-created empty by RocksDB,
// which then deletes the SST files it does not know: refused instead.
func TestStartLostCurrentFile(t *testing.T) {
	data, brokerDir := t.TempDir(), t.TempDir()
	played(t, data, brokerDir)
	sessions := filepath.Join(data, "sessions")
	if err := os.Remove(filepath.Join(sessions, "CURRENT")); err != nil {
		t.Fatal(err)
	}
	before := listing(t, sessions)
	if !slices.ContainsFunc(before, func(s string) bool { return strings.Contains(s, ".sst ") }) {
		t.Fatalf("test premise: no SST file in %v (Close should flush)", before)
	}
	startErr(t, data, brokerDir, sessions, "no CURRENT file")
	if after := listing(t, sessions); !slices.Equal(before, after) {
		t.Fatalf("the refused start changed the store's files:\nbefore %v\nafter  %v", before, after)
	}
}

// The audit store may live on another disk: when its directory is gone
// (say the disk is not mounted) while the sessions store exists, the engine
// refuses to create an empty one on the wrong disk, and touches nothing.
func TestStartMissingStore(t *testing.T) {
	data, brokerDir := t.TempDir(), t.TempDir()
	played(t, data, brokerDir)
	audit, sessions := filepath.Join(data, "audit"), filepath.Join(data, "sessions")
	if err := os.RemoveAll(audit); err != nil {
		t.Fatal(err)
	}
	before := listing(t, sessions)
	err := startErr(t, data, brokerDir, audit, "missing", "mkdir -p "+audit)
	if !errors.Is(err, store.ErrMissing) {
		t.Fatalf("error %v does not match store.ErrMissing", err)
	}
	if after := listing(t, sessions); !slices.Equal(before, after) {
		t.Fatalf("the refused start changed the sessions store:\nbefore %v\nafter  %v", before, after)
	}
	if _, err := os.Stat(audit); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused start created %s: %v", audit, err)
	}
	// An empty directory is the operator saying "start it empty".
	if err := os.Mkdir(audit, 0o750); err != nil {
		t.Fatal(err)
	}
	mustStart(t, loadConfig(t, data, brokerDir))
}

// TestEngineDiskFull fills the sessions store's disk (a 64 MiB tmpfs) while
// the engine runs: the engine refuses the batch (RocksDB never sees the
// full disk), stops with a clear error and the action is not applied; a
// start on the full disk fails clearly; once space is freed, the engine
// resumes from its stored offset and applies the action exactly once.
func TestEngineDiskFull(t *testing.T) {
	disk := testdisk.Tmpfs(t, 64<<20)
	data, brokerDir := t.TempDir(), t.TempDir()
	sessions := filepath.Join(disk, "sessions")
	sets := []string{"engine.sessions.path=" + sessions, "engine.sessions.min_free_mb=16"}
	cfg := loadConfig(t, data, brokerDir, sets...)
	a := mustStart(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	alice := dial(ctx, t, a, "alice")
	alice.join(ctx)
	alice.move(ctx)

	filler := testdisk.Fill(t, disk, 12<<20) // below the 16 MiB kept free
	// The stores trust a free-space reading for up to 100 ms, so the first
	// move may still be accepted: move until the engine stops.
	sctx, stopWaiting := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() {
		select {
		case err := <-a.Err():
			stopped <- err
			stopWaiting()
		case <-sctx.Done():
		}
	}()
	lastOK := alice.seq
	for {
		alice.seq++
		alice.at += 60_000
		if err := alice.c.Send(protocol.ClientMessage{Type: protocol.TypeMove, Seq: alice.seq, Lat: 38.7059, Lon: -9.1448, At: alice.at}); err != nil {
			t.Fatal(err)
		}
		r, err := nextResult(sctx, alice)
		if err != nil {
			break // the engine stopped: no answer
		}
		if r.OK == nil || !*r.OK {
			t.Fatalf("move %d: %+v", alice.seq, r)
		}
		lastOK = alice.seq
		if alice.seq > 100 {
			t.Fatal("the engine keeps accepting actions on a full disk")
		}
	}
	refused := alice.seq
	select {
	case err := <-stopped:
		if !errors.Is(err, store.ErrDiskFull) || !strings.Contains(err.Error(), sessions) {
			t.Fatalf("engine stopped with %v, want a disk-full error naming %s", err, sessions)
		}
		t.Logf("engine stopped at seq %d: %v", refused, err)
	case <-ctx.Done():
		t.Fatal("the engine did not stop on a full disk")
	}
	stopWaiting()
	if err := a.Close(context.Background()); err != nil {
		t.Logf("close: %v", err)
	}
	if got := sessionSeq(t, sessions, "alice"); got != lastOK {
		t.Fatalf("alice's session seq after the refused batch is %d, want %d: the batch was partly applied", got, lastOK)
	}

	// A start on the full disk fails at once, and clearly. (Closing gave
	// back the write-ahead log's preallocated space: fill that too.)
	filler2 := testdisk.Fill(t, disk, 12<<20)
	startErrSets(t, data, brokerDir, sets, sessions, "disk full", "engine.sessions.min_free_mb")
	for _, f := range []string{filler, filler2} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}

	// With room again the engine picks the action up from the log.
	a = mustStart(t, loadConfig(t, data, brokerDir, sets...))
	waitFor(t, "the engine to apply the action it refused", func() bool {
		return sessionSeqOf(t, a.Sessions().Get, "alice") == refused
	})
	rows := 0
	err := a.Audit().Query(store.Query{Hunt: "harbour", Player: "alice"}, func(r store.Row) bool {
		var d struct {
			Seq uint64 `json:"seq"`
		}
		if r.Kind == "action" && json.Unmarshal(r.Data, &d) == nil && d.Seq == refused {
			rows++
		}
		return true
	})
	if err != nil || rows != 1 {
		t.Fatalf("audit rows of alice's seq %d: %d (%v), want exactly 1", refused, rows, err)
	}
}

// nextResult waits for the result of p's last action.
func nextResult(ctx context.Context, p *player) (protocol.ServerMessage, error) {
	for {
		r, err := p.c.Next(ctx)
		if err != nil || r.Type == protocol.TypeResult && r.Seq == p.seq {
			return r, err
		}
	}
}

func startErrSets(t *testing.T, data, brokerDir string, sets []string, wants ...string) {
	t.Helper()
	a, err := start(t, loadConfig(t, data, brokerDir, sets...))
	if err == nil {
		_ = a.Close(context.Background())
		t.Fatalf("start succeeded, want an error with %q", wants)
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("start error %q does not say %q", err, w)
		}
	}
	t.Logf("start refused: %v", err)
}

func sessionSeq(t *testing.T, path, player string) uint64 {
	t.Helper()
	s, err := store.OpenSessions(store.SessionsOptions{Path: path, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return sessionSeqOf(t, s.Get, player)
}

func sessionSeqOf(t *testing.T, get func([]byte) ([]byte, bool, error), player string) uint64 {
	t.Helper()
	v, ok, err := get(core.SessionKey("harbour", player))
	if err != nil || !ok {
		t.Fatalf("session of %s: ok=%v err=%v", player, ok, err)
	}
	rec, err := core.DecodeSession(v)
	if err != nil {
		t.Fatal(err)
	}
	return rec.Seq
}
