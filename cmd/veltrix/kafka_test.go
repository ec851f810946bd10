package main

// Integration tests against a real Apache Kafka broker with real processes:
// run by `make test-kafka`, which starts the broker (scripts/kafka.sh) and
// sets TEST_KAFKA_BROKERS to its address.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/veltrix/veltrix/engine/client"
	"github.com/veltrix/veltrix/engine/core"
	"github.com/veltrix/veltrix/engine/protocol"
	"github.com/veltrix/veltrix/engine/store"
	"github.com/veltrix/veltrix/games/treasurehunt/gpx"
	"github.com/veltrix/veltrix/games/treasurehunt/huntdef"
	"github.com/veltrix/veltrix/games/treasurehunt/replay"
)

func kafkaSeeds(t *testing.T) string {
	t.Helper()
	seeds := os.Getenv("TEST_KAFKA_BROKERS")
	if seeds == "" {
		t.Skip("TEST_KAFKA_BROKERS not set: run `make test-kafka` for the real-broker suite")
	}
	return seeds
}

// cluster is one test's set-up on the real broker: its own topics, group,
// data dirs and hunts.
type cluster struct {
	t        *testing.T
	seeds    string
	suffix   string
	huntsDir string
	dataDir  string
	procs    []*proc
}

func newCluster(t *testing.T, huntsDir string) *cluster {
	suffix := strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")) + "-" + fmt.Sprint(time.Now().UnixNano())
	c := &cluster{t: t, seeds: kafkaSeeds(t), suffix: suffix, huntsDir: huntsDir, dataDir: t.TempDir()}
	t.Cleanup(func() {
		for _, p := range c.procs {
			p.stop()
		}
	})
	return c
}

func (c *cluster) sets(extra ...string) []string {
	s := []string{
		"--config", repoPath(c.t, "configs/kafka.yaml"),
		"--set", "broker.brokers=" + c.seeds,
		"--set", "topics.actions=it.actions." + c.suffix,
		"--set", "topics.events=it.events." + c.suffix,
		"--set", "engine.group=it-engine-" + c.suffix,
		"--set", "data_dir=" + c.dataDir,
		"--set", "games.treasurehunt.scripts=" + repoPath(c.t, "scripts/treasurehunt"),
		"--set", "games.treasurehunt.hunts=" + c.huntsDir,
		"--set", "log_level=info",
		"--set", "gateway.message_rate=-1", // players replay faster than humans move
	}
	for _, e := range extra {
		s = append(s, "--set", e)
	}
	return s
}

// proc is a veltrix process (the test binary re-executed as the command).
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	url  string // gateway URL, once printed
	done chan struct{}
	log  *os.File
}

// start runs `veltrix <role>` and waits until it says it is serving.
func (c *cluster) start(role string, extra ...string) *proc {
	c.t.Helper()
	args := append([]string{role}, c.sets(extra...)...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "TEST_VELTRIX_AS_MAIN=1")
	logf, err := os.CreateTemp(c.dataDir, role+"-*.log")
	if err != nil {
		c.t.Fatal(err)
	}
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	p := &proc{t: c.t, name: role, cmd: cmd, done: make(chan struct{}), log: logf}
	c.procs = append(c.procs, p)
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			if i := strings.Index(line, "players connect to "); i >= 0 {
				p.url = strings.TrimSpace(line[i+len("players connect to "):])
			}
			if strings.Contains(line, "press Ctrl-C") {
				once.Do(func() { close(ready) })
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	select {
	case <-ready:
	case <-p.done:
		c.t.Fatalf("%s exited at start: %s", role, p.tail())
	case <-time.After(60 * time.Second):
		c.t.Fatalf("%s did not start: %s", role, p.tail())
	}
	return p
}

func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log.Name())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// kill9 kills the process without letting it clean up.
func (p *proc) kill9() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop asks the process to shut down cleanly and waits.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		p.t.Errorf("%s did not stop within 40 s after SIGTERM; killing it", p.name)
		p.kill9()
	}
}

