// Package testdisk gives tests a disk that really fills up: a small tmpfs,
// and a filler file that leaves a chosen amount of it free.
package testdisk

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// Tmpfs mounts a tmpfs of size bytes on a fresh temporary directory and
// unmounts it at the end of the test. Mounting needs root (CI runs as root);
// elsewhere the test is skipped with a message saying so.
func Tmpfs(t testing.TB, size int64) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("SKIPPED, NOT TESTED: disk-full test needs a small tmpfs and `mount -t tmpfs` failed (%v: %s); run as root (CI=%q)",
			err, strings.TrimSpace(string(out)), os.Getenv("CI"))
	}
	// Registered after TempDir's cleanup, so it runs before it.
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// Free is the space left to unprivileged writers on dir's file system.
func Free(t testing.TB, dir string) uint64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return st.Bavail * uint64(st.Bsize)
}

// Fill writes a filler file in dir until about free bytes are left, and
// returns its path (remove it to free the space again).
func Fill(t testing.TB, dir string, free uint64) string {
	t.Helper()
	have := Free(t, dir)
	if have <= free {
		t.Fatalf("only %d bytes free in %s, want more than %d", have, dir, free)
	}
	f, err := os.CreateTemp(dir, "filler")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for left := have - free; left > 0; {
		n := min(left, uint64(len(buf)))
		if _, err := f.Write(buf[:n]); err != nil {
			t.Fatal(err)
		}
		left -= n
	}
	return f.Name()
}
