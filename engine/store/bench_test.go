package store

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

func BenchmarkSessionsGet(b *testing.B) {
	s := openTestSessions(b, NewFakeClock(t0))
	var ws []Write
	for i := range 10000 {
		ws = append(ws, Write{Key: fmt.Appendf(nil, "session/%05d", i), Value: make([]byte, 256), ExpiresAt: ms(t0.Add(30 * time.Minute))})
	}
	if err := s.Commit(ws); err != nil {
		b.Fatal(err)
	}
	keys := make([][]byte, len(ws))
	for i, w := range ws {
		keys[i] = w.Key
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok, err := s.Get(keys[i%len(keys)]); err != nil || !ok {
			b.Fatal(err, ok)
		}
		i++
	}
}

func BenchmarkSessionsCommit10(b *testing.B) {
	s := openTestSessions(b, NewFakeClock(t0))
	ws := make([]Write, 10)
	val := make([]byte, 256)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		for j := range ws {
			ws[j] = Write{Key: fmt.Appendf(ws[j].Key[:0], "session/%05d", (i*10+j)%10000), Value: val, ExpiresAt: ms(t0.Add(30 * time.Minute))}
		}
		if err := s.Commit(ws); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// One player's 100 rows out of 10,000 in a hunt of 100 players.
func BenchmarkAuditQueryPlayer(b *testing.B) {
	a := openTestAudit(b, NewFakeClock(t0))
	data := []byte(`{"lat":48.8566,"lon":2.3522,"reason":"too_fast"}`)
	for batch := range 100 {
		rows := make([]Row, 100)
		for i := range rows {
			n := batch*100 + i
			rows[i] = Row{Hunt: "hunt-1", Player: fmt.Sprintf("player-%03d", n%100), TS: ms(t0) + int64(n),
				Offset: int64(n), Kind: "move_rejected", Data: data}
		}
		if err := a.Append(rows); err != nil {
			b.Fatal(err)
		}
	}
	if err := a.CompactExpired(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := a.Query(Query{Hunt: "hunt-1", Player: "player-042"}, func(Row) bool { n++; return true }); err != nil || n != 100 {
			b.Fatal(err, n)
		}
	}
}

// sessionValue is a session row of the engine's size (~250 bytes), different
// for each i so compression does not flatter the figures.
func sessionValue(i int) []byte {
	return fmt.Appendf(nil, `{"at":%d,"found":{"b%d":%d},"id":"p-%016x","lat":%.6f,"lon":%.6f,"moves":%d,"score":%d,"joined_at":%d}`,
		1893456000000+int64(i)*997, i%50, 1893456000000+int64(i)*13, uint64(i)*0x9e3779b97f4a7c15, 38+float64(i%1000)/1000, -9-float64(i%777)/777,
		i%500, i%1000, 1893450000000+int64(i)*7)
}

// openSessions20k opens a sessions store holding 20,000 live sessions, as
// after a restart (flushed to SST files, not in the memtable).
func openSessions20k(b *testing.B) (*Sessions, [][]byte) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "sessions")
	s, err := OpenSessions(SessionsOptions{Path: path, Clock: NewFakeClock(t0)})
	if err != nil {
		b.Fatal(err)
	}
	keys := make([][]byte, 20000)
	var ws []Write
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "s/harbour/p-%05d", i)
		ws = append(ws, Write{Key: keys[i], Value: sessionValue(i), ExpiresAt: ms(t0.Add(30 * time.Minute))})
	}
	if err := s.Commit(ws); err != nil {
		b.Fatal(err)
	}
	s.Close()
	if s, err = OpenSessions(SessionsOptions{Path: path, Clock: NewFakeClock(t0)}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	rand.New(rand.NewPCG(1, 1)).Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	return s, keys
}

