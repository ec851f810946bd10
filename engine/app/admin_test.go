package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/engine/app"
	"github.com/veltrix/veltrix/engine/store"
)

func httpGet(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// The admin endpoint answers audit queries as JSON lines (the same rows as
// the store), reports the stores, and exposes their metrics.
func TestAdminAuditAndStores(t *testing.T) {
	f0 := time.Date(2031, 5, 1, 8, 0, 0, 0, time.UTC)
	clock := store.NewFakeClock(f0)
	cfg := loadConfig(t, t.TempDir(), t.TempDir(), "admin.listen=127.0.0.1:0")
	a := mustStart(t, cfg, app.WithClock(clock))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	alice := dial(ctx, t, a, "alice")
	alice.join(ctx)
	clock.Advance(time.Hour)
	alice.move(ctx)
	bob := dial(ctx, t, a, "bob")
	bob.join(ctx)
	base := "http://" + a.AdminAddr()

	query := func(params url.Values) []store.Row {
		t.Helper()
		code, body := httpGet(t, base+"/audit?"+params.Encode())
		if code != http.StatusOK {
			t.Fatalf("GET /audit?%s: %d %s", params.Encode(), code, body)
		}
		var rows []store.Row
		sc := bufio.NewScanner(strings.NewReader(body))
		for sc.Scan() {
			var r store.Row
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			rows = append(rows, r)
		}
		return rows
	}
	direct := func(q store.Query) []store.Row {
		var rows []store.Row
		if err := a.Audit().Query(q, func(r store.Row) bool { rows = append(rows, r); return true }); err != nil {
			t.Fatal(err)
		}
		return rows
	}
	same := func(what string, got, want []store.Row) {
		t.Helper()
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if len(want) == 0 || string(g) != string(w) {
			t.Fatalf("%s: admin gave %s, the store %s", what, g, w)
		}
	}
	same("hunt", query(url.Values{"hunt": {"harbour"}}), direct(store.Query{Hunt: "harbour"}))
	same("player", query(url.Values{"hunt": {"harbour"}, "player": {"alice"}}), direct(store.Query{Hunt: "harbour", Player: "alice"}))
	// Times as RFC 3339 and as unix ms: only the move, an hour later.
	since := f0.Add(30 * time.Minute)
	moves := query(url.Values{"hunt": {"harbour"}, "player": {"alice"}, "since": {since.Format(time.RFC3339)}})
	same("since", moves, direct(store.Query{Hunt: "harbour", Player: "alice", Since: since.UnixMilli()}))
	for _, r := range moves {
		if r.TS != f0.Add(time.Hour).UnixMilli() {
			t.Fatalf("row %+v is before since", r)
		}
	}
	same("until", query(url.Values{"hunt": {"harbour"}, "until": {f0.Add(time.Minute).Format(time.RFC3339Nano)}}),
		direct(store.Query{Hunt: "harbour", Until: f0.Add(time.Minute).UnixMilli()}))
	if rows := query(url.Values{"hunt": {"harbour"}, "limit": {"2"}}); len(rows) != 2 {
		t.Fatalf("limit 2: %d rows", len(rows))
	}
	for _, bad := range []string{"", "hunt=harbour&since=yesterday", "hunt=harbour&limit=-1", "hunt=a%00b"} {
		if code, body := httpGet(t, base+"/audit?"+bad); code != http.StatusBadRequest {
			t.Errorf("GET /audit?%s: %d %s, want 400", bad, code, body)
		}
	}

	code, body := httpGet(t, base+"/stores")
	if code != http.StatusOK {
		t.Fatalf("GET /stores: %d %s", code, body)
	}
	var rep app.StoresReport
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Sessions.Path != cfg.Engine.Sessions.Path || rep.Audit.Path != cfg.Engine.Audit.Path ||
		rep.Sessions.EstimatedKeys == 0 || rep.Audit.EstimatedKeys == 0 || rep.Audit.DiskBytes == 0 || rep.Sessions.FreeBytes == 0 {
		t.Fatalf("GET /stores: %s", body)
	}

	// Expire alice's and bob's sessions and the hunt's record (which
	// outlives them by up to a tenth of the TTL) and compact: the metrics follow.
	clock.Advance(34 * time.Minute)
	if err := a.Sessions().CompactExpired(); err != nil {
		t.Fatal(err)
	}
	code, metrics := httpGet(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d", code)
	}
	for _, want := range []string{
		`veltrix_store_live_keys{store="sessions"}`, `veltrix_store_live_keys{store="audit"}`,
		`veltrix_store_sst_bytes{store="audit"}`, `veltrix_store_disk_bytes{store="sessions"}`,
		`veltrix_store_compactions_total{store="sessions"}`,
		`veltrix_store_full_compactions_total{store="sessions"} 1`,
		// alice's and bob's sessions, and the hunt's live state: all idle 34 min.
		`veltrix_store_expired_dropped_total{store="sessions"} 3`,
		`veltrix_store_expired_dropped_total{store="audit"} 0`,
		// The engine loop: alice's join and move and bob's join, all answered.
		"veltrix_engine_actions_total 3",
		`veltrix_engine_batch_phase_seconds_count{phase="commit"}`,
		`veltrix_engine_batch_phase_seconds_bucket{phase="produce",le="+Inf"}`,
		"veltrix_engine_batch_actions_sum 3",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", grepLines(metrics, "veltrix_store_"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
