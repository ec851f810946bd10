package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/lxzan/gws"

	"github.com/veltrix/veltrix/engine/client"
	"github.com/veltrix/veltrix/engine/protocol"
	"github.com/veltrix/veltrix/games/treasurehunt/huntdef"
	"github.com/veltrix/veltrix/plugins/auth/token"
)

const benchUsage = `usage:
  veltrix bench conns   --n N [--url ws://127.0.0.1:8080/ws] [--admin HOST:PORT] [--sources K]
                        [--concurrency C] [--settle 10s] [--hunt ID [--fanout R] [--hunts DIR]] [--hold D]
  veltrix bench players --n N --tracks DIR [--url ...] [--hunt ID[,ID...]] [--speed 10] [--moves 60]

conns opens N idle players (spread over K source addresses 127.0.0.1..127.0.0.K)
and reports handshakes/s and, with --admin (the gateway's admin.listen), the
gateway's RSS and Go heap per connection. With --hunt every connection also
follows the hunt's broadcasts, and --fanout R times a player discovers a beacon:
the leaderboard goes to all N, and the time until the last one has it is reported.

players drives N players along the GPX tracks of DIR (a track each, in turn)
and reports the latency from each move to its result.

The gateway's limits apply to the load: raise them for a benchmark, e.g.
--set gateway.max_conns_per_ip=-1 --set gateway.handshake_rate=-1.
`

// benchCmd runs the load tools.
func benchCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, benchUsage)
		return errors.New("bench: want conns or players")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	switch args[0] {
	case "conns":
		return benchConns(ctx, args[1:], stdout, stderr)
	case "players":
		return benchPlayers(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprint(stderr, benchUsage)
	return fmt.Errorf("bench: unknown tool %q", args[0])
}

// --- progress bar and summary table -------------------------------------

// progress draws "label [#####.....] 52% 9880/19000 3200/s" on w with \r
// every 200ms until done.
type progress struct {
	w     io.Writer
	label string
	total int64
	n     atomic.Int64
	start time.Time
	stop  chan struct{}
	done  chan struct{}
}

func startProgress(w io.Writer, label string, total int) *progress {
	p := &progress{w: w, label: label, total: int64(total), start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				p.draw()
				fmt.Fprintln(p.w)
				return
			case <-t.C:
				p.draw()
			}
		}
	}()
	return p
}

func (p *progress) add(n int) { p.n.Add(int64(n)) }

func (p *progress) draw() {
	const width = 30
	n := p.n.Load()
	frac := 0.0
	if p.total > 0 {
		frac = math.Min(1, float64(n)/float64(p.total))
	}
	fill := int(frac * width)
	rate := float64(n) / math.Max(time.Since(p.start).Seconds(), 1e-3)
	fmt.Fprintf(p.w, "\r%-9s [%s%s] %5.1f%% %d/%d %.0f/s  ", p.label,
		strings.Repeat("#", fill), strings.Repeat(".", width-fill), 100*frac, n, p.total, rate)
}

func (p *progress) finish() {
	close(p.stop)
	<-p.done
}

// table prints rows of label/value pairs aligned.
func table(w io.Writer, title string, rows [][2]string) {
	fmt.Fprintf(w, "\n%s\n", title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintf(tw, "  %s\t%s\n", r[0], r[1])
	}
	_ = tw.Flush()
}

func row(k string, format string, v ...any) [2]string { return [2]string{k, fmt.Sprintf(format, v...)} }

func kb(b float64) string { return fmt.Sprintf("%.2f KB", b/1024) }

func mb(b float64) string { return fmt.Sprintf("%.1f MB", b/(1<<20)) }

// percentile of sorted durations.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(d)))) - 1
	return d[min(max(i, 0), len(d)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// scrape reads the unlabelled samples of a Prometheus text endpoint.
func scrape(ctx context.Context, addr string) (map[string]float64, error) {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(addr, "/")+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bench: admin metrics: %w", err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			out[name] = f
		}
	}
	return out, sc.Err()
}

