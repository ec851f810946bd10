package main

// The end-to-end latency benchmark of issue 3: N simulated players, each
// moving once a second, through gateway processes, the real Kafka broker and
// an engine process; the load comes from worker processes (the test binary
// re-executed), because one process may open at most 20,000 files here.
//
//	make kafka-up
//	TEST_KAFKA_BROKERS=127.0.0.1:9092 go test -run '^$' -bench KafkaLatency -benchtime 1x -timeout 30m ./cmd/veltrix/

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/veltrix/veltrix/engine/client"
	"github.com/veltrix/veltrix/engine/protocol"
)

// loadReport is what a load worker prints: latencies in microseconds.
type loadReport struct {
	Players   int     `json:"players"`
	Sent      int     `json:"sent"`
	Answered  int     `json:"answered"`
	Rejected  int     `json:"rejected"`
	Errors    int     `json:"errors"`
	Seconds   float64 `json:"seconds"`
	Latencies []int32 `json:"latencies_us"`
}

// loadWorker runs in a re-executed test binary: players connect to the
// gateway URLs (round robin), join, then each moves once a second for the
// duration, at a random phase; moves go nowhere near a beacon.
func loadWorker(args []string) int {
	n, _ := strconv.Atoi(args[0])
	first, _ := strconv.Atoi(args[1])
	dur, _ := time.ParseDuration(args[2])
	urls := strings.Split(args[3], ",")
	hunts, _ := strconv.Atoi(args[4])
	ctx, cancel := context.WithTimeout(context.Background(), dur+2*time.Minute)
	defer cancel()

	var mu sync.Mutex
	rep := loadReport{Players: n}
	var wg sync.WaitGroup
	start := time.Now().Add(time.Duration(n/500+2) * time.Second) // time to connect everyone
	end := start.Add(dur)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			id := fmt.Sprintf("lp%06d", first+i)
			c, err := dialRetry(ctx, urls[i%len(urls)], first+i, id)
			if err != nil {
				fmt.Fprintf(os.Stderr, "load worker: %s: %v\n", id, err)
				mu.Lock()
				rep.Errors++
				mu.Unlock()
				return
			}
			defer c.Close()
			hunt := fmt.Sprintf("h%03d", (first+i)%hunts)
			sent := map[uint64]time.Time{}
			var smu sync.Mutex
			var lat []int32
			answered, rejected := 0, 0
			var finished atomic.Bool
			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					m, err := c.Next(ctx)
					if err != nil {
						return
					}
					if m.Type != protocol.TypeResult || m.Duplicate {
						continue
					}
					smu.Lock()
					t0, ok := sent[m.Seq]
					delete(sent, m.Seq)
					left := len(sent)
					smu.Unlock()
					if ok && m.Seq > 1 {
						lat = append(lat, int32(time.Since(t0).Microseconds()))
						answered++
						if m.OK == nil || !*m.OK {
							rejected++
						}
					}
					if left == 0 && finished.Load() {
						return
					}
				}
			}()
			smu.Lock()
			sent[1] = time.Now()
			smu.Unlock()
			_ = c.Send(protocol.ClientMessage{Type: "join", Hunt: hunt, Seq: 1})
			rng := rand.New(rand.NewPCG(uint64(first+i), 7))
			lat0, lon0 := 10+rng.Float64(), 10+rng.Float64() // far from every beacon
			phase := time.Duration(rng.Int64N(int64(time.Second)))
			nsent := 0
			for seq := uint64(2); ; seq++ {
				at := start.Add(phase + time.Duration(seq-2)*time.Second)
				if at.After(end) {
					break
				}
				time.Sleep(time.Until(at)) // the players' pace: one move a second
				smu.Lock()
				sent[seq] = time.Now()
				smu.Unlock()
				if err := c.Send(protocol.ClientMessage{Type: "move", Seq: seq,
					Lat: lat0 + float64(seq)*1e-5, Lon: lon0, At: at.UnixMilli()}); err != nil {
					break
				}
				nsent++
			}
			finished.Store(true)
			smu.Lock()
			idle := len(sent) == 0
			smu.Unlock()
			if idle {
				c.Close() // everything is answered: unblock the reader
			}
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				c.Close()
				<-done
			}
			mu.Lock()
			rep.Sent += nsent
			rep.Answered += answered
			rep.Rejected += rejected
			rep.Latencies = append(rep.Latencies, lat...)
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	rep.Seconds = dur.Seconds()
	_ = json.NewEncoder(os.Stdout).Encode(rep)
	return 0
}

// dialRetry connects player id from its own 127.0.0.x source address (the
// gateway caps connections per address, as it would for real players) and
// retries handshakes the gateway refuses while everyone connects at once
// (503 over gateway.handshake_rate).
func dialRetry(ctx context.Context, rawURL string, i int, id string) (*client.Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	opts := client.Options{Player: id, Buffer: 64, LocalAddr: sourceAddr(u, i, 64)}
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		c, err := client.Dial(ctx, rawURL, opts)
		if err == nil || attempt == 10 || ctx.Err() != nil {
			return c, err
		}
		time.Sleep(backoff + time.Duration(rand.Int64N(int64(backoff))))
		backoff = min(2*backoff, 2*time.Second)
	}
}

