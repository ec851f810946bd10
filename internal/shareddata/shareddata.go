// Package testdata finds the project's shared test input: real-world files
// kept outside the repository (their licences forbid copying them in), in a
// shared/data folder beside the repo root.
//
// Note: the go command skips directories named "testdata" when matching
// patterns such as ./..., so `go test ./...` and `go vet ./...` do not list
// this package; it is still compiled (and type-checked) by every test that
// imports it, and `go vet ./internal/shareddata/` checks it explicitly.
package shareddata

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// SharedDir returns the absolute path of <repo root>/../shared/data, where
// the repo root is the nearest directory at or above the working directory
// (the test's package directory) holding go.mod.
//
// When the folder is missing the test is skipped, so a lone checkout still
// runs its other tests; but when the CI environment variable is set the test
// fails instead, so CI can never go green by skipping the real-data tests.
func SharedDir(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatalf("shared test data: %v", err)
	}
	return sharedDirFrom(t, wd)
}

// sharedDirFrom is SharedDir starting the go.mod search at wd.
func sharedDirFrom(t testing.TB, wd string) string {
	t.Helper()
	dir, err := sharedDir(wd)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("shared test data required in CI: %v", err)
		} else {
			t.Skipf("skipping: shared test data not available (set CI to make this fatal): %v", err)
		}
	}
	return dir
}

// SharedFile returns the path of name inside SharedDir, skipping or failing
// like SharedDir when that file is missing.
func SharedFile(t testing.TB, name string) string {
	t.Helper()
	path := filepath.Join(SharedDir(t), name)
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("shared test file required in CI: %v", err)
		} else {
			t.Skipf("skipping: shared test file not available (set CI to make this fatal): %v", err)
		}
	}
	return path
}

func sharedDir(wd string) (string, error) {
	root, err := repoRootFrom(wd)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(filepath.Dir(root), "shared", "data")
	fi, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("looking for <repo root>/../shared/data: %w", err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s is not a directory", dir)
	}
	return dir, nil
}

// RepoRoot returns the absolute path of the nearest directory at or above
// the working directory that contains go.mod.
func RepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding repo root: %w", err)
	}
	return repoRootFrom(wd)
}

func repoRootFrom(wd string) (string, error) {
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("finding repo root: %w", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("finding repo root: no go.mod in %s or any parent", wd)
		}
		dir = parent
	}
}
