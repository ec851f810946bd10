package main

import (
	"os"
	"testing"
)

// TestMain lets the test binary act as the veltrix command, so tests can run
// real engine and gateway processes (and kill -9 them) without a build step.
func TestMain(m *testing.M) {
	if os.Getenv("TEST_VELTRIX_LOADGEN") == "1" {
		os.Exit(loadWorker(os.Args[1:]))
	}
	if os.Getenv("TEST_VELTRIX_AS_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
