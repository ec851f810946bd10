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
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// loadReport is what a load worker prints: latencies in microseconds.
type loadReport struct {
	Players   int     `json:"players"`
	Sent      int     `json:"sent"`
	Answered  int     `json:"answered"`
	Rejected  int     `json:"rejected"`
	Errors    int     `json:"errors"`
	Unsent    int     `json:"unsent"` // moves due whose frame could not be written
	Seconds   float64 `json:"seconds"`
	Latencies []int32 `json:"latencies_us"`

	CPU map[string]float64 `json:"-"` // cores used in the steady window, by tier
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
	// The run's topics go when it ends: a broker that keeps hundreds of
	// runs' partitions works harder in the next one.
	defer deleteTopics(b, seeds, "bench.actions."+suffix, "bench.events."+suffix)
	prof := os.Getenv("TEST_LATENCY_PROFILE") // a directory: CPU profiles of every process
	if prof != "" {
		common = append(common, "--set", "admin.listen=127.0.0.1:0")
	}
	var procs []*exec.Cmd
	var tiers []tierProc // engine and gateways, then the load workers
	defer func() {
		for _, p := range procs {
			_ = p.Process.Signal(os.Interrupt)
			_ = p.Wait()
		}
	}()
	startProc := func(args ...string) (url string) {
		adminURL := ""
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
			if i := strings.Index(line, "admin http://"); i >= 0 {
				adminURL, _, _ = strings.Cut(line[i+len("admin "):], " ")
			}
			if strings.Contains(line, "press Ctrl-C") {
				tiers = append(tiers, tierProc{name: fmt.Sprintf("%s-%d", args[0], len(tiers)), pid: cmd.Process.Pid, admin: adminURL})
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
	if pid := kafkaPid(b); pid > 0 {
		tiers = append(tiers, tierProc{name: "kafka", pid: pid})
	}
	workers := (players + 9499) / 9500
	per := (players + workers - 1) / workers
	// Players start moving once all had time to connect (budgeting 500
	// handshakes a second); the steady window leaves out the
	// first and last sixth of the moves.
	start := time.Now().Add(time.Duration(per/500+3) * time.Second)
	window := [2]time.Time{start.Add(dur / 6), start.Add(dur * 5 / 6)}
	var loadPids []tierProc
	var lmu sync.Mutex
	cpuDone := make(chan map[string]float64, 1)
	go func() {
		cpuDone <- measureTiers(b, window, func() []tierProc {
			lmu.Lock()
			defer lmu.Unlock()
			return append(tiers[:len(tiers):len(tiers)], loadPids...)
		}, prof)
	}()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total loadReport
	for w := 0; w < workers; w++ {
		n := min(per, players-w*per)
		wg.Add(1)
		go func(w, n int) {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], strconv.Itoa(n), strconv.Itoa(w*per), dur.String(), strings.Join(urls, ","), strconv.Itoa(hunts), strconv.FormatInt(start.UnixMilli(), 10))
			cmd.Env = append(os.Environ(), "TEST_VELTRIX_LOADGEN=1")
			if prof != "" {
				cmd.Env = append(cmd.Env, fmt.Sprintf("TEST_LATENCY_PROFILE_WINDOW=%d,%d,%s/load-%d.pprof",
					window[0].UnixMilli(), window[1].UnixMilli(), prof, w))
			}
			cmd.Stderr = os.Stderr
			var stdout strings.Builder
			cmd.Stdout = &stdout
			if err := cmd.Start(); err != nil {
				b.Errorf("load worker %d: %v", w, err)
				return
			}
			lmu.Lock()
			loadPids = append(loadPids, tierProc{name: fmt.Sprintf("load-%d", w), pid: cmd.Process.Pid})
			lmu.Unlock()
			err := cmd.Wait()
			out := []byte(stdout.String())
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
			total.Unsent += r.Unsent
			total.Seconds = r.Seconds
			total.Latencies = append(total.Latencies, r.Latencies...)
			mu.Unlock()
		}(w, n)
	}
	wg.Wait()
	total.CPU = <-cpuDone
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
	rate := float64(r.Answered) / r.Seconds
	var tiers []string
	for t := range r.CPU {
		tiers = append(tiers, t)
	}
	sort.Strings(tiers)
	var cpu strings.Builder
	for _, t := range tiers {
		fmt.Fprintf(&cpu, " %s %.2f cores (%.0f µs/action)", t, r.CPU[t], r.CPU[t]*1e6/rate)
		if t == "machine" {
			b.ReportMetric(r.CPU[t]*1e6/rate, "cpu-µs/action")
		}
	}
	b.Logf("CPU in the steady window:%s", cpu.String())
	// Figures from a run that lost players or moves are not figures.
	if r.Errors > 0 || r.Unsent > 0 || r.Sent != r.Answered || r.Rejected > 0 || r.Players != n {
		b.Errorf("%d players: %d connection errors, %d moves not sent, %d of %d moves unanswered, %d rejected",
			n, r.Errors, r.Unsent, r.Sent-r.Answered, r.Sent, r.Rejected)
	}
}

