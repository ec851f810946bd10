package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
)

// The latency benchmark's load worker: it shares the 2-core machine with
// what it measures, so it is built to cost little per move. Each player is a
// bare gws connection whose read loop finds the seq of a result with a byte
// scan; a few sender goroutines walk the players in the order of their
// phase, instead of one sleeping goroutine per player; move frames are
// written with strconv.Append into a reused buffer. (engine/client, for
// tests and tools, decodes every message and hands it over a channel.)

// loadPlayer is one simulated player's connection.
type loadPlayer struct {
	conn    *gws.Conn
	welcome chan struct{}
	once    sync.Once
	sentAt  [64]atomic.Int64 // unix ns a seq was sent, by seq%64; moves are 1 s apart
	lat     []int32          // microseconds; written by the read loop only
	rej     int
	pending *atomic.Int64 // the worker's moves sent and not answered
	closed  chan struct{}
}

func (p *loadPlayer) OnOpen(*gws.Conn) {}
func (p *loadPlayer) OnClose(*gws.Conn, error) {
	close(p.closed)
	p.once.Do(func() { close(p.welcome) })
}
func (p *loadPlayer) OnPing(c *gws.Conn, b []byte) { _ = c.WritePong(b) }
func (p *loadPlayer) OnPong(*gws.Conn, []byte)     {}

var (
	resultTag  = []byte(`"type":"result"`)
	seqTag     = []byte(`"seq":`)
	okTrue     = []byte(`"ok":true`)
	welcomeTag = []byte(`"type":"welcome"`)
	dupTag     = []byte(`"duplicate":true`)
)

func (p *loadPlayer) OnMessage(_ *gws.Conn, m *gws.Message) {
	defer m.Close()
	b := m.Bytes()
	if !bytes.Contains(b, resultTag) {
		if bytes.Contains(b, welcomeTag) {
			p.once.Do(func() { close(p.welcome) })
		}
		return
	}
	if bytes.Contains(b, dupTag) {
		return
	}
	i := bytes.Index(b, seqTag)
	if i < 0 {
		return
	}
	j := i + len(seqTag)
	k := j
	for k < len(b) && b[k] >= '0' && b[k] <= '9' {
		k++
	}
	seq, _ := strconv.ParseUint(string(b[j:k]), 10, 64)
	if seq <= 1 {
		return // the join
	}
	t0 := p.sentAt[seq%64].Swap(0)
	if t0 == 0 {
		return
	}
	p.lat = append(p.lat, int32((time.Now().UnixNano()-t0)/1000))
	if !bytes.Contains(b, okTrue) {
		p.rej++
	}
	p.pending.Add(-1)
}

// loadWorker runs in a re-executed test binary: n players connect to the
// gateway URLs (round robin) and join; from the start time each moves once a
// second for the duration, at a random phase; moves go nowhere near a
// beacon. It prints a loadReport.
func loadWorker(args []string) int {
	n, _ := strconv.Atoi(args[0])
	first, _ := strconv.Atoi(args[1])
	dur, _ := time.ParseDuration(args[2])
	urls := strings.Split(args[3], ",")
	hunts, _ := strconv.Atoi(args[4])
	startMs, _ := strconv.ParseInt(args[5], 10, 64)
	ctx, cancel := context.WithTimeout(context.Background(), dur+2*time.Minute)
	defer cancel()
	profileLoad()

	rep := loadReport{Players: n}
	var pending atomic.Int64
	players := make([]*loadPlayer, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64) // handshakes in flight
	var errs atomic.Int64
	for i := range players {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			p, err := dialLoad(ctx, urls[i%len(urls)], first+i, &pending)
			if err != nil {
				fmt.Fprintf(os.Stderr, "load worker: lp%06d: %v\n", first+i, err)
				errs.Add(1)
				return
			}
			hunt := fmt.Sprintf("h%03d", (first+i)%hunts)
			if err := p.conn.WriteString(`{"type":"join","hunt":"` + hunt + `","seq":1}`); err != nil {
				errs.Add(1)
				return
			}
			players[i] = p
		}(i)
	}
	wg.Wait()
	rep.Errors = int(errs.Load())

	// Each player's phase within the second; senders walk them in that order.
	type slot struct {
		p     *loadPlayer
		phase time.Duration
		lat0  float64
		lon0  float64
	}
	var slots []slot
	for i, p := range players {
		if p == nil {
			continue
		}
		rng := rand.New(rand.NewPCG(uint64(first+i), 7))
		lat0, lon0 := 10+rng.Float64(), 10+rng.Float64() // far from every beacon
		slots = append(slots, slot{p: p, phase: time.Duration(rng.Int64N(int64(time.Second))), lat0: lat0, lon0: lon0})
	}
	slices.SortFunc(slots, func(a, b slot) int { return int(a.phase - b.phase) })
	start := time.UnixMilli(startMs) // the parent measures CPU from then on
	if late := time.Until(start); late < time.Second {
		fmt.Fprintf(os.Stderr, "load worker: connecting took until %s before the start: moves start late, the CPU window is off\n", -late)
		start = time.Now().Add(time.Second)
	}
	end := start.Add(dur)
	const senders = 4
	var sent, unsent atomic.Int64
	var swg sync.WaitGroup
	for s := 0; s < senders; s++ {
		swg.Add(1)
		go func(s int) {
			defer swg.Done()
			var buf []byte
			for sec := 0; start.Add(time.Duration(sec) * time.Second).Before(end); sec++ {
				for i := s; i < len(slots); i += senders {
					sl := &slots[i]
					at := start.Add(time.Duration(sec)*time.Second + sl.phase)
					if !at.Before(end) {
						return
					}
					if d := time.Until(at); d > 0 {
						time.Sleep(d) // the players' pace: one move a second each
					}
					seq := uint64(sec + 2)
					buf = append(buf[:0], `{"type":"move","seq":`...)
					buf = strconv.AppendUint(buf, seq, 10)
					buf = append(buf, `,"lat":`...)
					buf = strconv.AppendFloat(buf, sl.lat0+float64(seq)*1e-5, 'f', -1, 64)
					buf = append(buf, `,"lon":`...)
					buf = strconv.AppendFloat(buf, sl.lon0, 'f', -1, 64)
					buf = append(buf, `,"at":`...)
					buf = strconv.AppendInt(buf, at.UnixMilli(), 10)
					buf = append(buf, '}')
					pending.Add(1)
					// Latency counts from when the player moved, so a sender
					// running late (the machine is saturated) is counted in.
					sl.p.sentAt[seq%64].Store(at.UnixNano())
					if err := sl.p.conn.WriteMessage(gws.OpcodeText, buf); err != nil {
						sl.p.sentAt[seq%64].Store(0)
						pending.Add(-1)
						unsent.Add(1)
						continue
					}
					sent.Add(1)
				}
			}
		}(s)
	}
	swg.Wait()
	// Everything answered, or 30 s more.
	deadline := time.Now().Add(30 * time.Second)
	for pending.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for _, sl := range slots {
		sl.p.conn.WriteClose(1000, nil)
	}
	for _, sl := range slots {
		select {
		case <-sl.p.closed:
		case <-time.After(5 * time.Second):
			_ = sl.p.conn.NetConn().Close()
			<-sl.p.closed
		}
		rep.Answered += len(sl.p.lat)
		rep.Rejected += sl.p.rej
		rep.Latencies = append(rep.Latencies, sl.p.lat...)
	}
	rep.Sent = int(sent.Load())
	rep.Unsent = int(unsent.Load())
	rep.Seconds = dur.Seconds()
	_ = json.NewEncoder(os.Stdout).Encode(rep)
	return 0
}

// dialLoad connects player i from its own 127.0.0.x source address (the
// gateway caps connections per address, as it would for real players),
// waits for its welcome, and retries handshakes the gateway refuses while
// everyone connects at once (503 over gateway.handshake_rate).
func dialLoad(ctx context.Context, rawURL string, i int, pending *atomic.Int64) (*loadPlayer, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	q.Set("player", fmt.Sprintf("lp%06d", i))
	u.RawQuery = q.Encode()
	local := sourceAddr(u, i, 64)
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		p := &loadPlayer{welcome: make(chan struct{}), closed: make(chan struct{}), pending: pending}
		opt := &gws.ClientOption{Addr: u.String(), HandshakeTimeout: 10 * time.Second, ReadBufferSize: 512}
		if local != nil {
			opt.NewDialer = func() (gws.Dialer, error) {
				return &net.Dialer{Timeout: 10 * time.Second, LocalAddr: local}, nil
			}
		}
		conn, _, err := gws.NewClient(p, opt)
		if err == nil {
			p.conn = conn
			go conn.ReadLoop()
			select {
			case <-p.welcome:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			select {
			case <-p.closed:
				err = fmt.Errorf("closed before its welcome")
			default:
				return p, nil
			}
		}
		if attempt == 10 || ctx.Err() != nil {
			return nil, err
		}
		time.Sleep(backoff + time.Duration(rand.Int64N(int64(backoff))))
		backoff = min(2*backoff, 2*time.Second)
	}
}
