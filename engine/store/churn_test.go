package store

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSessionChurn creates 1,000,000 sessions over a simulated day (11.6 a
// second), each written once and expiring 30 minutes later, with a full
// compaction every 10 simulated minutes, as the engine's compactor would.
// It checks that the rows on disk stay within the 30-minute window (before
// a compaction: within the window plus the 10 minutes since the last one),
// by an exact count every half hour and RocksDB's estimate at every
// compaction, and that the store's size after compaction stays flat.
//
// Under the race detector (make test runs the package both ways) it creates
// 100,000 sessions over the same day: the race run is about the filter and
// compactions running on RocksDB's threads, not about the volume.
func TestSessionChurn(t *testing.T) {
	total := 1_000_000
	if raceEnabled {
		total = 100_000
	}
	const (
		day          = 24 * time.Hour
		step         = time.Minute // one batch per simulated minute
		ttl          = 30 * time.Minute
		compactEvery = 10 * time.Minute
	)
	steps := int(day / step)
	perStep := (total + steps - 1) / steps // 695
	clock := NewFakeClock(t0)
	path := filepath.Join(t.TempDir(), "sessions")
	s, err := OpenSessions(SessionsOptions{Path: path, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// A session value the size of the engine's (binary envelope and the
	// treasure hunt's state, ~250 bytes), different for every session so
	// compression does not make the sizes meaningless.
	rng := rand.New(rand.NewPCG(1, 2))
	vals := make([][]byte, perStep)
	ws := make([]Write, perStep)
	window := int(ttl / step)            // batches alive at a time: 30
	between := int(compactEvery / step)  // batches written between compactions: 10
	maxAfter := uint64(window * perStep) // rows alive right after a compaction
	maxBefore := uint64((window + between) * perStep)
	var sstMin, sstMax, diskMin, diskMax uint64
	created := 0
	start := time.Now()
	for i := 0; created < total; i++ {
		now := t0.Add(time.Duration(i) * step)
		clock.Set(now)
		n := min(perStep, total-created)
		for j := range n {
			id := created + j
			vals[j] = fmt.Appendf(vals[j][:0], `{"at":%d,"found":{"b%d":%d},"id":"p-%016x","lat":%.6f,"lon":%.6f,"moves":%d,"score":%d,"joined_at":%d}`,
				now.UnixMilli(), rng.IntN(50), now.UnixMilli()-rng.Int64N(1e6), rng.Uint64(), 38+rng.Float64(), -9-rng.Float64(),
				rng.IntN(500), rng.IntN(1000), now.UnixMilli()-rng.Int64N(1e7))
			ws[j] = Write{Key: binary.BigEndian.AppendUint32(append(ws[j].Key[:0], "s/churn/"...), uint32(id)),
				Value: vals[j], ExpiresAt: now.Add(ttl).UnixMilli()}
		}
		if err := s.Commit(ws[:n]); err != nil {
			t.Fatal(err)
		}
		created += n
		if (i+1)%between != 0 {
			continue
		}
		// Every half hour the rows on disk are counted exactly (a full
		// scan); at every compaction RocksDB's estimate is checked.
		exact := (i+1)%window == 0
		var before, after uint64
		if exact {
			before = rowsOnDisk(t, s)
			if before > maxBefore {
				t.Fatalf("at %v: %d rows on disk before compaction, want at most %d (30 + 10 minutes of sessions)", now.Sub(t0), before, maxBefore)
			}
		}
		if err := s.CompactExpired(); err != nil {
			t.Fatal(err)
		}
		alive := uint64(min(i+1, window) * perStep)
		if exact {
			after = rowsOnDisk(t, s)
			if after > maxAfter || after < alive-uint64(perStep) {
				t.Fatalf("at %v: %d rows on disk after compaction, want the %d of the last 30 minutes (at most %d)",
					now.Sub(t0), after, alive, maxAfter)
			}
		}
		st := mustStats(t, s)
		if st.EstimatedKeys > maxAfter+maxAfter/10 {
			t.Fatalf("at %v: estimated keys %d, want at most %d", now.Sub(t0), st.EstimatedKeys, maxAfter)
		}
		disk := dataBytes(t, path)
		if now.Sub(t0) >= ttl { // steady state: the window is full
			if sstMin == 0 {
				sstMin, sstMax, diskMin, diskMax = st.SSTBytes, st.SSTBytes, disk, disk
			}
			sstMin, sstMax = min(sstMin, st.SSTBytes), max(sstMax, st.SSTBytes)
			diskMin, diskMax = min(diskMin, disk), max(diskMax, disk)
		}
		if exact && (i+1 == 60 || (i+1)%(6*60) == 0) {
			t.Logf("%5v: %7d created, %6d rows on disk before compaction, %6d after; SST %5.1f MiB, data files %5.1f MiB, whole dir %5.1f MiB",
				now.Sub(t0)+step, created, before, after, mib(st.SSTBytes), mib(disk), mib(st.DiskBytes))
		}
	}
	// The day is over and nobody comes back: everything goes.
	clock.Set(t0.Add(day + ttl))
	if err := s.CompactExpired(); err != nil {
		t.Fatal(err)
	}
	if n := rowsOnDisk(t, s); n != 0 {
		t.Fatalf("%d rows on disk 30 minutes after the last session", n)
	}
	st := mustStats(t, s)
	t.Logf("%d sessions in %v; SST after compaction %.1f-%.1f MiB, data files %.1f-%.1f MiB; %d rows dropped by %d full compactions",
		created, time.Since(start).Round(time.Millisecond), mib(sstMin), mib(sstMax), mib(diskMin), mib(diskMax), st.ExpiredDropped, st.CompactionsTriggered)
	if st.ExpiredDropped != uint64(total) {
		t.Fatalf("%d rows dropped, want %d", st.ExpiredDropped, total)
	}
	// Flat: over the day, after compaction, the size moves within ±25 %.
	if sstMax > sstMin+sstMin/2 || diskMax > diskMin+diskMin/2 {
		t.Fatalf("store grows: SST %d-%d bytes, data files %d-%d bytes after compaction", sstMin, sstMax, diskMin, diskMax)
	}
}

// rowsOnDisk counts every row physically in the store, expired or not.
func rowsOnDisk(t *testing.T, s *Sessions) uint64 {
	t.Helper()
	c, err := s.Count()
	if err != nil {
		t.Fatal(err)
	}
	return c.Live + c.Expired
}

// dataBytes is the size of the store's data files: SST files, write-ahead
// logs and manifests, without RocksDB's info logs (LOG*), which grow with
// every compaction up to their own cap (4 files of 16 MiB).
func dataBytes(t *testing.T, dir string) uint64 {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "LOG") {
			continue
		}
		if fi, err := e.Info(); err == nil {
			n += uint64(fi.Size())
		}
	}
	return n
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }
