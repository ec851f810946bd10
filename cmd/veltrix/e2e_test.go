package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/engine/app"
	"github.com/veltrix/veltrix/engine/client"
	"github.com/veltrix/veltrix/engine/config"
	"github.com/veltrix/veltrix/engine/core"
	"github.com/veltrix/veltrix/engine/geo"
	"github.com/veltrix/veltrix/engine/protocol"
	"github.com/veltrix/veltrix/engine/store"
	"github.com/veltrix/veltrix/games/treasurehunt/gpx"
	"github.com/veltrix/veltrix/games/treasurehunt/huntdef"
	"github.com/veltrix/veltrix/games/treasurehunt/replay"
	"github.com/veltrix/veltrix/internal/shareddata"
)

// server is an all-in-one Veltrix on free ports, in a temporary data dir.
type server struct {
	*app.App
	cfg *config.Config
}

// startServer starts gateway, engine and broker. The broker is the embedded
// one, or the real Kafka named by TEST_KAFKA_BROKERS (make test-kafka).
func startServer(t testing.TB, huntsDir string, sets ...string) *server {
	t.Helper()
	data := t.TempDir()
	sets = append([]string{
		"data_dir=" + data,
		"gateway.listen=127.0.0.1:0",
		"admin.listen=", // dev.yaml's fixed port would clash between tests
		"games.treasurehunt.scripts=" + repoPath(t, "scripts/treasurehunt"),
		"games.treasurehunt.hunts=" + huntsDir,
		"log_level=warn",
		// No message rate limit (dev.yaml's setting, not kafka.yaml's): tests
		// replay as fast as the engine answers. TestReplayPacesUnderRateLimit
		// covers the limit.
		"gateway.message_rate=-1",
	}, sets...)
	cfgFile := "configs/dev.yaml"
	if seeds := os.Getenv("TEST_KAFKA_BROKERS"); seeds != "" {
		cfgFile = "configs/kafka.yaml"
		// A fresh set of topics and group per test, so runs never see each other.
		suffix := strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")) + "-" + time.Now().Format("150405.000000")
		sets = append(sets, "broker.brokers="+seeds, "engine.instance_id=",
			"topics.actions=test.actions."+suffix, "topics.events=test.events."+suffix,
			"engine.group=test-engine-"+suffix)
	}
	cfg, err := config.Load(repoPath(t, cfgFile), nil, sets)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, err := app.Start(ctx, cfg, app.Roles{Gateway: true, Engine: true}, newLogger(cfg.LogLevel, os.Stderr))
	if err != nil {
		t.Fatal(err)
	}
	s := &server{App: a, cfg: cfg}
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	return s
}