// --- bench conns ----------------------------------------------------------

// benchConn is one idle player of bench conns: a bare gws connection (no
// message channel), which records when hunt broadcasts arrive.
type benchConn struct {
	gws.BuiltinEventHandler
	conn   *gws.Conn
	signal chan struct{} // welcome, resumed
	mu     sync.Mutex
	boards []arrival    // leaderboards received (the last 64)
	closed atomic.Int32 // the close code the gateway sent (-1: closed without one)
}

type arrival struct{ ts, at int64 } // event ts (unix ms), arrival (unix ns)

var (
	typeWelcome     = []byte(`"type":"welcome"`)
	typeResumed     = []byte(`"type":"resumed"`)
	typeLeaderboard = []byte(`"type":"leaderboard"`)
)

func (b *benchConn) OnMessage(_ *gws.Conn, msg *gws.Message) {
	defer msg.Close()
	p := msg.Bytes()
	switch {
	case bytes.Contains(p, typeLeaderboard):
		a := arrival{ts: jsonInt64(p, `"ts":`), at: time.Now().UnixNano()}
		b.mu.Lock()
		if len(b.boards) == 64 {
			b.boards = append(b.boards[:0], b.boards[32:]...)
		}
		b.boards = append(b.boards, a)
		b.mu.Unlock()
	case bytes.Contains(p, typeWelcome), bytes.Contains(p, typeResumed):
		select {
		case b.signal <- struct{}{}:
		default:
		}
	}
}

func (b *benchConn) OnClose(_ *gws.Conn, err error) {
	var ce *gws.CloseError
	if errors.As(err, &ce) {
		b.closed.Store(int32(ce.Code))
	} else {
		b.closed.Store(-1)
	}
	close(b.signal)
}

// arrivedAt returns when the leaderboard of ts arrived (0: not yet).
func (b *benchConn) arrivedAt(ts int64) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, a := range b.boards {
		if a.ts == ts {
			return a.at
		}
	}
	return 0
}

// jsonInt64 reads the number after the last key in p (0 if none).
func jsonInt64(p []byte, key string) int64 {
	i := bytes.LastIndex(p, []byte(key))
	if i < 0 {
		return 0
	}
	var n int64
	for _, c := range p[i+len(key):] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

func runID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "b" + hex.EncodeToString(b[:])
}

// sourceAddr spreads connections over 127.0.0.1..127.0.0.k (loopback only).
func sourceAddr(target *url.URL, i, k int) *net.TCPAddr {
	ip := net.ParseIP(target.Hostname())
	if ip == nil || !ip.IsLoopback() || ip.To4() == nil || k <= 1 {
		return nil
	}
	return &net.TCPAddr{IP: net.IPv4(127, 0, byte((1+i%k)>>8), byte(1+i%k))}
}

type connsOpts struct {
	url                   string
	n, sources, conc      int
	admin                 string
	settle, hold, timeout time.Duration
	hunt, hunts           string
	fanout                int
	secret, prefix        string
	readBuf               int
	pos                   int64 // the hunt's stream position to follow from
}

func benchConns(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("veltrix bench conns", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, benchUsage) }
	var o connsOpts
	fs.StringVar(&o.url, "url", "ws://127.0.0.1:8080/ws", "gateway URL")
	fs.IntVar(&o.n, "n", 1000, "connections to open")
	fs.IntVar(&o.sources, "sources", 0, "source addresses 127.0.0.1..127.0.0.K (default: one per 500 connections, at least 8)")
	fs.IntVar(&o.conc, "concurrency", 128, "handshakes in flight")
	fs.StringVar(&o.admin, "admin", "", "the gateway's admin address (admin.listen), for its memory")
	fs.DurationVar(&o.settle, "settle", 10*time.Second, "wait after the last connection before measuring memory")
	fs.DurationVar(&o.hold, "hold", 0, "keep the connections this long after the measurements (other runs may broadcast)")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "per handshake")
	fs.StringVar(&o.hunt, "hunt", "", "follow this hunt's broadcasts (a resume: no join through the engine)")
	fs.StringVar(&o.hunts, "hunts", "configs/hunts", "hunt definitions, to find a beacon for --fanout")
	fs.IntVar(&o.fanout, "fanout", 0, "rounds of one discovery broadcast to every connection (needs --hunt and an engine)")
	fs.StringVar(&o.secret, "secret", "", "sign a token per player with this key (gateways with the token auth plugin)")
	fs.StringVar(&o.prefix, "prefix", "", "player id prefix (default random)")
	fs.IntVar(&o.readBuf, "read-buffer", 512, "client read buffer per connection")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.n < 1 || o.conc < 1 {
		return errors.New("bench conns: --n and --concurrency must be positive")
	}
	if o.fanout > 0 && o.hunt == "" {
		return errors.New("bench conns: --fanout needs --hunt")
	}
	if o.sources <= 0 {
		o.sources = max(8, (o.n+499)/500)
	}
	if o.prefix == "" {
		o.prefix = runID()
	}
	target, err := url.Parse(o.url)
	if err != nil {
		return fmt.Errorf("bench conns: --url: %w", err)
	}
	var before map[string]float64
	if o.admin != "" {
		if before, err = scrape(ctx, o.admin); err != nil {
			return err
		}
	}

	if o.hunt != "" {
		// Follow the hunt from its current position: a resume from 0 would
		// replay the hunt's recent events to every connection.
		if o.pos, err = o.streamPos(ctx); err != nil {
			return err
		}
	}
	conns := make([]*benchConn, o.n)
	var failed atomic.Int64
	var firstErr atomic.Value
	fmt.Fprintf(stderr, "opening %d connections to %s from %d source addresses, %d at a time\n", o.n, o.url, o.sources, o.conc)
	bar := startProgress(stderr, "connect", o.n)
	start := time.Now()
	idx := make(chan int)
	var wg sync.WaitGroup
	for range o.conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range idx {
				c, err := o.dialOne(ctx, target, i)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				} else {
					conns[i] = c
				}
				bar.add(1)
			}
		}()
	}