// Reads of 20,000 live sessions in random order, one goroutine.
func BenchmarkSessionsGet20k(b *testing.B) {
	s, keys := openSessions20k(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok, err := s.Get(keys[i%len(keys)]); err != nil || !ok {
			b.Fatal(err, ok)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
}

// The same from as many goroutines as cores (the store is shared by the
// engine's partition workers).
func BenchmarkSessionsGet20kParallel(b *testing.B) {
	s, keys := openSessions20k(b)
	b.ReportAllocs()
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(7919))
		for pb.Next() {
			if _, ok, err := s.Get(keys[i%len(keys)]); err != nil || !ok {
				b.Fatal(err, ok)
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
}

// Batched writes: one Commit of n session rows (the engine commits one
// batch per poll: the state rows, offsets and outbox of many actions).
func BenchmarkSessionsCommitBatch(b *testing.B) {
	for _, n := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			s := openTestSessions(b, NewFakeClock(t0))
			vals := make([][]byte, 20000)
			for i := range vals {
				vals[i] = sessionValue(i)
			}
			ws := make([]Write, n)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				for j := range ws {
					k := (i*n + j) % len(vals)
					ws[j] = Write{Key: fmt.Appendf(ws[j].Key[:0], "s/harbour/p-%05d", k), Value: vals[k], ExpiresAt: ms(t0.Add(30 * time.Minute))}
				}
				if err := s.Commit(ws); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// One player's 90 days in an audit store of 1,000,000 rows: the player has
// a row every 5 minutes for 90 days (25,920 rows) among 1,000 players of
// the same hunt. Sub-benchmarks query the 90 days, one day, and the whole
// hunt for one hour.
func BenchmarkAuditQuery90Days(b *testing.B) {
	const (
		total   = 1_000_000
		players = 1000
		span    = 90 * 24 * time.Hour
		every   = 5 * time.Minute
	)
	now := t0
	clock := NewFakeClock(now)
	a := openTestAudit(b, clock)
	start := now.Add(-span + time.Hour)
	mine := int(span / every) // 25,920
	rng := rand.New(rand.NewPCG(3, 4))
	data := []byte(`{"type":"move","seq":1234,"ok":true,"lat":38.705851,"lon":-9.144803,"at":1893456000000}`)
	rows := make([]Row, 0, 10000)
	flush := func() {
		if err := a.Append(rows); err != nil {
			b.Fatal(err)
		}
		rows = rows[:0]
	}
	for i := range total {
		var r Row
		if i < mine {
			r = Row{Player: "p-0042", TS: ms(start.Add(time.Duration(i) * every))}
		} else {
			r = Row{Player: fmt.Sprintf("p-%04d", rng.IntN(players)), TS: ms(start) + rng.Int64N(span.Milliseconds()-3600_000)}
		}
		r.Hunt, r.Kind, r.Data, r.Partition, r.Offset = "harbour", "action", data, 1, int64(i)
		rows = append(rows, r)
		if len(rows) == cap(rows) {
			flush()
		}
	}
	flush()
	if err := a.CompactExpired(); err != nil { // as the store is after a day's compaction
		b.Fatal(err)
	}
	for _, q := range []struct {
		name string
		q    Query
		min  int
	}{
		{"player-90d", Query{Hunt: "harbour", Player: "p-0042"}, mine},
		{"player-1d", Query{Hunt: "harbour", Player: "p-0042", Since: ms(now.Add(-24 * time.Hour)), Until: ms(now)}, 280},
		{"hunt-1h", Query{Hunt: "harbour", Since: ms(now.Add(-25 * time.Hour)), Until: ms(now.Add(-24 * time.Hour))}, 400},
	} {
		b.Run(q.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				n = 0
				if err := a.Query(q.q, func(Row) bool { n++; return true }); err != nil {
					b.Fatal(err)
				}
			}
			if n < q.min {
				b.Fatalf("%d rows, want at least %d", n, q.min)
			}
			b.ReportMetric(float64(n), "rows/op")
		})
	}
}
