package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestStatsFigures(t *testing.T) {
	clock := NewFakeClock(t0)
	s := openTestSessions(t, clock)
	var ws []Write
	for i := range 1000 {
		ws = append(ws, Write{Key: fmt.Appendf(nil, "s/h/p%04d", i), Value: make([]byte, 100), ExpiresAt: ms(t0.Add(time.Duration(i%2+1) * time.Minute))})
	}
	if err := s.Commit(ws); err != nil {
		t.Fatal(err)
	}
	st := mustStats(t, s)
	if st.MemtableBytes == 0 || st.DiskBytes == 0 || st.FreeBytes == 0 || st.Compactions != 0 {
		t.Fatalf("before compaction: %+v", st)
	}
	clock.Advance(90 * time.Second) // half the rows expire
	if c, err := s.Count(); err != nil || c.Live != 500 || c.Expired != 500 {
		t.Fatalf("Count = %+v, %v; want 500 live, 500 expired", c, err)
	}
	if err := s.CompactExpired(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get([]byte("s/h/p0001")); err != nil { // fills the block cache
		t.Fatal(err)
	}
	st = mustStats(t, s)
	if st.ExpiredDropped != 500 || st.EstimatedKeys != 500 || st.Compactions < 1 || st.CompactionsTriggered != 1 ||
		st.SSTBytes == 0 || st.DiskBytes < st.SSTBytes || st.BlockCacheBytes == 0 {
		t.Fatalf("after compaction: %+v", st)
	}
	if c, err := s.Count(); err != nil || c.Live != 500 || c.Expired != 0 {
		t.Fatalf("Count after compaction = %+v, %v", c, err)
	}
	if got := statisticsCount("rocksdb.compaction.times.micros P50 : 1.0 P95 : 2.0 COUNT : 7 SUM : 9\n", "rocksdb.compaction.times.micros"); got != 7 {
		t.Fatalf("statisticsCount = %d", got)
	}
}

// Close flushes the memtables, so the next open replays no write-ahead log
// (1.6 s for a full 64 MB memtable, measured).
func TestCloseLeavesNoLogToReplay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit")
	a, err := OpenAudit(AuditOptions{Path: path, Clock: NewFakeClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Append([]Row{{Hunt: "h", Player: "p", TS: ms(t0), Kind: "k", Data: make([]byte, 1000)}}); err != nil {
		t.Fatal(err)
	}
	if st := mustStats(t, a); st.MemtableBytes == 0 {
		t.Fatal("test premise: the row is in the memtable")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	logs, _ := filepath.Glob(filepath.Join(path, "*.log"))
	for _, l := range logs {
		if fi, err := os.Stat(l); err == nil && fi.Size() > 0 {
			t.Fatalf("write-ahead log %s holds %d bytes after Close", l, fi.Size())
		}
	}
	a, err = OpenAudit(AuditOptions{Path: path, Clock: NewFakeClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if rows := queryAll(t, a, Query{Hunt: "h"}); len(rows) != 1 {
		t.Fatalf("after reopen: %d rows", len(rows))
	}
}

// A read-only open takes no lock: tools read a store an engine holds.
func TestReadOnlyOpen(t *testing.T) {
	clock := NewFakeClock(t0)
	path := filepath.Join(t.TempDir(), "audit")
	a, err := OpenAudit(AuditOptions{Path: path, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Append(testRows()); err != nil {
		t.Fatal(err)
	}
	ro, err := OpenAudit(AuditOptions{Path: path, Clock: clock, ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only open of a locked store: %v", err)
	}
	defer ro.Close()
	if got, want := queryAll(t, ro, Query{Hunt: "h1"}), queryAll(t, a, Query{Hunt: "h1"}); len(got) == 0 || len(got) != len(want) {
		t.Fatalf("read-only query: %d rows, want %d", len(got), len(want))
	}
	for what, err := range map[string]error{
		"Append":         ro.Append(testRows()),
		"SetWatermark":   ro.SetWatermark("x", 1),
		"CompactExpired": ro.CompactExpired(),
		"StartCompactor": ro.StartCompactor(t.Context(), time.Second),
	} {
		if !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s on a read-only store: %v, want ErrReadOnly", what, err)
		}
	}
	if _, err := ro.Stats(); err != nil {
		t.Fatal(err)
	}
	// Read-only never creates.
	missing := filepath.Join(t.TempDir(), "nothing")
	if _, err := OpenSessions(SessionsOptions{Path: missing, ReadOnly: true}); !errors.Is(err, ErrMissing) {
		t.Fatalf("read-only open of a missing store: %v, want ErrMissing", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("read-only open created %s", missing)
	}
	if _, err := OpenSessions(SessionsOptions{Path: t.TempDir(), ReadOnly: true}); !errors.Is(err, ErrMissing) {
		t.Fatalf("read-only open of an empty directory: %v, want ErrMissing", err)
	}
}

func TestOpenStoresTogether(t *testing.T) {
	dir := t.TempDir()
	so := SessionsOptions{Path: filepath.Join(dir, "sessions")}
	ao := AuditOptions{Path: filepath.Join(dir, "disk2", "audit")}
	s, a, err := OpenStores(so, ao)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	a.Close()

	// The audit disk is gone: refused, naming it, and nothing is opened.
	if err := os.RemoveAll(filepath.Join(dir, "disk2")); err != nil {
		t.Fatal(err)
	}
	_, _, err = OpenStores(so, ao)
	if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), ao.Path) || !strings.Contains(err.Error(), "mkdir -p") {
		t.Fatalf("error = %v", err)
	}
	if _, err := os.Stat(ao.Path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the refused open created the audit directory")
	}
	// The sessions store was not left locked.
	s2, err := OpenSessions(so)
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	// The other way round.
	if err := os.MkdirAll(ao.Path, 0o750); err != nil {
		t.Fatal(err)
	}
	so2 := SessionsOptions{Path: filepath.Join(dir, "other-sessions")}
	if _, _, err := OpenStores(so2, ao); !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), so2.Path) {
		t.Fatalf("error = %v", err)
	}
	// An empty directory is "start it empty".
	s, a, err = OpenStores(so, ao)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	a.Close()
	// One fails: neither stays open, both errors are told.
	lock, err := OpenAudit(ao)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, _, err := OpenStores(so, ao); !errors.Is(err, ErrLocked) {
		t.Fatalf("error = %v, want ErrLocked", err)
	}
	s2, err = OpenSessions(so)
	if err != nil {
		t.Fatalf("sessions left open after the failed OpenStores: %v", err)
	}
	s2.Close()
	if _, _, err := OpenStores(so, AuditOptions{Path: so.Path}); err == nil {
		t.Fatal("one directory for both accepted")
	}
}

// A store directory that lost its CURRENT file would be re-created empty
// by RocksDB, which then deletes the SST files it does not know.
func TestOpenRefusesDirectoryWithoutCurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions")
	s, err := OpenSessions(SessionsOptions{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit([]Write{{Key: []byte("k"), Value: []byte("v")}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := os.Remove(filepath.Join(path, "CURRENT")); err != nil {
		t.Fatal(err)
	}
	ssts, _ := filepath.Glob(filepath.Join(path, "*.sst"))
	if len(ssts) == 0 {
		t.Fatal("test premise: Close flushed an SST file")
	}
	_, err = OpenSessions(SessionsOptions{Path: path})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "no CURRENT file") {
		t.Fatalf("error = %v", err)
	}
	after, _ := filepath.Glob(filepath.Join(path, "*.sst"))
	if !slices.Equal(ssts, after) {
		t.Fatalf("SST files changed: %v -> %v", ssts, after)
	}
	// Files of something else entirely: refused the same way.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "notes.txt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenAudit(AuditOptions{Path: other}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("error = %v", err)
	}
}

func TestAuditHuntsAndWatermarks(t *testing.T) {
	a := openTestAudit(t, NewFakeClock(t0))
	if hunts, err := a.Hunts(); err != nil || len(hunts) != 0 {
		t.Fatalf("Hunts of an empty store = %v, %v", hunts, err)
	}
	if err := a.Append(testRows()); err != nil {
		t.Fatal(err)
	}
	if err := a.SetWatermark("sink/x/h1", 42); err != nil {
		t.Fatal(err)
	}
	hunts, err := a.Hunts()
	if err != nil || !slices.Equal(hunts, []string{"h1", "h10"}) {
		t.Fatalf("Hunts = %q, %v", hunts, err)
	}
	if v, err := a.Watermark("sink/x/h1"); err != nil || v != 42 {
		t.Fatalf("Watermark = %d, %v", v, err)
	}
	if v, err := a.Watermark("sink/x/h10"); err != nil || v != 0 {
		t.Fatalf("unset Watermark = %d, %v", v, err)
	}
	if err := a.SetWatermark("w", -1); err == nil {
		t.Fatal("negative watermark accepted")
	}
	// Watermarks never expire and stay out of the indexes.
	if err := a.kv.compactExpired(); err != nil {
		t.Fatal(err)
	}
	if v, _ := a.Watermark("sink/x/h1"); v != 42 {
		t.Fatalf("watermark after compaction = %d", v)
	}
}

func TestRowJSON(t *testing.T) {
	for _, r := range []Row{
		{Hunt: "h", Player: "p", TS: 1893456000123, Partition: 3, Offset: 42, Index: 7, Kind: "discovery", Data: []byte(`{"beacon":"b1"}`)},
		{Hunt: "h", TS: 1, Kind: "hunt_end"},
	} {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back Row
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		b2, _ := json.Marshal(back)
		if string(b) != string(b2) || back.Hunt != r.Hunt || back.TS != r.TS || string(back.Data) != string(r.Data) {
			t.Fatalf("%s round-tripped to %s (%+v)", b, b2, back)
		}
	}
	b, _ := json.Marshal(Row{Hunt: "h", TS: 5, Kind: "k", Data: []byte("not json")})
	if want := `{"hunt":"h","player":"","ts":5,"kind":"k","partition":0,"offset":0,"index":0,"data":"not json"}`; string(b) != want {
		t.Fatalf("%s, want %s", b, want)
	}
}