// perPlayerHunts writes n copies of the walk's hunt, h000..h<n-1>: one
// player per hunt, so a player's score does not depend on how the players'
// moves interleave (first-finder bonuses), and two runs can be compared.
func perPlayerHunts(t testing.TB, walk string, n int) string {
	t.Helper()
	f, err := gpx.ParseFile(walk)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i := 0; i < n; i++ {
		h, err := huntdef.FromGPX(f, fmt.Sprintf("h%03d", i), "walk")
		if err != nil {
			t.Fatal(err)
		}
		w, err := os.Create(filepath.Join(dir, h.ID+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Write(w); err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
	return dir
}

// tracks gives player i the walk forwards (even i) or backwards (odd i),
// with fix times re-stamped so they increase.
func tracks(pts []gpx.Point, i int) []gpx.Point {
	if i%2 == 0 {
		return pts
	}
	out := make([]gpx.Point, len(pts))
	for j := range pts {
		out[j] = pts[len(pts)-1-j]
		out[j].Time = pts[j].Time
	}
	return out
}

// outcome is what a run leaves behind, without wall-clock times (the
// gateway stamps actions with its clock, so two runs differ only there).
type outcome struct {
	Sessions map[string]string         // player -> game session state minus times
	Audit    map[string]map[string]int // player -> "kind seq" -> rows
}

func readOutcome(t *testing.T, dataDir string, players int) outcome {
	t.Helper()
	ss, err := store.OpenSessions(store.SessionsOptions{Path: filepath.Join(dataDir, "sessions")})
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	au, err := store.OpenAudit(store.AuditOptions{Path: filepath.Join(dataDir, "audit")})
	if err != nil {
		t.Fatal(err)
	}
	defer au.Close()
	o := outcome{Sessions: map[string]string{}, Audit: map[string]map[string]int{}}
	for i := 0; i < players; i++ {
		hunt, player := fmt.Sprintf("h%03d", i), fmt.Sprintf("p%03d", i)
		v, ok, err := ss.Get(core.SessionKey(hunt, player))
		if err != nil || !ok {
			t.Fatalf("session %s/%s missing (err %v)", hunt, player, err)
		}
		rec, err := core.DecodeSession(v)
		if err != nil {
			t.Fatal(err)
		}
		var env struct {
			Seq   uint64
			State map[string]any
		}
		env.Seq = rec.Seq
		if err := json.Unmarshal(rec.State, &env.State); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"joined_at", "last_seen", "left_at"} {
			delete(env.State, k)
		}
		if found, ok := env.State["found"].(map[string]any); ok {
			for b := range found {
				found[b] = true // the value is the time found
			}
		}
		b, _ := json.Marshal(env.State)
		o.Sessions[player] = fmt.Sprintf("seq=%d %s", env.Seq, b)
		rows := map[string]int{}
		err = au.Query(store.Query{Hunt: hunt, Player: player}, func(r store.Row) bool {
			var d struct {
				Seq    uint64 `json:"seq"`
				Beacon string `json:"beacon"`
			}
			_ = json.Unmarshal(r.Data, &d)
			rows[fmt.Sprintf("%s %d %s", r.Kind, d.Seq, d.Beacon)]++
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		o.Audit[player] = rows
	}
	return o
}

// playAll replays every player's track through the gateway at url; onMove
// sees the number of answered moves so far.
func playAll(t testing.TB, urls func(i int) string, pts []gpx.Point, players int, answered *atomic.Int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, players)
	for i := 0; i < players; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			prev := 0
			_, err := replay.Run(ctx, replay.Options{
				URL: urls(i), Hunt: fmt.Sprintf("h%03d", i), Player: fmt.Sprintf("p%03d", i),
				Points: tracks(pts, i), Window: 8, FirstSeq: 1,
				Progress: func(done, _ int) { answered.Add(int64(done - prev)); prev = done },
			})
			if err != nil {
				errs <- fmt.Errorf("player %d: %w", i, err)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestKafkaEngineKill9 kills the engine with SIGKILL while 200 players
// replay a real walk, restarts it, and checks that the final state and audit
// rows equal those of a clean run: nothing lost, nothing applied twice.
func TestKafkaEngineKill9(t *testing.T) {
	kafkaSeeds(t)
	walk, pts := visnjanWalk(t)
	const players = 200
	hunts := perPlayerHunts(t, walk, players)
	total := int64(players * len(pts))

	run := func(name string, crash bool) outcome {
		c := newCluster(t, hunts)
		engine := c.start("engine")
		gw := c.start("gateway", "gateway.listen=127.0.0.1:0")
		var answered atomic.Int64
		crashed := make(chan struct{})
		if crash {
			go func() {
				defer close(crashed)
				for answered.Load() < total*2/5 {
					time.Sleep(20 * time.Millisecond)
				}
				engine.kill9()
				t.Logf("%s: engine killed with SIGKILL after %d of %d moves answered", name, answered.Load(), total)
				engine = c.start("engine")
			}()
		} else {
			close(crashed)
		}
		start := time.Now()
		playAll(t, func(int) string { return gw.url }, pts, players, &answered)
		<-crashed
		t.Logf("%s: %d players x %d moves answered in %s", name, players, len(pts), time.Since(start).Round(time.Millisecond))
		gw.stop()
		engine.stop()
		return readOutcome(t, c.dataDir, players)
	}
	clean := run("clean run", false)
	crashed := run("crash run", true)
	for i := 0; i < players; i++ {
		p := fmt.Sprintf("p%03d", i)
		if clean.Sessions[p] != crashed.Sessions[p] {
			t.Errorf("%s: session after the crash\n  %s\nwant (clean run)\n  %s", p, crashed.Sessions[p], clean.Sessions[p])
		}
		if !reflect.DeepEqual(clean.Audit[p], crashed.Audit[p]) {
			t.Errorf("%s: audit rows differ from the clean run: %s", p, diffRows(clean.Audit[p], crashed.Audit[p]))
		}
		for k, n := range crashed.Audit[p] {
			if n != 1 {
				t.Errorf("%s: audit row %q written %d times", p, k, n)
			}
		}
		if t.Failed() {
			break
		}
	}
	if want := fmt.Sprintf("seq=%d", len(pts)+1); !strings.HasPrefix(clean.Sessions["p000"], want+" ") {
		t.Fatalf("clean run p000: %s, want %s", clean.Sessions["p000"], want)
	}
}

func diffRows(want, got map[string]int) string {
	var d []string
	for k, n := range want {
		if got[k] != n {
			d = append(d, fmt.Sprintf("%q: %d, want %d", k, got[k], n))
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok {
			d = append(d, fmt.Sprintf("%q: %d, want none", k, n))
		}
	}
	sort.Strings(d)
	if len(d) > 10 {
		d = append(d[:10], "...")
	}
	return strings.Join(d, "; ")
}

// TestKafkaGatewayKill9 kills one of two gateways; its players reconnect to
// the other and resume their session with their score intact.
func TestKafkaGatewayKill9(t *testing.T) {
	kafkaSeeds(t)
	walk, pts := visnjanWalk(t)
	const players = 20
	c := newCluster(t, perPlayerHunts(t, walk, players))
	c.start("engine")
	gw1 := c.start("gateway", "gateway.listen=127.0.0.1:0")
	gw2 := c.start("gateway", "gateway.listen=127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	type player struct {
		c     *client.Client
		hunt  string
		id    string
		seq   uint64
		score int
	}
	ps := make([]*player, players)
	// Everyone plays the first half of the walk on gateway 1.
	half := len(pts) / 2
	var wg sync.WaitGroup
	for i := range ps {
		p := &player{hunt: fmt.Sprintf("h%03d", i), id: fmt.Sprintf("p%03d", i)}
		ps[i] = p
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if p.c, err = client.Dial(ctx, gw1.url, client.Options{Player: p.id}); err != nil {
				t.Error(err)
				return
			}
			p.score = walkPart(ctx, t, p.c, p.hunt, &p.seq, pts[:half])
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	gw1.kill9()
	for _, p := range ps {
		select {
		case <-p.c.Done():
		case <-ctx.Done():
			t.Fatal("clients did not see gateway 1 die")
		}
	}
	// They reconnect to gateway 2, rejoin (the snapshot has their score) and finish the walk.
	for _, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if p.c, err = client.Dial(ctx, gw2.url, client.Options{Player: p.id}); err != nil {
				t.Error(err)
				return
			}
			defer p.c.Close()
			before := p.score
			p.seq++
			if err := p.c.Send(protocol.ClientMessage{Type: "join", Hunt: p.hunt, Seq: p.seq}); err != nil {
				t.Error(err)
				return
			}
			var snap struct {
				Score int `json:"score"`
				Found int `json:"found"`
			}
			_ = json.Unmarshal(nextOf(ctx, t, p.c, "joined").Data, &snap)
			if snap.Score != before || before == 0 {
				t.Errorf("%s resumed with score %d, had %d", p.id, snap.Score, before)
			}
			p.score = walkPart(ctx, t, p.c, p.hunt, &p.seq, pts[half:])
		}()
	}
	wg.Wait()
	for _, p := range ps {
		if p.score != 50 {
			t.Errorf("%s finished with score %d, want 50 (both beacons, first finder)", p.id, p.score)
		}
	}
}

// walkPart joins (if seq is 0) and sends the moves, waiting for every
// answer; it returns the score after the last discovery or join.
func walkPart(ctx context.Context, t *testing.T, c *client.Client, hunt string, seq *uint64, pts []gpx.Point) int {
	t.Helper()
	score := 0
	pending := 0
	send := func(m protocol.ClientMessage) {
		if err := c.Send(m); err != nil {
			t.Error(err)
		}
		pending++
	}
	if *seq == 0 {
		*seq = 1
		send(protocol.ClientMessage{Type: "join", Hunt: hunt, Seq: *seq})
	}
	for _, p := range pts {
		*seq++
		send(protocol.ClientMessage{Type: "move", Seq: *seq, Lat: p.Lat, Lon: p.Lon, At: p.Time.UnixMilli()})
	}
	for pending > 0 {
		m, err := c.Next(ctx)
		if err != nil {
			t.Errorf("%d answers missing: %v", pending, err)
			return score
		}
		switch m.Type {
		case protocol.TypeResult:
			if !m.Duplicate {
				pending--
			}
			if m.OK == nil || !*m.OK {
				t.Errorf("action %d refused: %s", m.Seq, m.Reason)
			}
		case "joined", "discovery":
			var d struct {
				Score int `json:"score"`
			}
			_ = json.Unmarshal(m.Data, &d)
			score = d.Score
		}
	}
	return score
}

// TestKafkaBrokerOutage stops the broker for 10 s in the middle of play and
// starts it again: every action is answered and applied exactly once.
func TestKafkaBrokerOutage(t *testing.T) {
	kafkaSeeds(t)
	script := repoPath(t, "scripts/kafka.sh")
	walk, pts := visnjanWalk(t)
	const players = 20
	c := newCluster(t, perPlayerHunts(t, walk, players))
	engine := c.start("engine")
	gw := c.start("gateway", "gateway.listen=127.0.0.1:0")
	total := int64(players * len(pts))
	var answered atomic.Int64
	outage := make(chan error, 1)
	go func() {
		for answered.Load() < total/3 {
			time.Sleep(10 * time.Millisecond)
		}
		t.Logf("stopping the broker after %d of %d moves answered", answered.Load(), total)
		if out, err := exec.Command(script, "down").CombinedOutput(); err != nil {
			outage <- fmt.Errorf("kafka.sh down: %v: %s", err, out)
			return
		}
		if exec.Command(script, "status").Run() == nil {
			outage <- fmt.Errorf("kafka.sh down left the broker running (is KAFKA_DIR the one that started it?)")
			return
		}
		time.Sleep(10 * time.Second) // the outage itself, not a synchronisation
		out, err := exec.Command(script, "up").CombinedOutput()
		if err != nil {
			err = fmt.Errorf("kafka.sh up: %v: %s", err, out)
		}
		t.Logf("broker back after 10 s")
		outage <- err
	}()
	playAll(t, func(int) string { return gw.url }, pts, players, &answered)
	if err := <-outage; err != nil {
		t.Fatal(err)
	}
	gw.stop()
	engine.stop()
	o := readOutcome(t, c.dataDir, players)
	for i := 0; i < players; i++ {
		p := fmt.Sprintf("p%03d", i)
		if want := fmt.Sprintf("seq=%d ", len(pts)+1); !strings.HasPrefix(o.Sessions[p], want) {
			t.Errorf("%s: %s, want %s", p, o.Sessions[p], want)
		}
		actions := 0
		for k, n := range o.Audit[p] {
			if n != 1 {
				t.Errorf("%s: audit row %q written %d times", p, k, n)
			}
			if strings.HasPrefix(k, "action ") {
				actions++
			}
		}
		if actions != len(pts)+1 {
			t.Errorf("%s: %d action rows, want %d (join + every move, once each)", p, actions, len(pts)+1)
		}
	}
}

// TestKafkaStaleStoreRefused: an engine whose store is behind the group
// (another engine with its own data dir processed the partition since)
// refuses to resume rather than apply those actions again over stale state.
func TestKafkaStaleStoreRefused(t *testing.T) {
	kafkaSeeds(t)
	c := newCluster(t, repoPath(t, "configs/hunts"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dataA, dataB := filepath.Join(c.dataDir, "a"), filepath.Join(c.dataDir, "b")
	gw := c.start("gateway", "gateway.listen=127.0.0.1:0")
	play := func(seq uint64) {
		p, err := client.Dial(ctx, gw.url, client.Options{Player: "pat"})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if err := p.Send(joinMsg("harbour", seq)); err != nil {
			t.Fatal(err)
		}
		// Engine b rebuilds from the log and so answers seq 1 again: skip it.
		m := nextOf(ctx, t, p, "result")
		for m.Seq != seq {
			m = nextOf(ctx, t, p, "result")
		}
		if !*m.OK {
			t.Fatalf("join %d: %+v", seq, m)
		}
	}
	a := c.start("engine", "data_dir="+dataA)
	play(1)
	a.stop()
	b := c.start("engine", "data_dir="+dataB) // rebuilds from the log, then goes on
	play(2)
	b.stop()
	a = c.start("engine", "data_dir="+dataA)
	select {
	case <-a.done:
	case <-ctx.Done():
		t.Fatal("the engine with the stale store kept running")
	}
	if log := a.tail(); !strings.Contains(log, "holds state only up to") {
		t.Fatalf("the engine stopped without saying why:\n%s", log)
	}
}