feed:
	for i := range o.n {
		select {
		case idx <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(idx)
	wg.Wait()
	elapsed := time.Since(start)
	bar.finish()
	open := o.n - int(failed.Load())
	defer closeAll(conns)
	if err, _ := firstErr.Load().(error); err != nil {
		fmt.Fprintf(stderr, "%d connections failed; the first: %v\n", failed.Load(), err)
	}
	if open == 0 {
		return errors.New("bench conns: no connection opened")
	}

	rows := [][2]string{
		row("connections", "%d open, %d failed", open, failed.Load()),
		row("source addresses", "%d", o.sources),
		row("time to open", "%s", elapsed.Round(time.Millisecond)),
		row("handshakes/s", "%.0f (welcome received; %d in flight)", float64(open)/elapsed.Seconds(), o.conc),
	}
	if o.admin != "" {
		select {
		case <-time.After(o.settle):
		case <-ctx.Done():
		}
		after, err := scrape(ctx, o.admin)
		if err != nil {
			return err
		}
		per := func(k string) float64 { return (after[k] - before[k]) / float64(open) }
		rows = append(rows,
			row("gateway connections", "%.0f", after["veltrix_gateway_connections"]),
			row("gateway RSS", "%s before, %s after (settled %s)", mb(before["process_resident_memory_bytes"]), mb(after["process_resident_memory_bytes"]), o.settle),
			row("RSS per connection", "%s", kb(per("process_resident_memory_bytes"))),
			row("Go heap in use per connection", "%s", kb(per("go_memstats_heap_inuse_bytes"))),
			row("Go heap live+garbage per conn", "%s (heap_alloc)", kb(per("go_memstats_heap_alloc_bytes"))),
			row("goroutine stacks per connection", "%s", kb(per("go_memstats_stack_inuse_bytes"))),
			row("goroutines per connection", "%.2f", per("go_goroutines")),
		)
	}
	if o.fanout > 0 {
		frows, err := o.fanoutRounds(ctx, conns, stderr)
		if err != nil {
			return err
		}
		rows = append(rows, frows...)
	}
	table(stdout, fmt.Sprintf("bench conns: %d idle players on %s", o.n, o.url), rows)
	if o.hold > 0 {
		fmt.Fprintf(stderr, "holding the connections for %s\n", o.hold)
		select {
		case <-time.After(o.hold):
		case <-ctx.Done():
		}
		table(stdout, "broadcasts received while holding", append(broadcastRows(conns, 0), closeRows(conns)...))
	}
	return nil
}

// closeRows counts the connections the gateway closed, by close code.
func closeRows(conns []*benchConn) [][2]string {
	codes := map[int32]int{}
	for _, c := range conns {
		if c != nil {
			if code := c.closed.Load(); code != 0 {
				codes[code]++
			}
		}
	}
	if len(codes) == 0 {
		return [][2]string{row("closed by the gateway", "none")}
	}
	var parts []string
	for code, n := range codes {
		parts = append(parts, fmt.Sprintf("%d with code %d", n, code))
	}
	sort.Strings(parts)
	return [][2]string{row("closed by the gateway", "%s", strings.Join(parts, ", "))}
}

func (o *connsOpts) dialOne(ctx context.Context, target *url.URL, i int) (*benchConn, error) {
	u := *target
	q := u.Query()
	player := fmt.Sprintf("%s-%d", o.prefix, i)
	h := http.Header{}
	if o.secret != "" {
		tok, err := token.Issue([]byte(o.secret), token.Claims{Subject: player, ExpiresAt: time.Now().Add(24 * time.Hour).Unix()})
		if err != nil {
			return nil, err
		}
		h.Set("Authorization", "Bearer "+tok)
	} else {
		q.Set("player", player)
	}
	u.RawQuery = q.Encode()
	src := sourceAddr(target, i, o.sources)
	bc := &benchConn{signal: make(chan struct{}, 2)}
	var conn *gws.Conn
	var err error
	for attempt := 0; ; attempt++ {
		var resp *http.Response
		conn, resp, err = gws.NewClient(bc, &gws.ClientOption{
			Addr: u.String(), RequestHeader: h, HandshakeTimeout: o.timeout,
			ReadBufferSize: o.readBuf, ReadMaxPayloadSize: 1 << 20,
			NewDialer: func() (gws.Dialer, error) {
				return &net.Dialer{Timeout: o.timeout, LocalAddr: src}, nil
			},
		})
		if err == nil {
			break
		}
		// A gateway that says "later" (handshake rate, starting) is retried.
		if resp != nil && resp.StatusCode == http.StatusServiceUnavailable && attempt < 20 && ctx.Err() == nil {
			time.Sleep(time.Duration(50*(attempt+1)) * time.Millisecond)
			continue
		}
		if resp != nil {
			return nil, fmt.Errorf("%s: %w", resp.Status, err)
		}
		return nil, err
	}
	bc.conn = conn
	go conn.ReadLoop()
	wait := func(what string) error {
		select {
		case _, ok := <-bc.signal:
			if !ok {
				return fmt.Errorf("connection %d closed before its %s", i, what)
			}
			return nil
		case <-time.After(o.timeout):
			_ = conn.WriteClose(1000, nil)
			return fmt.Errorf("connection %d: no %s within %s", i, what, o.timeout)
		}
	}
	if err := wait("welcome"); err != nil {
		return nil, err
	}
	if o.hunt != "" {
		if err := conn.WriteString(fmt.Sprintf(`{"type":"resume","hunt":%q,"pos":%d}`, o.hunt, o.pos)); err != nil {
			return nil, err
		}
		if err := wait("resumed"); err != nil {
			return nil, err
		}
	}
	return bc, nil
}

// streamPos asks the gateway where the hunt's event stream is now.
func (o *connsOpts) streamPos(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	opts := client.Options{Player: o.prefix + "-probe", Buffer: 512}
	if o.secret != "" {
		tok, err := token.Issue([]byte(o.secret), token.Claims{Subject: opts.Player, ExpiresAt: time.Now().Add(time.Hour).Unix()})
		if err != nil {
			return 0, err
		}
		opts = client.Options{Header: http.Header{"Authorization": {"Bearer " + tok}}, Buffer: 512}
	}
	c, err := client.Dial(ctx, o.url, opts)
	if err != nil {
		return 0, fmt.Errorf("bench conns: %w", err)
	}
	defer c.Close()
	if err := c.Resume(o.hunt, 0); err != nil {
		return 0, err
	}
	for {
		m, err := c.Next(ctx)
		if err != nil {
			return 0, fmt.Errorf("bench conns: no answer to resume: %w", err)
		}
		if m.Type == protocol.TypeResumed {
			return m.Pos, nil
		}
	}
}

func closeAll(conns []*benchConn) {
	for _, c := range conns {
		if c != nil {
			_ = c.conn.WriteClose(1000, nil)
		}
	}
}

// fanoutRounds has a player discover a beacon, R times: each discovery
// broadcasts the leaderboard to every connection.
func (o *connsOpts) fanoutRounds(ctx context.Context, conns []*benchConn, stderr io.Writer) ([][2]string, error) {
	h, err := huntdef.Load(filepath.Join(o.hunts, o.hunt+".yaml"))
	if err != nil {
		return nil, fmt.Errorf("bench conns: --fanout needs the hunt's beacons: %w", err)
	}
	if len(h.Beacons) == 0 {
		return nil, fmt.Errorf("bench conns: hunt %s has no beacons", o.hunt)
	}
	b := h.Beacons[0]
	var rows [][2]string
	var lasts []time.Duration
	for r := 1; r <= o.fanout; r++ {
		ts, err := o.trigger(ctx, fmt.Sprintf("%s-trigger-%d", o.prefix, r), b, conns)
		if err != nil {
			return nil, err
		}
		lat, got := waitBroadcast(ctx, conns, ts, 60*time.Second)
		if len(lat) == 0 {
			return nil, fmt.Errorf("bench conns: round %d: no connection received the leaderboard", r)
		}
		spread := lat[len(lat)-1] - lat[0]
		fmt.Fprintf(stderr, "fan-out round %d: %d/%d received; first %s, p50 %s, p99 %s, last %s after the move (spread %s)\n",
			r, got, countOpen(conns), ms(lat[0]), ms(percentile(lat, 50)), ms(percentile(lat, 99)), ms(lat[len(lat)-1]), ms(spread))
		lasts = append(lasts, lat[len(lat)-1])
		rows = append(rows, row(fmt.Sprintf("fan-out round %d", r), "%d/%d got it; p50 %s, p99 %s, last %s (first→last %s)",
			got, countOpen(conns), ms(percentile(lat, 50)), ms(percentile(lat, 99)), ms(lat[len(lat)-1]), ms(spread)))
	}
	sort.Slice(lasts, func(i, j int) bool { return lasts[i] < lasts[j] })
	rows = append(rows, row("fan-out: until the last one has it", "median %s over %d rounds (from the discovering move at the gateway)", ms(percentile(lasts, 50)), len(lasts)))
	return rows, nil
}

func countOpen(conns []*benchConn) int {
	n := 0
	for _, c := range conns {
		if c != nil {
			n++
		}
	}
	return n
}

// trigger joins a fresh player and moves it onto beacon b; it returns the
// ts of that move (the discovery's leaderboard carries it). The join
// broadcasts a leaderboard too: the move waits until that one has reached
// every connection, so that each round times one broadcast alone.
func (o *connsOpts) trigger(ctx context.Context, player string, b huntdef.Beacon, conns []*benchConn) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	h := http.Header{}
	opts := client.Options{Player: player, Buffer: 256}
	if o.secret != "" {
		tok, err := token.Issue([]byte(o.secret), token.Claims{Subject: player, ExpiresAt: time.Now().Add(time.Hour).Unix()})
		if err != nil {
			return 0, err
		}
		h.Set("Authorization", "Bearer "+tok)
		opts = client.Options{Header: h, Buffer: 256}
	}
	c, err := client.Dial(ctx, o.url, opts)
	if err != nil {
		return 0, fmt.Errorf("bench conns: trigger player: %w", err)
	}
	defer c.Close()
	result := func(seq uint64) (protocol.ServerMessage, error) {
		for {
			m, err := c.Next(ctx)
			if err != nil {
				return m, fmt.Errorf("bench conns: trigger player, waiting for result %d: %w", seq, err)
			}
			if m.Type == protocol.TypeResult && m.Seq == seq {
				if m.OK == nil || !*m.OK {
					return m, fmt.Errorf("bench conns: trigger player: action %d refused: %s", seq, m.Reason)
				}
				return m, nil
			}
		}
	}
	if err := c.Send(protocol.ClientMessage{Type: protocol.TypeJoin, Hunt: o.hunt, Seq: 1}); err != nil {
		return 0, err
	}
	jr, err := result(1)
	if err != nil {
		return 0, err
	}
	waitBroadcast(ctx, conns, jr.TS, 60*time.Second)
	if err := c.Send(protocol.ClientMessage{Type: protocol.TypeMove, Seq: 2, Lat: b.Lat, Lon: b.Lon, At: time.Now().UnixMilli()}); err != nil {
		return 0, err
	}
	m, err := result(2)
	if err != nil {
		return 0, err
	}
	return m.TS, nil
}