// tierProc is one process of the set-up, named by its tier.
type tierProc struct {
	name  string // engine-0, gateway-1, kafka, load-0
	pid   int
	admin string // admin URL, when profiling
}

// kafkaPid is the pid of the broker scripts/kafka.sh started, or 0.
func kafkaPid(b testing.TB) int {
	dir := os.Getenv("KAFKA_DIR")
	if dir == "" {
		dir = repoPath(b, ".kafka")
	}
	raw, err := os.ReadFile(filepath.Join(dir, "kafka.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	return pid
}

// cpuTicks is a process's user+system CPU time in clock ticks (1/100 s),
// or the whole machine's busy time for pid 0.
func cpuTicks(pid int) (int64, bool) {
	if pid == 0 {
		b, err := os.ReadFile("/proc/stat")
		if err != nil {
			return 0, false
		}
		line, _, _ := strings.Cut(string(b), "\n")
		// cpu user nice system idle iowait irq softirq steal guest guest_nice:
		// busy is user+nice+system+irq+softirq (guest time is inside user,
		// steal is time the VM did not get).
		f := strings.Fields(line)
		var busy int64
		for _, i := range []int{1, 2, 3, 6, 7} {
			n, _ := strconv.ParseInt(f[i], 10, 64)
			busy += n
		}
		return busy, true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from 3 (state) on
	u, _ := strconv.ParseInt(f[11], 10, 64)                  // utime is field 14
	st, _ := strconv.ParseInt(f[12], 10, 64)                 // stime is field 15
	return u + st, true
}

// measureTiers returns the cores each tier used during the window (summed
// over its processes, and "machine" for the whole box), and with prof set
// writes each server process's CPU profile of the window there.
func measureTiers(b *testing.B, window [2]time.Time, procs func() []tierProc, prof string) map[string]float64 {
	time.Sleep(time.Until(window[0]))
	ps := append(procs(), tierProc{name: "machine"})
	before := make([]int64, len(ps))
	for i, p := range ps {
		before[i], _ = cpuTicks(p.pid)
	}
	var pwg sync.WaitGroup
	secs := int(window[1].Sub(window[0]).Seconds())
	for _, p := range ps {
		if prof == "" || p.admin == "" {
			continue
		}
		pwg.Add(1)
		go func(p tierProc) {
			defer pwg.Done()
			resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", p.admin, secs))
			if err != nil {
				b.Logf("profile %s: %v", p.name, err)
				return
			}
			defer resp.Body.Close()
			f, err := os.Create(filepath.Join(prof, p.name+".pprof"))
			if err == nil {
				_, _ = io.Copy(f, resp.Body)
				_ = f.Close()
			}
		}(p)
	}
	time.Sleep(time.Until(window[1]))
	el := window[1].Sub(window[0]).Seconds()
	cores := map[string]float64{}
	for i, p := range ps {
		after, ok := cpuTicks(p.pid)
		if !ok {
			continue
		}
		tier, _, _ := strings.Cut(p.name, "-")
		cores[tier] += float64(after-before[i]) / 100 / el
	}
	pwg.Wait()
	return cores
}

// profileLoad writes a load worker's CPU profile for the window named by
// TEST_LATENCY_PROFILE_WINDOW (start ms, end ms, file), if set.
func profileLoad() {
	f := strings.Split(os.Getenv("TEST_LATENCY_PROFILE_WINDOW"), ",")
	if len(f) != 3 {
		return
	}
	from, _ := strconv.ParseInt(f[0], 10, 64)
	to, _ := strconv.ParseInt(f[1], 10, 64)
	go func() {
		time.Sleep(time.Until(time.UnixMilli(from)))
		out, err := os.Create(f[2])
		if err != nil || pprof.StartCPUProfile(out) != nil {
			return
		}
		time.Sleep(time.Until(time.UnixMilli(to)))
		pprof.StopCPUProfile()
		_ = out.Close()
	}()
}

func deleteTopics(b testing.TB, seeds string, topics ...string) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(seeds, ",")...))
	if err != nil {
		b.Logf("delete topics: %v", err)
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).DeleteTopics(ctx, topics...); err != nil {
		b.Logf("delete topics %v: %v", topics, err)
	}
}
