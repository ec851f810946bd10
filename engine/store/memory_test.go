package store

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// rssBytes reads the process's resident set size: un-freed RocksDB slices and
// iterators live in C memory, which the Go heap figures do not show.
func rssBytes(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	f := strings.Fields(string(b))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}

// PITFALLS: 100k un-freed 4 KB reads grew RSS by ~400 MB. Get, Scan and
// Commit must free their slices, iterators and batches.
func TestNoCMemoryLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	s := openTestSessions(t, NewFakeClock(t0))
	val := make([]byte, 4096)
	for i := range 100 {
		if err := s.Commit([]Write{{Key: fmt.Appendf(nil, "k%03d", i), Value: val}}); err != nil {
			t.Fatal(err)
		}
	}
	work := func(n int) {
		for i := range n {
			if _, ok, err := s.Get(fmt.Appendf(nil, "k%03d", i%100)); err != nil || !ok {
				t.Fatal(err, ok)
			}
			if i%100 == 0 {
				if err := s.Scan([]byte("k0"), func(_, _ []byte, _ int64) bool { return true }); err != nil {
					t.Fatal(err)
				}
				if err := s.Commit([]Write{{Key: []byte("k000"), Value: val}}); err != nil {
					t.Fatal(err)
				}
			}
		}
		runtime.GC()
	}
	work(10000) // warm up caches and the Go heap
	before := rssBytes(t)
	work(100000)
	grew := rssBytes(t) - before
	t.Logf("RSS grew %d KB over 100k reads of 4 KB", grew>>10)
	if grew > 100<<20 {
		t.Fatalf("RSS grew %d MB over 100k reads of 4 KB: C memory leaks", grew>>20)
	}
}
