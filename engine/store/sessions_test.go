package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestSessionsExpiry(t *testing.T) {
	clock := NewFakeClock(t0)
	s := openTestSessions(t, clock)
	T := t0.Add(10 * time.Second)
	err := s.Commit([]Write{
		{Key: []byte("s/expiring"), Value: []byte("a"), ExpiresAt: ms(T)},
		{Key: []byte("s/never"), Value: []byte("b")},
		{Key: []byte("s/future"), Value: []byte("c"), ExpiresAt: ms(t0.Add(time.Hour))},
	})
	if err != nil {
		t.Fatal(err)
	}

	live := func() []string {
		var keys []string
		if err := s.Scan([]byte("s/"), func(k, _ []byte, _ int64) bool {
			keys = append(keys, string(k))
			return true
		}); err != nil {
			t.Fatal(err)
		}
		return keys
	}
	get := func(key string) (string, bool) {
		v, ok, err := s.Get([]byte(key))
		if err != nil {
			t.Fatal(err)
		}
		return string(v), ok
	}

	clock.Set(T.Add(-time.Millisecond))
	if v, ok := get("s/expiring"); !ok || v != "a" {
		t.Fatalf("before T: Get = %q, %v", v, ok)
	}
	if got := live(); len(got) != 3 {
		t.Fatalf("before T: Scan = %q", got)
	}

	clock.Set(T.Add(time.Second))
	if _, ok := get("s/expiring"); ok {
		t.Fatal("at T+1s: expired row still readable by Get")
	}
	if got, want := live(), []string{"s/future", "s/never"}; !slices.Equal(got, want) {
		t.Fatalf("at T+1s: Scan = %q, want %q", got, want)
	}
	// Expired is not gone: the row stays on disk until compaction.
	if keys := rawKeys(t, s.kv); len(keys) != 3 {
		t.Fatalf("before compaction: raw keys = %q", keys)
	}

	if err := s.CompactExpired(); err != nil {
		t.Fatal(err)
	}
	if got, want := rawKeys(t, s.kv), []string{"s/future", "s/never"}; !slices.Equal(got, want) {
		t.Fatalf("after compaction: raw keys = %q, want %q", got, want)
	}
	st := mustStats(t, s)
	if st.ExpiredDropped != 1 || st.CompactionsTriggered != 1 || st.EstimatedKeys != 2 || st.SSTBytes == 0 {
		t.Fatalf("stats = %+v", st)
	}
	for key, want := range map[string]string{"s/never": "b", "s/future": "c"} {
		if v, ok := get(key); !ok || v != want {
			t.Fatalf("after compaction: Get(%s) = %q, %v", key, v, ok)
		}
	}
}

func TestSessionsExpiryInstant(t *testing.T) {
	clock := NewFakeClock(t0)
	s := openTestSessions(t, clock)
	T := t0.Add(time.Minute)
	if err := s.Commit([]Write{{Key: []byte("k"), Value: []byte("v"), ExpiresAt: ms(T)}}); err != nil {
		t.Fatal(err)
	}
	clock.Set(T.Add(-time.Millisecond))
	if _, ok, _ := s.Get([]byte("k")); !ok {
		t.Fatal("unreadable 1ms before expiry")
	}
	clock.Set(T)
	if _, ok, _ := s.Get([]byte("k")); ok {
		t.Fatal("readable at its expiry instant")
	}
}

