package store

import (
	"fmt"
	"sync"
	"syscall"
	"time"
)

// Why the stores check free space themselves
//
// Debian's librocksdb 7.8 (the one grocksdb builds against here) is built
// with assertions on, and RocksDB 7.8 asserts in WritableFileWriter after a
// failed write ("Assertion `sync_without_flush_called_' failed"): a WAL
// write, a flush or a compaction that meets ENOSPC aborts the whole process
// (SIGABRT) instead of returning an error. A release build returns an IO
// error and turns the DB read-only. Either way the only safe course is not
// to let RocksDB reach a full disk, so every open, write and full compaction
// first checks that the store's file system keeps at least minFree bytes
// free, and refuses with ErrDiskFull otherwise. minFree must cover what
// RocksDB writes on its own after a write: a memtable flush (an SST file of
// up to the write buffer's size), the next write-ahead log's preallocation
// (1.1 times that) and the background compactions they cause; opens refuse
// a minFree below 4 write buffers.
//
// Other processes writing to the same disk can still fill it between two
// checks (at most spaceRecheck apart); minFree is the margin for that too.

// spaceRecheck is how long a free-space reading is trusted while the
// estimate stays well above minFree (statfs costs about 2 µs, a Commit
// 5-10): what other processes write to the disk meanwhile must fit in
// minFree.
const spaceRecheck = 25 * time.Millisecond

// spaceGuard refuses writes that would leave less than minFree bytes free on
// the file system of dir. A nil guard allows everything.
type spaceGuard struct {
	dir     string
	minFree uint64

	mu      sync.Mutex
	free    uint64    // at the last statfs
	written uint64    // bytes allowed since the last statfs
	at      time.Time // of the last statfs (wall clock: not the store clock)
}

func newSpaceGuard(dir string, minFree uint64) *spaceGuard {
	return &spaceGuard{dir: dir, minFree: minFree}
}

// check returns an ErrDiskFull error when writing n more bytes would leave
// less than minFree free, and otherwise counts them as written.
func (g *spaceGuard) check(n uint64) error {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	est := g.free - min(g.free, g.written)
	if g.at.IsZero() || now.Sub(g.at) >= spaceRecheck || est < 4*g.minFree+n {
		free, err := freeBytes(g.dir)
		if err != nil {
			// Unknown free space: let RocksDB try rather than stop the engine.
			return nil
		}
		g.free, g.written, g.at, est = free, 0, now, free
	}
	if est < g.minFree+n {
		need := ""
		if n > 0 {
			need = fmt.Sprintf(", and this needs %s more", fmtBytes(n))
		}
		return fmt.Errorf("store %s: %w: %s free on its disk, the store keeps at least %s free%s",
			g.dir, ErrDiskFull, fmtBytes(est), fmtBytes(g.minFree), need)
	}
	g.written += n
	return nil
}

// freeBytes is the space an unprivileged writer may still use on the file
// system of path.
func freeBytes(path string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

func fmtBytes(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}
