package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/engine/app"
	"github.com/veltrix/veltrix/engine/client"
	"github.com/veltrix/veltrix/engine/config"
	"github.com/veltrix/veltrix/engine/protocol"
	"github.com/veltrix/veltrix/engine/store"
)

// storeSets are the --set flags of an all-in-one server on free ports in
// data, with its admin endpoint and the jsonl audit sink writing to export.
func storeSets(t *testing.T, data, export string) []string {
	return []string{
		"data_dir=" + data,
		"gateway.listen=127.0.0.1:0",
		"admin.listen=127.0.0.1:0",
		"games.treasurehunt.scripts=" + repoPath(t, "scripts/treasurehunt"),
		"games.treasurehunt.hunts=" + repoPath(t, "configs/hunts"),
		"engine.audit.sink.plugin=jsonl",
		"engine.audit.sink.dir=" + export,
		"log_level=warn",
	}
}

// withSets turns sets into --set flags after args.
func withSets(t *testing.T, sets []string, args ...string) []string {
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	return append(args, "--config", repoPath(t, "configs/dev.yaml"))
}

// playHarbour joins the harbour hunt as player and makes moves moves.
func playHarbour(ctx context.Context, t *testing.T, url, player string, moves int) {
	t.Helper()
	c, err := client.Dial(ctx, url, client.Options{Player: player})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	at := time.Now().UnixMilli()
	for seq := uint64(1); seq <= uint64(moves)+1; seq++ {
		m := protocol.ClientMessage{Type: protocol.TypeJoin, Hunt: "harbour", Seq: seq}
		if seq > 1 {
			at += 60_000
			m = protocol.ClientMessage{Type: protocol.TypeMove, Seq: seq, Lat: 38.70585 + float64(seq)*1e-5, Lon: -9.14480, At: at}
		}
		if err := c.Send(m); err != nil {
			t.Fatal(err)
		}
		if r := nextOf(ctx, t, c, protocol.TypeResult); r.OK == nil || !*r.OK || r.Seq != seq {
			t.Fatalf("%s seq %d: %+v", player, seq, r)
		}
	}
}

// parseLines decodes JSON-lines output into rows.
func parseLines(t *testing.T, out string) []store.Row {
	t.Helper()
	var rows []store.Row
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var r store.Row
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		rows = append(rows, r)
	}
	return rows
}

func sameRows(t *testing.T, what string, got, want []store.Row) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if len(want) == 0 || string(g) != string(w) {
		t.Fatalf("%s: got %s\nwant %s", what, g, w)
	}
}

