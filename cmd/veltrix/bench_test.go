package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/veltrix/veltrix/internal/shareddata"
)

// The load tools run end to end against a small all-in-one server.
func TestBenchConnsSmall(t *testing.T) {
	s := startServer(t, repoPath(t, "configs/hunts"), "admin.listen=127.0.0.1:0")
	out, stderr, code := veltrix(t, "bench", "conns", "--url", s.GatewayURL(), "--n", "60", "--sources", "3",
		"--admin", s.AdminAddr(), "--settle", "0s", "--hunt", "harbour", "--fanout", "1", "--hunts", repoPath(t, "configs/hunts"))
	if code != 0 {
		t.Fatalf("bench conns exited %d: %s", code, stderr)
	}
	for _, want := range []string{"60 open, 0 failed", "handshakes/s", "RSS per connection", "Go heap in use per connection", "60/60 got it"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	// The gateway's own count, read from its Prometheus metrics on the admin port.
	if !regexp.MustCompile(`gateway connections\s+60\n`).MatchString(out) {
		t.Errorf("veltrix_gateway_connections is not 60 in:\n%s", out)
	}
	if !strings.Contains(stderr, "connect") || !strings.Contains(stderr, "\r") {
		t.Errorf("no progress bar on stderr: %q", stderr)
	}
}

func TestBenchPlayersAlongTracks(t *testing.T) {
	shared := shareddata.SharedDir(t)
	s := startServer(t, repoPath(t, "configs/hunts"))
	out, stderr, code := veltrix(t, "bench", "players", "--url", s.GatewayURL(), "--n", "6", "--tracks", shared,
		"--speed", "0", "--moves", "20", "--ramp", "0s")
	if code != 0 {
		t.Fatalf("bench players exited %d: %s", code, stderr)
	}
	for _, want := range []string{"moves answered", "120 of 120", "move → result p99", "6 (0 stopped early)"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}
