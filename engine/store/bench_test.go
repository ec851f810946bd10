package store

import (
	"fmt"
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