// waitBroadcast waits until every connection has the leaderboard of ts (or
// the timeout) and returns the sorted latencies from ts.
func waitBroadcast(ctx context.Context, conns []*benchConn, ts int64, timeout time.Duration) ([]time.Duration, int) {
	deadline := time.Now().Add(timeout)
	want := countOpen(conns)
	var lat []time.Duration
	for {
		lat = lat[:0]
		for _, c := range conns {
			if c == nil {
				continue
			}
			if at := c.arrivedAt(ts); at != 0 {
				lat = append(lat, time.Duration(at-ts*int64(time.Millisecond)))
			}
		}
		if len(lat) >= want || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat, len(lat)
}

// broadcastRows summarises every leaderboard the connections received
// (since, unix ms), for runs where another process triggered them.
func broadcastRows(conns []*benchConn, since int64) [][2]string {
	by := map[int64][]time.Duration{}
	for _, c := range conns {
		if c == nil {
			continue
		}
		c.mu.Lock()
		for _, a := range c.boards {
			if a.ts > since {
				by[a.ts] = append(by[a.ts], time.Duration(a.at-a.ts*int64(time.Millisecond)))
			}
		}
		c.mu.Unlock()
	}
	tss := make([]int64, 0, len(by))
	for ts := range by {
		tss = append(tss, ts)
	}
	sort.Slice(tss, func(i, j int) bool { return tss[i] < tss[j] })
	var rows [][2]string
	open := countOpen(conns)
	for _, ts := range tss {
		lat := by[ts]
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		rows = append(rows, row(time.UnixMilli(ts).Format("15:04:05.000"), "%d/%d got it; p50 %s, p99 %s, last %s",
			len(lat), open, ms(percentile(lat, 50)), ms(percentile(lat, 99)), ms(lat[len(lat)-1])))
	}
	if len(rows) == 0 {
		rows = append(rows, row("broadcasts", "none"))
	}
	return rows
}
