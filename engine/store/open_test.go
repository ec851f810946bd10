package store

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenSamePathTwiceIsLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions")
	s, err := OpenSessions(SessionsOptions{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	_, err = OpenSessions(SessionsOptions{Path: path})
	checkLocked(t, err, path)
	// The other store type on the same directory is refused the same way.
	_, err = OpenAudit(AuditOptions{Path: path})
	checkLocked(t, err, path)

	// Once closed, the directory opens again.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := OpenSessions(SessionsOptions{Path: path})
	if err != nil {
		t.Fatalf("reopen after close: %v", err)
	}
	s2.Close()
}

func checkLocked(t *testing.T, err error, path string) {
	t.Helper()
	if err == nil {
		t.Fatal("second open of the same path succeeded")
	}
	want := fmt.Sprintf("store %s is locked by another process (is another engine running on this data dir?)", path)
	if !errors.Is(err, ErrLocked) || err.Error() != want {
		t.Fatalf("error = %q (ErrLocked: %v), want %q", err, errors.Is(err, ErrLocked), want)
	}
	var le *lockedError
	if !errors.As(err, &le) || le.cause == nil {
		t.Fatalf("error %q does not keep RocksDB's cause", err)
	}
	t.Logf("RocksDB said: %v", le.cause)
}

// lockHelperEnv makes the test binary act as "another engine" holding a store.
const lockHelperEnv = "VELTRIX_STORE_LOCK_HELPER"

func TestMain(m *testing.M) {
	if path := os.Getenv(lockHelperEnv); path != "" {
		os.Exit(holdLock(path))
	}
	if path := os.Getenv(unguardedEnv); path != "" {
		os.Exit(unguardedFill(path))
	}
	os.Exit(m.Run())
}

// holdLock opens the store at path, says "ready" and keeps it open until
// stdin closes.
func holdLock(path string) int {
	s, err := OpenSessions(SessionsOptions{Path: path})
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	defer s.Close()
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	return 0
}

func TestOpenLockedByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("helper: %q, %v", line, err)
	}

	_, err = OpenSessions(SessionsOptions{Path: path})
	checkLocked(t, err, path)
}

func TestOpenRegularFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notadir")
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := OpenSessions(SessionsOptions{Path: path})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "regular file") {
		t.Fatalf("error = %v, want one naming %s as a regular file", err, path)
	}
	_, err = OpenAudit(AuditOptions{Path: path})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("audit error = %v, want one naming %s", err, path)
	}
}

func TestOpenCorrupt(t *testing.T) {
	for name, garbage := range map[string]string{
		"no newline":       "\x00\x01garbage",
		"missing manifest": "MANIFEST-999999\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sessions")
			s, err := OpenSessions(SessionsOptions{Path: path})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Commit([]Write{{Key: []byte("k"), Value: []byte("v")}}); err != nil {
				t.Fatal(err)
			}
			s.Close()
			if err := os.WriteFile(filepath.Join(path, "CURRENT"), []byte(garbage), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err = OpenSessions(SessionsOptions{Path: path})
			if err == nil || !strings.Contains(err.Error(), path) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error = %v, want ErrCorrupt naming %s", err, path)
			}
			t.Logf("corrupt store error: %v", err)
		})
	}
}

func TestOpenEmptyPath(t *testing.T) {
	if _, err := OpenSessions(SessionsOptions{}); err == nil {
		t.Fatal("empty path accepted")
	}
	if _, err := OpenAudit(AuditOptions{}); err == nil {
		t.Fatal("empty path accepted")
	}
}

func TestOpenCreatesMissingParents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "sessions")
	s, err := OpenSessions(SessionsOptions{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// The options string is the only way to set periodic_compaction_seconds in
// grocksdb v1.7.15; RocksDB records what it used in the OPTIONS file.
func TestPeriodicCompactionOptionApplied(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(path string) (interface{ Close() error }, error)
		want string
	}{
		{"sessions", func(p string) (interface{ Close() error }, error) {
			return OpenSessions(SessionsOptions{Path: p})
		}, "periodic_compaction_seconds=3600"},
		{"audit", func(p string) (interface{ Close() error }, error) {
			return OpenAudit(AuditOptions{Path: p})
		}, "periodic_compaction_seconds=86400"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tc.name)
			s, err := tc.open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			files, err := filepath.Glob(filepath.Join(path, "OPTIONS-*"))
			if err != nil || len(files) == 0 {
				t.Fatalf("no OPTIONS file: %v", err)
			}
			b, err := os.ReadFile(files[len(files)-1])
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{tc.want, "compaction_filter=veltrix.ttl.v1"} {
				if !strings.Contains(string(b), want) {
					t.Errorf("OPTIONS file lacks %q", want)
				}
			}
		})
	}
}
