package store

import (
	"fmt"
	"path/filepath"
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
