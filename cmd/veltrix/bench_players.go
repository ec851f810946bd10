package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/veltrix/veltrix/engine/client"
	"github.com/veltrix/veltrix/engine/protocol"
	"github.com/veltrix/veltrix/games/treasurehunt/gpx"
	"github.com/veltrix/veltrix/plugins/auth/token"
)

type playersOpts struct {
	url, tracks, secret, prefix string
	hunts                       []string
	n, moves, window, sources   int
	speed                       float64
	ramp, duration              time.Duration
}

// playerStats is what one player saw.
type playerStats struct {
	latencies   []time.Duration
	accepted    int
	rejected    map[string]int
	discoveries int
	boards      int
	boardLat    []time.Duration
	err         error
}

func benchPlayers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("veltrix bench players", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, benchUsage) }
	var o playersOpts
	var hunts string
	fs.StringVar(&o.url, "url", "ws://127.0.0.1:8080/ws", "gateway URL")
	fs.IntVar(&o.n, "n", 100, "players")
	fs.StringVar(&o.tracks, "tracks", "", "directory of GPX tracks (required)")
	fs.StringVar(&hunts, "hunt", "harbour", "hunt id(s), comma separated: players are spread over them")
	fs.Float64Var(&o.speed, "speed", 10, "replay speed: 1 the recorded pace, 10 ten times faster, 0 as fast as the answers come")
	fs.IntVar(&o.moves, "moves", 60, "moves per player (0: the whole track)")
	fs.IntVar(&o.window, "window", 8, "moves awaiting their result, per player (speed 0)")
	fs.IntVar(&o.sources, "sources", 0, "source addresses 127.0.0.1..127.0.0.K (default: one per 500 players, at least 8)")
	fs.DurationVar(&o.ramp, "ramp", 5*time.Second, "spread the players' starts over this time")
	fs.DurationVar(&o.duration, "duration", 10*time.Minute, "stop after this long")
	fs.StringVar(&o.secret, "secret", "", "sign a token per player with this key (token auth plugin)")
	fs.StringVar(&o.prefix, "prefix", "", "player id prefix (default random)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.tracks == "" || o.n < 1 {
		return errors.New("bench players: --tracks DIR and a positive --n are required")
	}
	o.hunts = strings.Split(hunts, ",")
	if o.sources <= 0 {
		o.sources = max(8, (o.n+499)/500)
	}
	if o.prefix == "" {
		o.prefix = runID()
	}
	tracks, names, err := loadTracks(o.tracks)
	if err != nil {
		return err
	}
	target, err := url.Parse(o.url)
	if err != nil {
		return fmt.Errorf("bench players: --url: %w", err)
	}
	total := 0
	plan := make([][]gpx.Point, o.n)
	for i := range plan {
		tr := tracks[i%len(tracks)]
		// Each player starts somewhere else on its track (without running
		// off its end when the track is long enough).
		room := len(tr)
		if o.moves > 0 && o.moves < len(tr) {
			room = len(tr) - o.moves
		}
		off := (i / len(tracks) * 37) % room
		pts := append(append([]gpx.Point{}, tr[off:]...), tr[:off]...)
		if off > 0 { // the part before the start comes after the end: shift its times
			shift := tr[len(tr)-1].Time.Sub(tr[0].Time) + time.Second
			for j := len(tr) - off; j < len(pts); j++ {
				pts[j].Time = pts[j].Time.Add(shift)
			}
		}
		if o.moves > 0 && len(pts) > o.moves {
			pts = pts[:o.moves]
		}
		plan[i] = pts
		total += len(pts)
	}
	fmt.Fprintf(stderr, "%d players on %s along %d tracks (%s), hunts %s, speed %g, %d moves\n",
		o.n, o.url, len(tracks), strings.Join(names, ", "), strings.Join(o.hunts, ","), o.speed, total)
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	bar := startProgress(stderr, "moves", total)
	stats := make([]*playerStats, o.n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range o.n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			delay := time.Duration(int64(o.ramp) * int64(i) / int64(o.n))
			select {
			case <-time.After(delay):
			case <-ctx.Done():
			}
			stats[i] = o.play(ctx, target, i, plan[i], bar)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	bar.finish()

	var lat, boardLat []time.Duration
	rejected := map[string]int{}
	accepted, discoveries, boards, failed := 0, 0, 0, 0
	var firstErr error
	for _, s := range stats {
		lat = append(lat, s.latencies...)
		boardLat = append(boardLat, s.boardLat...)
		accepted += s.accepted
		discoveries += s.discoveries
		boards += s.boards
		for k, v := range s.rejected {
			rejected[k] += v
		}
		if s.err != nil {
			failed++
			if firstErr == nil {
				firstErr = s.err
			}
		}
	}
	if firstErr != nil {
		fmt.Fprintf(stderr, "%d players stopped early; the first: %v\n", failed, firstErr)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	sort.Slice(boardLat, func(i, j int) bool { return boardLat[i] < boardLat[j] })
	var rej []string
	for k, v := range rejected {
		rej = append(rej, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(rej)
	rows := [][2]string{
		row("players", "%d (%d stopped early)", o.n, failed),
		row("moves answered", "%d of %d in %s (%.0f/s)", len(lat), total, elapsed.Round(time.Millisecond), float64(len(lat))/elapsed.Seconds()),
		row("accepted / rejected", "%d / %d %s", accepted, len(lat)-accepted, strings.Join(rej, ", ")),
		row("discoveries", "%d", discoveries),
	}
	if len(lat) > 0 {
		rows = append(rows,
			row("move → result p50", "%s", ms(percentile(lat, 50))),
			row("move → result p90", "%s", ms(percentile(lat, 90))),
			row("move → result p99", "%s", ms(percentile(lat, 99))),
			row("move → result max", "%s", ms(lat[len(lat)-1])))
	}
	if len(boardLat) > 0 {
		rows = append(rows, row("leaderboards received", "%d; from the causing action p50 %s, p99 %s",
			boards, ms(percentile(boardLat, 50)), ms(percentile(boardLat, 99))))
	}
	table(stdout, fmt.Sprintf("bench players: %d players along GPX tracks at speed %g", o.n, o.speed), rows)
	if len(lat) == 0 {
		return errors.New("bench players: no move was answered")
	}
	return nil
}

// loadTracks reads the track points of every GPX file of dir that has a track.
func loadTracks(dir string) ([][]gpx.Point, []string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.gpx"))
	if err != nil {
		return nil, nil, err
	}
	var tracks [][]gpx.Point
	var names []string
	for _, f := range files {
		g, err := gpx.ParseFile(f)
		if err != nil {
			return nil, nil, err
		}
		pts := g.TrackPoints()
		if len(pts) < 2 || pts[0].Time.IsZero() {
			continue // waypoints only, or no times: not a walk to replay
		}
		tracks = append(tracks, pts)
		names = append(names, fmt.Sprintf("%s %d points", filepath.Base(f), len(pts)))
	}
	if len(tracks) == 0 {
		return nil, nil, fmt.Errorf("bench players: no GPX file with a timed track in %s", dir)
	}
	return tracks, names, nil
}

// play is one player: join, then the moves, paced by the track's times.
func (o *playersOpts) play(ctx context.Context, target *url.URL, i int, pts []gpx.Point, bar *progress) *playerStats {
	st := &playerStats{rejected: map[string]int{}}
	player := fmt.Sprintf("%s-%d", o.prefix, i)
	hunt := o.hunts[i%len(o.hunts)]
	opts := client.Options{Player: player, Buffer: 256, ReadBufferSize: 1024, LocalAddr: sourceAddr(target, i, o.sources)}
	if o.secret != "" {
		tok, err := token.Issue([]byte(o.secret), token.Claims{Subject: player, ExpiresAt: time.Now().Add(24 * time.Hour).Unix()})
		if err != nil {
			st.err = err
			return st
		}
		opts.Player, opts.Header = "", http.Header{"Authorization": {"Bearer " + tok}}
	}
	c, err := client.Dial(ctx, o.url, opts)
	if err != nil {
		st.err = err
		bar.add(len(pts))
		return st
	}
	defer c.Close()

	var mu sync.Mutex
	sent := map[uint64]time.Time{}
	slots := make(chan struct{}, max(o.window, 1))
	answered := make(chan struct{}) // the join's result
	var joinOnce sync.Once
	var readErr atomic.Value
	done := make(chan struct{})
	go func() { // the reader: results, discoveries, leaderboards
		defer close(done)
		for {
			m, err := c.Next(ctx)
			if err != nil {
				readErr.Store(err)
				return
			}
			switch m.Type {
			case protocol.TypeResult:
				if m.Seq == 1 {
					if m.OK == nil || !*m.OK {
						readErr.Store(fmt.Errorf("join %s refused: %s", hunt, m.Reason))
					}
					joinOnce.Do(func() { close(answered) })
					continue
				}
				mu.Lock()
				t0, ok := sent[m.Seq]
				delete(sent, m.Seq)
				if ok {
					st.latencies = append(st.latencies, time.Since(t0))
					if m.OK != nil && *m.OK {
						st.accepted++
					} else {
						st.rejected[m.Reason]++
					}
				}
				left := len(sent)
				mu.Unlock()
				if ok {
					bar.add(1)
					<-slots
				}
				if left == 0 && m.Seq == uint64(len(pts)+1) {
					return
				}
			case protocol.TypeError:
				mu.Lock()
				_, ok := sent[m.Seq]
				delete(sent, m.Seq)
				if ok {
					st.rejected["gateway:"+m.Code]++
				}
				mu.Unlock()
				if ok {
					bar.add(1)
					<-slots
				}
			case "discovery":
				st.discoveries++
			case "leaderboard":
				st.boards++
				if m.TS > 0 {
					st.boardLat = append(st.boardLat, time.Since(time.UnixMilli(m.TS)))
				}
			}
		}
	}()
	if err := c.Send(protocol.ClientMessage{Type: protocol.TypeJoin, Hunt: hunt, Seq: 1}); err != nil {
		st.err = err
		return st
	}
	select {
	case <-answered:
	case <-done:
	case <-ctx.Done():
	}
	if e, _ := readErr.Load().(error); e != nil {
		st.err = e
		bar.add(len(pts))
		return st
	}
	start := time.Now()
	t0 := pts[0].Time
	for k, p := range pts {
		if o.speed > 0 && k > 0 {
			due := start.Add(time.Duration(float64(p.Time.Sub(t0)) / o.speed))
			select {
			case <-time.After(time.Until(due)):
			case <-ctx.Done():
			}
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		case <-done:
		}
		if ctx.Err() != nil || isDone(done) {
			break
		}
		seq := uint64(k + 2)
		mu.Lock()
		sent[seq] = time.Now()
		mu.Unlock()
		if err := c.Send(protocol.ClientMessage{Type: protocol.TypeMove, Seq: seq, Lat: p.Lat, Lon: p.Lon, At: p.Time.UnixMilli()}); err != nil {
			st.err = err
			break
		}
	}
	<-done // the reader ends with the last result, or with ctx
	if e, _ := readErr.Load().(error); e != nil && st.err == nil && !errors.Is(e, context.Canceled) {
		mu.Lock()
		if len(sent) > 0 {
			st.err = fmt.Errorf("player %d: %d moves unanswered: %w", i, len(sent), e)
		}
		mu.Unlock()
	}
	return st
}

func isDone(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