func TestSessionsCommit(t *testing.T) {
	s := openTestSessions(t, NewFakeClock(t0))
	key, val := []byte("k1"), []byte("v1")
	if err := s.Commit([]Write{{Key: key, Value: val}, {Key: []byte("gone"), Value: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	// The store copied the caller's buffers: reusing them changes nothing.
	copy(key, "zz")
	copy(val, "zz")
	got, ok, err := s.Get([]byte("k1"))
	if err != nil || !ok || string(got) != "v1" {
		t.Fatalf("Get = %q, %v, %v", got, ok, err)
	}
	// Nor does changing what Get returned.
	copy(got, "zz")
	if got, _, _ := s.Get([]byte("k1")); string(got) != "v1" {
		t.Fatalf("Get after changing a previous result = %q", got)
	}

	// Delete and put in one batch.
	if err := s.Commit([]Write{{Key: []byte("gone"), Delete: true}, {Key: []byte("k2"), Value: nil}}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Get([]byte("gone")); ok {
		t.Fatal("deleted key readable")
	}
	if v, ok, _ := s.Get([]byte("k2")); !ok || v == nil || len(v) != 0 {
		t.Fatalf("empty value: Get = %q (nil %v), %v", v, v == nil, ok)
	}
	if _, ok, _ := s.Get([]byte("missing")); ok {
		t.Fatal("missing key readable")
	}

	// A bad write fails the whole batch.
	err = s.Commit([]Write{{Key: []byte("k3"), Value: []byte("v")}, {Key: []byte("k4"), ExpiresAt: -1}})
	if err == nil {
		t.Fatal("negative expiry accepted")
	}
	if _, ok, _ := s.Get([]byte("k3")); ok {
		t.Fatal("a failed batch was partly applied")
	}
	if err := s.Commit(nil); err != nil {
		t.Fatalf("empty commit: %v", err)
	}
}

// Keys and values collected from Scan must not share memory: RocksDB reuses
// the iterator's buffers (PITFALLS: five keys all read the last one).
func TestSessionsScanCopies(t *testing.T) {
	s := openTestSessions(t, NewFakeClock(t0))
	var ws []Write
	for i := range 50 {
		ws = append(ws, Write{Key: fmt.Appendf(nil, "p/%02d", i), Value: fmt.Appendf(nil, "value-%02d", i)})
	}
	ws = append(ws,
		Write{Key: []byte("p"), Value: []byte("outside")},
		Write{Key: []byte("q/1"), Value: []byte("outside")},
		Write{Key: []byte("p0"), Value: []byte("outside")},
	)
	if err := s.Commit(ws); err != nil {
		t.Fatal(err)
	}
	var keys, vals [][]byte
	if err := s.Scan([]byte("p/"), func(k, v []byte, exp int64) bool {
		keys, vals = append(keys, k), append(vals, v) // kept without copying
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 50 {
		t.Fatalf("Scan gave %d rows, want 50", len(keys))
	}
	for i := range keys {
		if want := fmt.Sprintf("p/%02d", i); string(keys[i]) != want {
			t.Fatalf("key %d = %q, want %q", i, keys[i], want)
		}
		if want := fmt.Sprintf("value-%02d", i); string(vals[i]) != want {
			t.Fatalf("value %d = %q, want %q", i, vals[i], want)
		}
	}
	// Appending to a key must not write into its value.
	k0 := append(keys[0], 'X')
	if string(vals[0]) != "value-00" || string(k0) != "p/00X" {
		t.Fatalf("key and value share memory: %q %q", k0, vals[0])
	}

	// Early stop, and a prefix ending in 0xff.
	n := 0
	if err := s.Scan(nil, func(_, _ []byte, _ int64) bool { n++; return n < 3 }); err != nil || n != 3 {
		t.Fatalf("early stop: n=%d err=%v", n, err)
	}
	if err := s.Commit([]Write{{Key: []byte{0xff, 0xff, 1}, Value: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	n = 0
	if err := s.Scan([]byte{0xff}, func(_, _ []byte, _ int64) bool { n++; return true }); err != nil || n != 1 {
		t.Fatalf("0xff prefix: n=%d err=%v", n, err)
	}
}

func TestSessionsReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions")
	clock := NewFakeClock(t0)
	s, err := OpenSessions(SessionsOptions{Path: path, Clock: clock, Sync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit([]Write{{Key: []byte("offset/0"), Value: []byte("42")}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = OpenSessions(SessionsOptions{Path: path, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, ok, err := s.Get([]byte("offset/0")); err != nil || !ok || string(v) != "42" {
		t.Fatalf("after reopen: %q %v %v", v, ok, err)
	}
}

func TestSessionsClosed(t *testing.T) {
	s := openTestSessions(t, nil)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, _, err := s.Get([]byte("k"))
	checkClosed(t, "Get", err)
	checkClosed(t, "Commit", s.Commit([]Write{{Key: []byte("k")}}))
	checkClosed(t, "Scan", s.Scan(nil, func(_, _ []byte, _ int64) bool { return true }))
	checkClosed(t, "CompactExpired", s.CompactExpired())
	_, err = s.Stats()
	checkClosed(t, "Stats", err)
	checkClosed(t, "StartCompactor", s.StartCompactor(context.Background(), time.Second))
}

func checkClosed(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, ErrClosed) {
		t.Errorf("%s after Close: %v, want ErrClosed", what, err)
	}
}

// Readers, writers, compactions and a moving clock at once, then Close while
// they run: every call either works or returns ErrClosed. Run with -race.
func TestSessionsConcurrent(t *testing.T) {
	clock := NewFakeClock(t0)
	s := openTestSessions(t, clock)
	if err := s.StartCompactor(context.Background(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	run := func(f func(i int) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				if err := f(i); err != nil {
					if !errors.Is(err, ErrClosed) {
						errs <- err
					}
					return
				}
			}
		}()
	}
	for w := range 4 {
		run(func(i int) error {
			key := fmt.Appendf(nil, "w%d/%d", w, i%100)
			exp := ms(clock.Now().Add(time.Duration(i%5) * time.Second))
			return s.Commit([]Write{{Key: key, Value: key, ExpiresAt: exp}, {Key: fmt.Appendf(nil, "w%d/%d", w, (i+50)%100), Delete: true}})
		})
		run(func(i int) error {
			key := fmt.Appendf(nil, "w%d/%d", w, i%100)
			v, ok, err := s.Get(key)
			if err == nil && ok && !bytes.Equal(v, key) {
				err = fmt.Errorf("Get(%s) = %q", key, v)
			}
			return err
		})
	}
	run(func(int) error {
		return s.Scan([]byte("w1/"), func(k, v []byte, _ int64) bool {
			if !bytes.Equal(k, v) {
				errs <- fmt.Errorf("Scan: key %q has value %q", k, v)
			}
			return true
		})
	})
	run(func(int) error {
		clock.Advance(100 * time.Millisecond)
		if _, err := s.Stats(); err != nil {
			return err
		}
		return s.CompactExpired()
	})

	time.Sleep(300 * time.Millisecond)
	if st := mustStats(t, s); st.CompactionsTriggered == 0 || st.EstimatedKeys == 0 {
		t.Errorf("little happened: %+v", st)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// An idle store gets its expired rows dropped by the compactor, which runs a
// full compaction only when a row may have fallen due.
func TestSessionsCompactorIdleStore(t *testing.T) {
	clock := NewFakeClock(t0)
	s := openTestSessions(t, clock)
	var ws []Write
	for i := range 20 {
		ws = append(ws, Write{Key: fmt.Appendf(nil, "k%d", i), Value: []byte("v"), ExpiresAt: ms(t0.Add(time.Minute))})
	}
	ws = append(ws, Write{Key: []byte("keep"), Value: []byte("v")})
	if err := s.Commit(ws); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.StartCompactor(ctx, 2*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := s.StartCompactor(ctx, time.Millisecond); err == nil {
		t.Fatal("second compactor started")
	}
	// The first tick compacts: nothing is known about the store yet.
	eventually(t, "first compaction", func() bool { return mustStats(t, s).CompactionsTriggered == 1 })
	// Nothing is due for a minute: ticks pass without compacting.
	time.Sleep(50 * time.Millisecond)
	if st := mustStats(t, s); st.CompactionsTriggered != 1 || st.ExpiredDropped != 0 {
		t.Fatalf("compacted with nothing due: %+v", st)
	}
	clock.Advance(time.Minute)
	// The filter counts as it goes; the compaction is done when counted.
	eventually(t, "second compaction", func() bool { return mustStats(t, s).CompactionsTriggered == 2 })
	if st := mustStats(t, s); st.ExpiredDropped != 20 {
		t.Fatalf("after second compaction: %+v", st)
	}
	if keys := rawKeys(t, s.kv); !slices.Equal(keys, []string{"keep"}) {
		t.Fatalf("raw keys = %q", keys)
	}

	// A later write that expires makes the compactor run again.
	if err := s.Commit([]Write{{Key: []byte("late"), Value: []byte("v"), ExpiresAt: ms(clock.Now().Add(time.Second))}}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second)
	eventually(t, "third compaction", func() bool { return mustStats(t, s).CompactionsTriggered == 3 })
	if st := mustStats(t, s); st.ExpiredDropped != 21 {
		t.Fatalf("after third compaction: %+v", st)
	}

	// Cancelling ctx stops it, and a new one may start.
	cancel()
	eventually(t, "compactor stopped", func() bool {
		return s.StartCompactor(context.Background(), time.Hour) == nil
	})
}
