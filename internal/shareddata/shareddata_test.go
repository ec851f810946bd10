package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Errorf("RepoRoot() = %s, which has no go.mod: %v", root, err)
	}
	// This package lives at <root>/internal/shareddata.
	if wd, _ := os.Getwd(); filepath.Join(root, "internal", "shareddata") != wd {
		t.Errorf("RepoRoot() = %s, want the parent of internal/shareddata (wd %s)", root, wd)
	}
}

func TestSharedDir(t *testing.T) {
	dir := SharedDir(t)
	root, _ := RepoRoot()
	if want := filepath.Join(filepath.Dir(root), "shared", "data"); dir != want {
		t.Errorf("SharedDir() = %s, want %s", dir, want)
	}
}

// fakeTB records Skipf and Fatalf instead of stopping the goroutine, so the
// missing-data behaviour can be checked without moving shared/ away.
type fakeTB struct {
	testing.TB
	skipped, fatal bool
}

func (f *fakeTB) Helper()                      {}
func (f *fakeTB) Skipf(string, ...any)         { f.skipped = true }
func (f *fakeTB) Fatalf(string, ...any)        { f.fatal = true }
func (f *fakeTB) Logf(format string, a ...any) {}

func TestSharedDirMissing(t *testing.T) {
	// A module with no shared/ folder beside it.
	root := filepath.Join(t.TempDir(), "repo")
	sub := filepath.Join(root, "pkg", "x")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		ci                 string
		wantSkip, wantFail bool
	}{
		{ci: "", wantSkip: true},
		{ci: "true", wantFail: true},
	}
	for _, tt := range tests {
		t.Run("CI="+tt.ci, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			f := &fakeTB{TB: t}
			sharedDirFrom(f, sub)
			if f.skipped != tt.wantSkip || f.fatal != tt.wantFail {
				t.Errorf("skipped=%v fatal=%v, want skipped=%v fatal=%v", f.skipped, f.fatal, tt.wantSkip, tt.wantFail)
			}
		})
	}

	// With shared/data beside the repo it is found from a nested package.
	data := filepath.Join(filepath.Dir(root), "shared", "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	f := &fakeTB{TB: t}
	if got := sharedDirFrom(f, sub); got != data || f.skipped || f.fatal {
		t.Errorf("sharedDirFrom = %q (skipped=%v fatal=%v), want %q", got, f.skipped, f.fatal, data)
	}
}
