package main

import (
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/plugins/auth/token"
)

const cliSecret = "cli-test-secret-at-least-32-bytes-long"

func TestTokenIssueAndVerify(t *testing.T) {
	sets := []string{"--config", repoPath(t, "configs/dev.yaml"), "--set", "gateway.auth.plugin=token", "--set", "gateway.auth.secret=" + cliSecret}
	out, stderr, code := veltrix(t, append([]string{"token", "issue", "--player", "alice", "--ttl", "1h"}, sets...)...)
	if code != 0 {
		t.Fatalf("token issue exited %d: %s", code, stderr)
	}
	tok := strings.TrimSpace(out)
	c, err := token.Verify(tok, [][]byte{[]byte(cliSecret)}, time.Now(), 0, "")
	if err != nil || c.Subject != "alice" || c.ExpiresAt-c.IssuedAt != 3600 {
		t.Fatalf("issued token: %+v %v", c, err)
	}
	out, stderr, code = veltrix(t, append([]string{"token", "verify", tok}, sets...)...)
	if code != 0 || !strings.Contains(out, "player alice") {
		t.Fatalf("token verify: exit %d, %s %s", code, out, stderr)
	}
	// Another key, another plugin, a bad player: refused, saying why.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"token", "verify", tok, "--config", repoPath(t, "configs/dev.yaml"), "--set", "gateway.auth.plugin=token",
			"--set", "gateway.auth.secret=another-secret-also-32-bytes-long!!"}, "signature"},
		{[]string{"token", "issue", "--player", "alice", "--config", repoPath(t, "configs/dev.yaml")}, "gateway.auth.plugin"},
		{append([]string{"token", "issue", "--player", "../etc"}, sets...), "sub"},
		{append([]string{"token", "issue"}, sets...), "--player"},
		{[]string{"token", "issue", "--player", "a", "--config", repoPath(t, "configs/dev.yaml"), "--set", "gateway.auth.plugin=token",
			"--set", "gateway.auth.secret=short"}, "32 bytes"},
	} {
		_, stderr, code := veltrix(t, c.args...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want it to name %q", c.args, code, stderr, c.want)
		}
	}
}
