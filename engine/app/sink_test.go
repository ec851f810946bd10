package app_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/veltrix/veltrix/engine/app"
	"github.com/veltrix/veltrix/engine/store"
	"github.com/veltrix/veltrix/plugins/audit/jsonl"
)

// The jsonl audit sink exports rows older than older_than once each, into
// gzip JSON-lines files that read back as the same rows.
func TestAuditSinkExport(t *testing.T) {
	f0 := time.Date(2031, 1, 10, 9, 0, 0, 0, time.UTC)
	clock := store.NewFakeClock(f0)
	exportDir := t.TempDir()
	cfg := loadConfig(t, t.TempDir(), t.TempDir(),
		"engine.audit.sink.plugin=jsonl", "engine.audit.sink.dir="+exportDir,
		"engine.audit.sink.older_than=720h", "engine.audit.sink.every=1h")
	a := mustStart(t, cfg, app.WithClock(clock))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rowsOf := func(q store.Query) []store.Row {
		var rows []store.Row
		if err := a.Audit().Query(q, func(r store.Row) bool { rows = append(rows, r); return true }); err != nil {
			t.Fatal(err)
		}
		return rows
	}
	exported := func(q store.Query) []store.Row {
		var rows []store.Row
		if err := jsonl.ReadDir(exportDir, q, func(r store.Row) bool { rows = append(rows, r); return true }); err != nil {
			t.Fatal(err)
		}
		return rows
	}
	same := func(what string, got, want []store.Row) {
		t.Helper()
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Fatalf("%s: exported %s\nwant %s", what, g, w)
		}
	}
	export := func() app.ExportReport {
		t.Helper()
		rep, err := a.ExportAudit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}

	alice := dial(ctx, t, a, "alice")
	alice.join(ctx)
	alice.move(ctx)
	if rep := export(); len(rep.Rows) != 0 {
		t.Fatalf("fresh rows exported: %+v", rep)
	}

	clock.Set(f0.Add(31 * 24 * time.Hour))
	bob := dial(ctx, t, a, "bob")
	bob.join(ctx)
	rep := export()
	aliceRows := rowsOf(store.Query{Hunt: "harbour", Player: "alice"})
	if rep.Rows["harbour"] != int64(len(rowsOf(store.Query{Hunt: "harbour", Until: rep.Cutoff}))) || len(aliceRows) == 0 {
		t.Fatalf("export of the 31-day-old rows: %+v", rep)
	}
	same("alice", exported(store.Query{Hunt: "harbour", Player: "alice"}), aliceRows)
	if rows := exported(store.Query{Hunt: "harbour", Player: "bob"}); len(rows) != 0 {
		t.Fatalf("bob's fresh rows exported: %+v", rows)
	}
	files, _ := filepath.Glob(filepath.Join(exportDir, "harbour", "*.jsonl.gz"))
	if len(files) != 1 {
		t.Fatalf("export files: %v, want one", files)
	}
	// Once each: a second pass finds nothing new.
	if rep := export(); len(rep.Rows) != 0 {
		t.Fatalf("second pass exported again: %+v", rep)
	}

	// A month later bob's rows go out too, in a second file; all read back
	// once, in order.
	clock.Set(f0.Add(62 * 24 * time.Hour))
	if rep := export(); rep.Rows["harbour"] == 0 {
		t.Fatalf("bob's rows not exported: %+v", rep)
	}
	same("hunt", exported(store.Query{Hunt: "harbour"}), rowsOf(store.Query{Hunt: "harbour", Until: f0.Add(32 * 24 * time.Hour).UnixMilli()}))
	same("since/until", exported(store.Query{Hunt: "harbour", Since: f0.Add(24 * time.Hour).UnixMilli()}),
		rowsOf(store.Query{Hunt: "harbour", Since: f0.Add(24 * time.Hour).UnixMilli(), Until: f0.Add(32 * 24 * time.Hour).UnixMilli()}))

	// The operator moves the files to cold storage: nothing is exported
	// again (the engine keeps its watermark in the audit store).
	if err := os.RemoveAll(filepath.Join(exportDir, "harbour")); err != nil {
		t.Fatal(err)
	}
	if rep := export(); len(rep.Rows) != 0 {
		t.Fatalf("exported again after the files were moved: %+v", rep)
	}
}