func BenchmarkKafkaLatency(b *testing.B) {
	seeds := os.Getenv("TEST_KAFKA_BROKERS")
	if seeds == "" {
		b.Skip("TEST_KAFKA_BROKERS not set: start a broker (make kafka-up) and set it")
	}
	dur := 30 * time.Second
	if d, err := time.ParseDuration(os.Getenv("TEST_LATENCY_DURATION")); err == nil {
		dur = d
	}
	sizes := []int{1000, 5000, 20000}
	if s := os.Getenv("TEST_LATENCY_PLAYERS"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, _ := strconv.Atoi(f)
			sizes = append(sizes, n)
		}
	}
	const hunts = 100
	for _, n := range sizes {
		b.Run(fmt.Sprintf("players=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				huntsDir := b.TempDir()
				writeBenchHunts(b, huntsDir, hunts)
				report(b, n, runLatency(b, seeds, huntsDir, n, hunts, dur))
			}
		})
	}
}

// writeBenchHunts writes hunts h000.. with one beacon each, far from the players.
func writeBenchHunts(b testing.TB, dir string, n int) {
	for i := 0; i < n; i++ {
		y := fmt.Sprintf("id: h%03d\nname: bench %d\nbeacons:\n  - {id: b, name: B, lat: -10, lon: -10}\n", i, i)
		if err := os.WriteFile(fmt.Sprintf("%s/h%03d.yaml", dir, i), []byte(y), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

func runLatency(b *testing.B, seeds, huntsDir string, players, hunts int, dur time.Duration) loadReport {
	suffix := fmt.Sprint(time.Now().UnixNano())
	dataDir := b.TempDir()
	common := []string{
		"--config", repoPath(b, "configs/kafka.yaml"),
		"--set", "broker.brokers=" + seeds,
		"--set", "topics.actions=bench.actions." + suffix,
		"--set", "topics.events=bench.events." + suffix,
		"--set", "engine.group=bench-engine-" + suffix,
		"--set", "data_dir=" + dataDir,
		"--set", "games.treasurehunt.scripts=" + repoPath(b, "scripts/treasurehunt"),
		"--set", "games.treasurehunt.hunts=" + huntsDir,
		"--set", "log_level=warn",
	}
	// Extra overrides for experiments, e.g. TEST_LATENCY_SETS=engine.sessions.sync=false
	for _, kv := range strings.Fields(os.Getenv("TEST_LATENCY_SETS")) {
		common = append(common, "--set", kv)
	}
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			_ = p.Process.Signal(os.Interrupt)
			_ = p.Wait()
		}
	}()
	startProc := func(args ...string) (url string) {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "TEST_VELTRIX_AS_MAIN=1")
		cmd.Stderr = os.Stderr
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		procs = append(procs, cmd)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if i := strings.Index(line, "players connect to "); i >= 0 {
				url = strings.TrimSpace(line[i+len("players connect to "):])
			}
			if strings.Contains(line, "press Ctrl-C") {
				go func() { _, _ = bufio.NewReader(out).WriteTo(nopWriter{}) }()
				return url
			}
		}
		b.Fatalf("%v did not start", args[0])
		return ""
	}
	engineArgs := append([]string{"engine"}, common...)
	// Engine-only overrides, e.g. TEST_LATENCY_ENGINE_SETS=admin.listen=127.0.0.1:9100 to profile it.
	for _, kv := range strings.Fields(os.Getenv("TEST_LATENCY_ENGINE_SETS")) {
		engineArgs = append(engineArgs, "--set", kv)
	}
	startProc(engineArgs...)
	gateways := (players + 9499) / 9500
	var urls []string
	for g := 0; g < gateways; g++ {
		urls = append(urls, startProc(append([]string{"gateway"}, append(common,
			"--set", "gateway.listen=127.0.0.1:0", "--set", "gateway.idle_timeout=5m")...)...))
	}
	workers := (players + 9499) / 9500
	per := (players + workers - 1) / workers
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total loadReport
	for w := 0; w < workers; w++ {
		n := min(per, players-w*per)
		wg.Add(1)
		go func(w, n int) {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], strconv.Itoa(n), strconv.Itoa(w*per), dur.String(), strings.Join(urls, ","), strconv.Itoa(hunts))
			cmd.Env = append(os.Environ(), "TEST_VELTRIX_LOADGEN=1")
			cmd.Stderr = os.Stderr
			out, err := cmd.Output()
			if err != nil {
				b.Errorf("load worker %d: %v", w, err)
				return
			}
			var r loadReport
			if err := json.Unmarshal(out, &r); err != nil {
				b.Errorf("load worker %d: %v: %.200s", w, err, out)
				return
			}
			mu.Lock()
			total.Players += r.Players
			total.Sent += r.Sent
			total.Answered += r.Answered
			total.Rejected += r.Rejected
			total.Errors += r.Errors
			total.Seconds = r.Seconds
			total.Latencies = append(total.Latencies, r.Latencies...)
			mu.Unlock()
		}(w, n)
	}
	wg.Wait()
	return total
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

func report(b *testing.B, n int, r loadReport) {
	lat := r.Latencies
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return math.NaN()
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(0.999), "p999-ms")
	b.ReportMetric(float64(r.Answered)/r.Seconds, "actions/s")
	b.ReportMetric(float64(r.Sent-r.Answered), "unanswered")
	b.ReportMetric(float64(r.Errors), "conn-errors")
	b.Logf("%d players: sent %d, answered %d (%d rejected), %d connection errors; p50 %.1f ms, p99 %.1f ms, p999 %.1f ms, %.0f actions/s",
		n, r.Sent, r.Answered, r.Rejected, r.Errors, pct(0.5), pct(0.99), pct(0.999), float64(r.Answered)/r.Seconds)
	// Figures from a run that lost players or moves are not figures.
	if r.Errors > 0 || r.Sent != r.Answered || r.Rejected > 0 || r.Players != n {
		b.Errorf("%d players: %d connection errors, %d of %d moves unanswered, %d rejected", n, r.Errors, r.Sent-r.Answered, r.Sent, r.Rejected)
	}
}
