package store

import (
	"path/filepath"
	"testing"
	"time"
)

// t0 is the fake clock's starting time in every test.
var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func ms(t time.Time) int64 { return t.UnixMilli() }

func openTestSessions(tb testing.TB, clock Clock) *Sessions {
	tb.Helper()
	s, err := OpenSessions(SessionsOptions{Path: filepath.Join(tb.TempDir(), "sessions"), Clock: clock})
	if err != nil {
		tb.Fatalf("OpenSessions: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

func openTestAudit(tb testing.TB, clock Clock) *Audit {
	tb.Helper()
	a, err := OpenAudit(AuditOptions{Path: filepath.Join(tb.TempDir(), "audit"), Clock: clock})
	if err != nil {
		tb.Fatalf("OpenAudit: %v", err)
	}
	tb.Cleanup(func() { _ = a.Close() })
	return a
}

// rawKeys lists every key physically in the store, expired or not, with a
// bare iterator: what is there until compaction removes it.
func rawKeys(tb testing.TB, k *kv) []string {
	tb.Helper()
	if err := k.acquire(); err != nil {
		tb.Fatal(err)
	}
	defer k.release()
	var keys []string
	err := k.scan(nil, nil, func(key, _ []byte) (bool, error) {
		keys = append(keys, string(key)) // string() copies out of the iterator
		return true, nil
	})
	if err != nil {
		tb.Fatalf("raw scan: %v", err)
	}
	return keys
}

func mustStats(tb testing.TB, s interface{ Stats() (Stats, error) }) Stats {
	tb.Helper()
	st, err := s.Stats()
	if err != nil {
		tb.Fatalf("Stats: %v", err)
	}
	return st
}

// eventually polls cond until it holds or a few seconds pass.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
