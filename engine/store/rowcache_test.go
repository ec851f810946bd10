package store

import (
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The cache answers as the store would: after writes, deletes, expiry, and
// once its generations have turned over many times.
func TestSessionsRowCacheAgreesWithStore(t *testing.T) {
	clock := NewFakeClock(t0)
	dir := filepath.Join(t.TempDir(), "sessions")
	// A budget of a few rows: the generations turn over every few writes.
	s, err := OpenSessions(SessionsOptions{Path: dir, Clock: clock, RowCacheBytes: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	get := func(key string) (string, bool) {
		t.Helper()
		v, ok, err := s.Get([]byte(key))
		if err != nil {
			t.Fatal(err)
		}
		return string(v), ok
	}
	if _, ok := get("k0"); ok {
		t.Fatal("a missing row was found")
	}
	want := map[string]string{}
	for round := 0; round < 20; round++ {
		var ws []Write
		for i := 0; i < 10; i++ {
			k, v := fmt.Sprintf("k%d", i), fmt.Sprintf("v%d.%d", i, round)
			if (i+round)%7 == 0 {
				ws = append(ws, Write{Key: []byte(k), Delete: true})
				delete(want, k)
				continue
			}
			ws = append(ws, Write{Key: []byte(k), Value: []byte(v), ExpiresAt: ms(t0.Add(time.Hour))})
			want[k] = v
		}
		if err := s.Commit(ws); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 10; i++ {
			k := fmt.Sprintf("k%d", i)
			v, ok := get(k)
			if w, wok := want[k]; ok != wok || v != w {
				t.Fatalf("round %d: Get(%s) = %q, %v; want %q, %v", round, k, v, ok, w, wok)
			}
		}
	}
	// A caller changing what Get returned changes neither the cache nor the store.
	v, _, _ := s.Get([]byte("k1"))
	copy(v, "XX")
	if got, _ := get("k1"); got != want["k1"] {
		t.Fatalf("after changing a returned value: Get = %q, want %q", got, want["k1"])
	}
	// Expiry is decided on every read, cached or not.
	clock.Set(t0.Add(time.Hour))
	if v, ok := get("k1"); ok {
		t.Fatalf("expired row read from the cache: %q", v)
	}
}

// Commit's caller may reuse its buffers: the cache keeps its own copy.
func TestSessionsRowCacheCopiesCommittedValues(t *testing.T) {
	s := openTestSessions(t, NewFakeClock(t0))
	buf := []byte("first")
	if err := s.Commit([]Write{{Key: []byte("k"), Value: buf}}); err != nil {
		t.Fatal(err)
	}
	copy(buf, "XXXXX")
	if v, ok, err := s.Get([]byte("k")); err != nil || !ok || string(v) != "first" {
		t.Fatalf("Get = %q, %v, %v; want first", v, ok, err)
	}
}

// A store read by a tool while the engine writes must not serve stale rows
// from a cache: read-only stores have none.
func TestSessionsReadOnlyHasNoRowCache(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sessions")
	s, err := OpenSessions(SessionsOptions{Path: dir, Clock: NewFakeClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.cache == nil {
		t.Fatal("the engine's store has no row cache")
	}
	if err := s.Commit([]Write{{Key: []byte("k"), Value: []byte("v")}}); err != nil {
		t.Fatal(err)
	}
	ro, err := OpenSessions(SessionsOptions{Path: dir, Clock: NewFakeClock(t0), ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if ro.cache != nil {
		t.Fatal("a read-only store has a row cache")
	}
}

// A Get that misses while a Commit of the same key is under way must not
// put the row it read, now stale, into the cache. The reader checks that a
// Get never returns a value older than a Commit that had returned before
// the Get began.
func TestSessionsRowCacheGetDuringCommit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sessions")
	// A budget of a few rows, and other keys read between: "k" keeps
	// falling out of the cache, so its reads miss and race the commits.
	s, err := OpenSessions(SessionsOptions{Path: dir, Clock: NewFakeClock(t0), RowCacheBytes: 600})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const commits = 20000
	var done atomic.Int64
	stop := make(chan struct{})
	go func() {
		defer close(stop)
		for i := int64(1); i <= commits; i++ {
			v := strconv.AppendInt(nil, i, 10)
			if err := s.Commit([]Write{{Key: []byte("k"), Value: v}}); err != nil {
				t.Error(err)
				return
			}
			done.Store(i)
		}
	}()
	var wg sync.WaitGroup
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				before := done.Load()
				v, ok, err := s.Get([]byte("k"))
				if err != nil {
					t.Error(err)
					return
				}
				got := int64(0)
				if ok {
					got, _ = strconv.ParseInt(string(v), 10, 64)
				}
				if got < before {
					t.Errorf("Get returned %d after the commit of %d had returned", got, before)
					return
				}
				if _, _, err := s.Get([]byte(fmt.Sprintf("other%d", n%16))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// The same race, forced: a Get reads the row, a Commit of that row runs and
// returns, then the Get would fill the cache with what it read.
func TestSessionsRowCacheStaleFillRefused(t *testing.T) {
	s := openTestSessions(t, NewFakeClock(t0))
	if err := s.Commit([]Write{{Key: []byte("k"), Value: []byte("v1")}}); err != nil {
		t.Fatal(err)
	}
	read, resume := make(chan struct{}), make(chan struct{})
	s.afterRead = func() { close(read); <-resume }
	got := make(chan string)
	go func() {
		v, _, _ := s.Get([]byte("k"))
		got <- string(v)
	}()
	<-read
	s.afterRead = nil // the Get in flight already called it
	if err := s.Commit([]Write{{Key: []byte("k"), Value: []byte("v2")}}); err != nil {
		t.Fatal(err)
	}
	close(resume)
	if v := <-got; v != "v1" {
		t.Fatalf("the racing Get read %q, want v1 (it read before the commit)", v)
	}
	if v, ok, err := s.Get([]byte("k")); err != nil || !ok || string(v) != "v2" {
		t.Fatalf("Get after the commit = %q, %v, %v; want v2: the racing Get cached what it read", v, ok, err)
	}
}