// TestAuditAndStoresCommands queries a running engine's audit store three
// ways (its store read-only, its admin endpoint, the audit sink's export)
// and reads its store figures two ways.
func TestAuditAndStoresCommands(t *testing.T) {
	data, export := t.TempDir(), t.TempDir()
	sets := storeSets(t, data, export)
	cfg, err := config.Load(repoPath(t, "configs/dev.yaml"), nil, sets)
	if err != nil {
		t.Fatal(err)
	}
	// A fake clock, moved 31 days on below so the audit sink (older_than
	// 30 days) exports what was played.
	clock := store.NewFakeClock(time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, err := app.Start(ctx, cfg, app.Roles{Gateway: true, Engine: true}, nil, app.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(context.Background())
	playHarbour(ctx, t, a.GatewayURL(), "alice", 3)
	clock.Advance(time.Minute)
	playHarbour(ctx, t, a.GatewayURL(), "bob", 2)
	query := func(q store.Query) []store.Row {
		var rows []store.Row
		if err := a.Audit().Query(q, func(r store.Row) bool { rows = append(rows, r); return true }); err != nil {
			t.Fatal(err)
		}
		return rows
	}
	alice := query(store.Query{Hunt: "harbour", Player: "alice"})
	admin := "http://" + a.AdminAddr()

	// 1. The store, opened read-only while the engine holds it.
	out, stderr, code := veltrix(t, withSets(t, sets, "audit", "--hunt", "harbour", "--player", "alice")...)
	if code != 0 {
		t.Fatalf("veltrix audit: exit %d: %s", code, stderr)
	}
	sameRows(t, "audit from the store", parseLines(t, out), alice)
	// 2. The admin endpoint, with a time window (RFC 3339 and unix ms) over
	// the hunt: alice played a minute before bob.
	since, until := alice[0].TS, alice[0].TS+time.Minute.Milliseconds()
	out, stderr, code = veltrix(t, "audit", "--hunt", "harbour", "--admin", admin,
		"--since", time.UnixMilli(since).UTC().Format(time.RFC3339Nano), "--until", strconv.FormatInt(until, 10))
	if code != 0 {
		t.Fatalf("veltrix audit --admin: exit %d: %s", code, stderr)
	}
	got := parseLines(t, out)
	sameRows(t, "audit from the admin endpoint", got, query(store.Query{Hunt: "harbour", Since: since, Until: until}))
	for _, r := range got {
		if r.Player != "alice" {
			t.Fatalf("row of %s in alice's minute", r.Player)
		}
	}

	// 3. The export: 31 days on, the sink writes every row so far.
	clock.Advance(31 * 24 * time.Hour)
	if _, err := a.ExportAudit(ctx); err != nil {
		t.Fatal(err)
	}
	out, stderr, code = veltrix(t, "audit", "--hunt", "harbour", "--from-export", export)
	if code != 0 {
		t.Fatalf("veltrix audit --from-export: exit %d: %s", code, stderr)
	}
	sameRows(t, "audit from the export", parseLines(t, out), query(store.Query{Hunt: "harbour"}))
	out, _, _ = veltrix(t, "audit", "--hunt", "harbour", "--player", "bob", "--limit", "2", "--from-export", export)
	if rows := parseLines(t, out); len(rows) != 2 || rows[0].Player != "bob" {
		t.Fatalf("export, bob, limit 2: %+v", rows)
	}

	// Mistakes are named.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"audit", "--player", "alice", "--admin", admin}, "hunt is required"},
		{[]string{"audit", "--hunt", "harbour", "--since", "last tuesday", "--admin", admin}, "since: want RFC 3339"},
		{[]string{"audit", "--hunt", "harbour", "--admin", admin, "--from-export", export}, "at most one of"},
		{[]string{"audit", "--hunt", "harbour", "--path", filepath.Join(data, "nothing")}, "store is missing"},
		{[]string{"stores", "statistics"}, "want the subcommand stats"},
	} {
		_, stderr, code := veltrix(t, tc.args...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("veltrix %v: exit %d, stderr %q; want it to say %q", tc.args, code, stderr, tc.want)
		}
	}

	// Store figures: from the running engine, then read-only with --exact.
	out, stderr, code = veltrix(t, "stores", "stats", "--admin", admin)
	if code != 0 {
		t.Fatalf("veltrix stores stats --admin: exit %d: %s", code, stderr)
	}
	var rep app.StoresReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// 31 days on, every session has expired; the compactor may not have run.
	if rep.Sessions.Path != cfg.Engine.Sessions.Path || rep.Audit.EstimatedKeys == 0 {
		t.Fatalf("stores stats --admin: %s", out)
	}
	out, stderr, code = veltrix(t, withSets(t, sets, "stores", "stats", "--exact")...)
	if code != 0 {
		t.Fatalf("veltrix stores stats --exact: exit %d: %s", code, stderr)
	}
	rep = app.StoresReport{}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// Audit: two keys per row with a player; every row is still live.
	all := query(store.Query{Hunt: "harbour"})
	var keys uint64
	for _, r := range all {
		keys++
		if r.Player != "" {
			keys++
		}
	}
	// (The command reads on the wall clock, on which the sessions are live.)
	if rep.Audit.Rows == nil || rep.Audit.Rows.Live < keys || rep.Sessions.Rows == nil || rep.Sessions.Rows.Live < 2 {
		t.Fatalf("stores stats --exact: %s (want at least %d live audit keys and 2 live sessions)", out, keys)
	}
}

// TestStoreLockedByAnotherProcess runs an engine in another process: a
// second `veltrix run` on its data dir fails at start with a clear error,
// while `veltrix audit` and `veltrix stores stats` read its stores.
func TestStoreLockedByAnotherProcess(t *testing.T) {
	data, export := t.TempDir(), t.TempDir()
	sets := storeSets(t, data, export)
	cmd := exec.Command(os.Args[0], withSets(t, sets, "run")...)
	cmd.Env = append(os.Environ(), "TEST_VELTRIX_AS_MAIN=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()
	var gw string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if _, url, ok := strings.Cut(line, "players connect to "); ok {
			gw = url
		}
		if strings.Contains(line, "press Ctrl-C") {
			break
		}
	}
	if gw == "" {
		t.Fatalf("the engine process did not start: %s", stderr.String())
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	playHarbour(ctx, t, gw, "carol", 2)

	// A second engine on the same data dir (its own broker dir and ports).
	_, errOut, code := veltrix(t, withSets(t, append(sets, "broker.dir="+t.TempDir()), "run")...)
	if code == 0 || !strings.Contains(errOut, "is locked by another process (is another engine running on this data dir?)") ||
		!strings.Contains(errOut, filepath.Join(data, "sessions")) {
		t.Fatalf("second engine: exit %d, stderr %q", code, errOut)
	}

	// The tools read the locked stores.
	out, errOut, code := veltrix(t, withSets(t, sets, "audit", "--hunt", "harbour", "--player", "carol")...)
	if code != 0 {
		t.Fatalf("veltrix audit on a locked store: exit %d: %s", code, errOut)
	}
	rows := parseLines(t, out)
	kinds := map[string]int{}
	for _, r := range rows {
		kinds[r.Kind]++
	}
	if kinds["action"] != 3 || kinds["join"] != 1 {
		t.Fatalf("carol's audit rows by kind: %v, want 3 actions and a join", kinds)
	}
	out, errOut, code = veltrix(t, withSets(t, sets, "stores", "stats")...)
	if code != 0 || !strings.Contains(out, `"sessions"`) || !strings.Contains(out, `"estimated_keys"`) {
		t.Fatalf("veltrix stores stats on locked stores: exit %d: %s %s", code, out, errOut)
	}
}