func repoPath(t testing.TB, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// veltrix runs the command line in-process.
func veltrix(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return o.String(), e.String(), code
}

func importHunt(t *testing.T, gpxPath, id string) (dir string, h *huntdef.Hunt) {
	t.Helper()
	dir = t.TempDir()
	out := filepath.Join(dir, id+".yaml")
	if _, stderr, code := veltrix(t, "hunt", "import", "--gpx", gpxPath, "--id", id, "--out", out); code != 0 {
		t.Fatalf("hunt import exited %d: %s", code, stderr)
	}
	h, err := huntdef.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	return dir, h
}

// expectedFinds is computed from the GPX file alone: the beacons within the
// hunt's radius of some track point, in the order the walk reaches them.
func expectedFinds(h *huntdef.Hunt, pts []gpx.Point) []huntdef.Beacon {
	var out []huntdef.Beacon
	found := map[string]bool{}
	for _, p := range pts {
		for _, b := range h.Beacons {
			if !found[b.ID] && geo.Distance(p.Lat, p.Lon, b.Lat, b.Lon) <= h.RadiusM {
				found[b.ID] = true
				out = append(out, b)
			}
		}
	}
	return out
}

// visnjanWalk is the shared data's Višnjan walk: its path and track points.
func visnjanWalk(tb testing.TB) (path string, track []gpx.Point) {
	tb.Helper()
	path = filepath.Join(shareddata.SharedDir(tb), "walk_visnjan_with_waypoints.gpx")
	f, err := gpx.ParseFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return path, f.TrackPoints()
}

// points is the treasure hunt's scoring rule (scripts/treasurehunt).
func points(b huntdef.Beacon) int { return int(math.Floor(10*b.Difficulty + 5*b.Terrain + 0.5)) }

func TestEndToEndVisnjanWalk(t *testing.T) {
	walk, track := visnjanWalk(t)
	dir, hunt := importHunt(t, walk, "visnjan")
	want := expectedFinds(hunt, track)
	if len(want) == 0 {
		t.Fatal("test premise: the walk passes no waypoint within the radius")
	}
	wantScore := 0
	for _, b := range want {
		wantScore += points(b) + hunt.FirstFinderBonus // the only player is every beacon's first finder
	}

	s := startServer(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := replay.Run(ctx, replay.Options{URL: s.GatewayURL(), Hunt: hunt.ID, Player: "walker", Points: track, FirstSeq: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Moves != len(track) || rep.Accepted+sum(rep.Rejected) != len(track) {
		t.Fatalf("replay answered %d accepted + %v rejected of %d moves", rep.Accepted, rep.Rejected, len(track))
	}
	noGatewayRefusals(t, rep)
	var got []string
	for _, d := range rep.Discoveries {
		got = append(got, d.Beacon)
		if !d.First {
			t.Errorf("discovery %s: want first-finder bonus", d.Beacon)
		}
	}
	var wantIDs []string
	for _, b := range want {
		wantIDs = append(wantIDs, b.ID)
	}
	if strings.Join(got, ",") != strings.Join(wantIDs, ",") {
		t.Fatalf("discovered %v, want %v (within %.0f m of the track)", got, wantIDs, hunt.RadiusM)
	}
	t.Logf("replayed %d moves in %s: discovered %v, score %d", rep.Moves, rep.Duration, got, rep.Score)
	if rep.Score != wantScore {
		t.Fatalf("score %d, want %d", rep.Score, wantScore)
	}

	// The session store holds the session with its score.
	val, ok, err := s.Sessions().Get(core.SessionKey(hunt.ID, "walker"))
	if err != nil || !ok {
		t.Fatalf("session of walker not in the session store: ok=%v err=%v", ok, err)
	}
	rec, err := core.DecodeSession(val)
	if err != nil {
		t.Fatal(err)
	}
	var sess struct {
		Seq   uint64
		State struct {
			Score int            `json:"score"`
			Found map[string]any `json:"found"`
		}
	}
	sess.Seq = rec.Seq
	if err := json.Unmarshal(rec.State, &sess.State); err != nil {
		t.Fatal(err)
	}
	if sess.State.Score != wantScore || len(sess.State.Found) != len(want) || sess.Seq != uint64(len(track)+1) {
		t.Fatalf("stored session: seq %d score %d found %d, want seq %d score %d found %d",
			sess.Seq, sess.State.Score, len(sess.State.Found), len(track)+1, wantScore, len(want))
	}

	// The audit store has a row for each discovery, and one per action.
	kinds := map[string]int{}
	var discovered []string
	err = s.Audit().Query(store.Query{Hunt: hunt.ID, Player: "walker"}, func(r store.Row) bool {
		kinds[r.Kind]++
		if r.Kind == "discovery" {
			var d struct {
				Beacon string `json:"beacon"`
			}
			_ = json.Unmarshal(r.Data, &d)
			discovered = append(discovered, d.Beacon)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(discovered)
	sort.Strings(wantIDs)
	if strings.Join(discovered, ",") != strings.Join(wantIDs, ",") {
		t.Fatalf("audit discovery rows %v, want %v", discovered, wantIDs)
	}
	if kinds["action"] != len(track)+1 {
		t.Fatalf("audit has %d action rows, want %d (join + every move)", kinds["action"], len(track)+1)
	}

	// The same player replayed again (seqs from the clock, as `veltrix
	// replay` does): the actions reach the rules, not the resend check, and
	// the walk, now in the past of her last fix, is refused move by move.
	again, err := replay.Run(ctx, replay.Options{URL: s.GatewayURL(), Hunt: hunt.ID, Player: "walker", Points: track})
	if err != nil {
		t.Fatal(err)
	}
	// (The track's last fix is not older than itself: that one is accepted.)
	if again.Rejected["duplicate"] != 0 || again.Rejected["time_not_monotonic"] != len(track)-1 || again.Accepted != 1 ||
		again.Score != wantScore || len(again.Discoveries) != 0 {
		t.Fatalf("second replay of walker: %d accepted, rejected %v, score %d, %d discoveries; want every move but the last time_not_monotonic, score %d kept",
			again.Accepted, again.Rejected, again.Score, len(again.Discoveries), wantScore)
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func TestImportGeocachePocketQuery(t *testing.T) {
	shared := shareddata.SharedDir(t)
	_, h := importHunt(t, filepath.Join(shared, "geocaches_pocket_query.gpx"), "pq")
	if len(h.Beacons) != 25 {
		t.Fatalf("%d beacons, want 25", len(h.Beacons))
	}
	byID := map[string]huntdef.Beacon{}
	for _, b := range h.Beacons {
		byID[b.ID] = b
		if b.Difficulty < 1 || b.Difficulty > 5 || b.Terrain < 1 || b.Terrain > 5 {
			t.Errorf("beacon %s: difficulty %v terrain %v out of 1..5", b.ID, b.Difficulty, b.Terrain)
		}
		if b.Type == "" || b.Name == "" {
			t.Errorf("beacon %s: type %q name %q: want both from the cache", b.ID, b.Type, b.Name)
		}
	}
	for _, c := range []struct {
		id         string
		diff, terr float64
		hint       string
	}{
		{"gc3fgvh", 2.5, 1.5, "klein, magnetisch, an grün"},
		{"gc3nbde", 5, 3, "Eingang: links"},
		{"gc1t26k", 1, 2, ""},
	} {
		b, ok := byID[c.id]
		if !ok {
			t.Errorf("no beacon %s (have %d)", c.id, len(byID))
			continue
		}
		if b.Difficulty != c.diff || b.Terrain != c.terr || b.Hint != c.hint {
			t.Errorf("beacon %s: difficulty %v terrain %v hint %q, want %v %v %q", c.id, b.Difficulty, b.Terrain, b.Hint, c.diff, c.terr, c.hint)
		}
	}
}

func TestImportRejectsNonGPX(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(bad, []byte("<html><body>not a track</body></html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := veltrix(t, "hunt", "import", "--gpx", bad)
	if code == 0 {
		t.Fatal("hunt import of an HTML file succeeded")
	}
	if !strings.Contains(stderr, bad) || !strings.Contains(stderr, "not a GPX file") {
		t.Fatalf("error should name the file and the problem, got: %s", stderr)
	}
	_, stderr, code = veltrix(t, "replay", "--gpx", bad, "--url", "ws://127.0.0.1:1/ws")
	if code == 0 || !strings.Contains(stderr, bad) {
		t.Fatalf("replay of an HTML file: exit %d, stderr %s", code, stderr)
	}
}

// TestBadInputKeepsServing sends every kind of bad frame from one player
// while another plays normally.
func TestBadInputKeepsServing(t *testing.T) {
	s := startServer(t, repoPath(t, "configs/hunts"), "gateway.max_frame_bytes=512")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bad, err := client.Dial(ctx, s.GatewayURL(), client.Options{Player: "mallory"})
	if err != nil {
		t.Fatal(err)
	}
	good, err := client.Dial(ctx, s.GatewayURL(), client.Options{Player: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()

	expectError := func(raw, code string) {
		t.Helper()
		if err := bad.SendRaw([]byte(raw)); err != nil {
			t.Fatal(err)
		}
		m, err := bad.Next(ctx)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if m.Type != protocol.TypeError || m.Code != code {
			t.Fatalf("%s: got %+v, want error %s", raw, m, code)
		}
	}
	expectError(`{"type":"move",`, protocol.ErrBadJSON)
	expectError(`[1,2,3]`, protocol.ErrBadJSON)
	expectError(`{"type":"teleport","seq":1}`, protocol.ErrUnknownType)
	expectError(`{"type":"move","seq":1,"lat":38.7,"lon":-9.1}`, protocol.ErrNotJoined)
	expectError(`{"type":"join","seq":1,"hunt":"../etc"}`, protocol.ErrBadField)
	expectError(`{"type":"join","seq":1,"hunt":"harbour","lat":"x"}`, protocol.ErrBadJSON)

	// An unknown hunt is the engine's answer, through Kafka.
	if err := bad.Send(protocol.ClientMessage{Type: "join", Hunt: "nohunt", Seq: 1}); err != nil {
		t.Fatal(err)
	}
	if m := nextOf(ctx, t, bad, protocol.TypeResult); m.OK == nil || *m.OK || m.Reason != "unknown_hunt" {
		t.Fatalf("join of an unknown hunt: %+v", m)
	}

	// The good player plays on.
	play(ctx, t, good, 1)

	// Oversized frame: closed with 1009.
	if err := bad.SendRaw(bytes.Repeat([]byte("x"), 4096)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-bad.Done():
	case <-ctx.Done():
		t.Fatal("oversized frame did not close the connection")
	}
	var ce *client.CloseError
	if !errors.As(bad.Err(), &ce) || ce.Code != 1009 {
		t.Fatalf("oversized frame: close %v, want code 1009", bad.Err())
	}

	// ... and the good player is still served.
	play(ctx, t, good, 3)
}

// play joins the harbour hunt (seq) and moves to its first beacon (seq+1).
func play(ctx context.Context, t *testing.T, c *client.Client, seq uint64) {
	t.Helper()
	if err := c.Send(protocol.ClientMessage{Type: "join", Hunt: "harbour", Seq: seq}); err != nil {
		t.Fatal(err)
	}
	if m := nextOf(ctx, t, c, protocol.TypeResult); m.OK == nil || !*m.OK || m.Seq != seq {
		t.Fatalf("join: %+v", m)
	}
	at := time.Now().UnixMilli() + int64(seq)*60_000
	if err := c.Send(protocol.ClientMessage{Type: "move", Seq: seq + 1, Lat: 38.70585, Lon: -9.14480, At: at}); err != nil {
		t.Fatal(err)
	}
	if m := nextOf(ctx, t, c, protocol.TypeResult); m.OK == nil || !*m.OK || m.Seq != seq+1 {
		t.Fatalf("move: %+v", m)
	}
}

// nextOf skips to the next message of type typ.
func nextOf(ctx context.Context, t *testing.T, c *client.Client, typ string) protocol.ServerMessage {
	t.Helper()
	for {
		m, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		if m.Type == typ {
			return m
		}
	}
}

func joinMsg(hunt string, seq uint64) protocol.ClientMessage {
	return protocol.ClientMessage{Type: protocol.TypeJoin, Hunt: hunt, Seq: seq}
}

func jsonData(m protocol.ServerMessage, v any) error { return json.Unmarshal(m.Data, v) }

// noGatewayRefusals fails when the gateway dropped a move (rate limit, bad
// field): every move must have reached the engine.
func noGatewayRefusals(t *testing.T, rep *replay.Report) {
	t.Helper()
	for reason, n := range rep.Rejected {
		if strings.HasPrefix(reason, "gateway:") {
			t.Fatalf("the gateway refused %d moves (%s): %v", n, reason, rep.Rejected)
		}
	}
}

// A replay as fast as the engine answers stays under a gateway's message
// rate limit (advertised in the welcome) instead of losing moves to it.
func TestReplayPacesUnderRateLimit(t *testing.T) {
	walk, track := visnjanWalk(t)
	dir, hunt := importHunt(t, walk, "visnjan")
	const rate, burst = 300, 16 // the track's 413 moves need > 1 s at this rate
	s := startServer(t, dir, fmt.Sprintf("gateway.message_rate=%d", rate), fmt.Sprintf("gateway.message_burst=%d", burst))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := replay.Run(ctx, replay.Options{URL: s.GatewayURL(), Hunt: hunt.ID, Player: "paced", Points: track})
	if err != nil {
		t.Fatal(err)
	}
	noGatewayRefusals(t, rep)
	if rep.Moves != len(track) || rep.Accepted+sum(rep.Rejected) != len(track) {
		t.Fatalf("replay answered %d accepted + %v rejected of %d moves", rep.Accepted, rep.Rejected, len(track))
	}
	var got []string
	for _, d := range rep.Discoveries {
		got = append(got, d.Beacon)
	}
	var want []string
	for _, b := range expectedFinds(hunt, track) {
		want = append(want, b.ID)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("discovered %v, want %v", got, want)
	}
}

// The replay command's mistakes are named: a wrong URL scheme, the
// gateway's reason for a refused handshake, an unknown hunt, a bad radius.
func TestReplayAndImportErrorsAreClear(t *testing.T) {
	shared := shareddata.SharedDir(t)
	walk := filepath.Join(shared, "walk_visnjan_with_waypoints.gpx")
	s := startServer(t, repoPath(t, "configs/hunts"))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"replay", "--gpx", walk, "--url", strings.Replace(s.GatewayURL(), "ws://", "http://", 1), "--hunt", "harbour"}, "want ws://HOST:PORT/ws"},
		{[]string{"replay", "--gpx", walk, "--url", s.GatewayURL(), "--hunt", "harbour", "--player", "bad id!"}, "401 Unauthorized: unauthorized: player id must be 1-64 characters"},
		{[]string{"replay", "--gpx", walk, "--url", s.GatewayURL(), "--hunt", "nosuch", "--speed", "0"}, "replay: join nosuch: unknown_hunt"},
		{[]string{"hunt", "import", "--gpx", walk, "--radius", "-5"}, "--radius -5: want a positive number of metres"},
	} {
		_, stderr, code := veltrix(t, tc.args...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("veltrix %s: exit %d, stderr %q; want it to say %q", strings.Join(tc.args, " "), code, stderr, tc.want)
		}
		if strings.HasPrefix(stderr, "\n") {
			t.Errorf("veltrix %s: stderr starts with a blank line", strings.Join(tc.args, " "))
		}
	}
}
