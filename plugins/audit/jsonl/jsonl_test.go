package jsonl

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/engine/plugin"
	"github.com/veltrix/veltrix/engine/store"
)

var t0 = time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)

func newSink(t *testing.T) *Sink {
	t.Helper()
	s := &Sink{Dir: t.TempDir()}
	if err := s.Provision(plugin.Context{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return s
}

func rowsFn(rows []store.Row, err error) func(func(store.Row) bool) error {
	return func(yield func(store.Row) bool) error {
		for _, r := range rows {
			if !yield(r) {
				return nil
			}
		}
		return err
	}
}

func mkRows(hunt string, n int) []store.Row {
	var rows []store.Row
	for i := range n {
		rows = append(rows, store.Row{Hunt: hunt, Player: []string{"p1", "p2"}[i%2], TS: t0.Add(time.Duration(i) * time.Minute).UnixMilli(),
			Partition: 2, Offset: int64(100 + i), Index: uint16(i % 3), Kind: "action", Data: []byte(`{"seq":` + string(rune('0'+i%10)) + `}`)})
	}
	return rows
}

func readAll(t *testing.T, dir string, q store.Query) []store.Row {
	t.Helper()
	var out []store.Row
	if err := ReadDir(dir, q, func(r store.Row) bool { out = append(out, r); return true }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestExportReadBack(t *testing.T) {
	s := newSink(t)
	ctx := context.Background()
	rows := mkRows("h1", 20)
	mid := rows[10].TS
	if err := s.Export(ctx, "h1", 0, mid, rowsFn(rows[:10], nil)); err != nil {
		t.Fatal(err)
	}
	end := rows[19].TS + 1
	if err := s.Export(ctx, "h1", mid, end, rowsFn(rows[10:], nil)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Exported("h1"); err != nil || got != end {
		t.Fatalf("Exported = %d, %v; want %d", got, err, end)
	}
	if got, _ := s.Exported("other"); got != 0 {
		t.Fatalf("Exported of a hunt without files = %d", got)
	}
	names, _ := filepath.Glob(filepath.Join(s.Dir, "h1", "*"))
	if len(names) != 2 || !strings.HasSuffix(names[0], "20310203T040506.000Z_20310203T041506.000Z.jsonl.gz") {
		t.Fatalf("files %v", names)
	}
	// The files are plain gzip JSON lines.
	f, _ := os.Open(names[0])
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var first map[string]any
	if err := json.NewDecoder(zr).Decode(&first); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, k := range []string{"hunt", "player", "ts", "kind", "partition", "offset", "index", "data"} {
		if _, ok := first[k]; !ok {
			t.Fatalf("line %v lacks %q", first, k)
		}
	}

	all := readAll(t, s.Dir, store.Query{Hunt: "h1"})
	a, _ := json.Marshal(all)
	b, _ := json.Marshal(rows)
	if string(a) != string(b) {
		t.Fatalf("read back %s\nwant %s", a, b)
	}
	// Filters: player, since (inclusive), until (exclusive), limit.
	got := readAll(t, s.Dir, store.Query{Hunt: "h1", Player: "p2", Since: rows[5].TS, Until: rows[15].TS, Limit: 3})
	if len(got) != 3 || got[0].Offset != 105 || got[1].Offset != 107 || got[2].Offset != 109 {
		t.Fatalf("filtered read: %+v", got)
	}
	if got := readAll(t, s.Dir, store.Query{Hunt: "h1", Since: rows[12].TS, Until: rows[14].TS}); len(got) != 2 || got[0].Offset != 112 {
		t.Fatalf("since/until read: %+v", got)
	}
}

// A failed export leaves nothing behind: no file, no temporary.
func TestExportAllOrNothing(t *testing.T) {
	s := newSink(t)
	err := s.Export(context.Background(), "h1", 0, t0.Add(time.Hour).UnixMilli(), rowsFn(mkRows("h1", 5), errors.New("store failed")))
	if err == nil {
		t.Fatal("error swallowed")
	}
	entries, _ := os.ReadDir(filepath.Join(s.Dir, "h1"))
	if len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Export(ctx, "h1", 0, t0.Add(time.Hour).UnixMilli(), rowsFn(mkRows("h1", 5000), nil)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled export: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(s.Dir, "h1")); len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
	// No rows: no file.
	if err := s.Export(context.Background(), "h2", 0, 5, rowsFn(nil, nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "h2")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("empty export created %v", err)
	}
}

// Hunt ids never escape the export directory.
func TestHuntDirEscaping(t *testing.T) {
	s := newSink(t)
	for _, hunt := range []string{"../up", "..", ".", "a/b", ".hidden"} {
		if err := s.Export(context.Background(), hunt, 0, t0.Add(time.Hour).UnixMilli(), rowsFn(mkRows(hunt, 1), nil)); err != nil {
			t.Fatalf("%q: %v", hunt, err)
		}
		if got := readAll(t, s.Dir, store.Query{Hunt: hunt}); len(got) != 1 || got[0].Hunt != hunt {
			t.Fatalf("%q read back %+v", hunt, got)
		}
	}
	entries, _ := os.ReadDir(s.Dir)
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") || strings.Contains(e.Name(), "/") {
			t.Fatalf("unsafe entry %q", e.Name())
		}
	}
	if entries, _ := os.ReadDir(filepath.Dir(s.Dir)); len(entries) != 1 {
		t.Fatalf("wrote outside its directory: %v", entries)
	}
}

func TestReadDirReportsBadLines(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "h"), 0o750); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "h", fileName(0, 10))
	f, _ := os.Create(p)
	zw := gzip.NewWriter(f)
	zw.Write([]byte(`{"hunt":"h","ts":1}` + "\nnot json\n"))
	zw.Close()
	f.Close()
	err := ReadDir(dir, store.Query{Hunt: "h"}, func(store.Row) bool { return true })
	if err == nil || !strings.Contains(err.Error(), p+":2") {
		t.Fatalf("error %v, want one naming %s:2", err, p)
	}
}
