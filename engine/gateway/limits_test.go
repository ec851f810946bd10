package gateway

import (
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	var b bucket
	const sec = int64(time.Second)
	b.init(3, 0)
	// A burst of 3, then debt down to the floor.
	for i, want := range []float64{2, 1, 0, -1, -2, -3, -3} {
		if got := b.take(1, 3, -3, 0); got != want {
			t.Fatalf("take %d: %v left, want %v", i, got, want)
		}
	}
	// Two seconds at 1/s pay two tokens back, minus the one taken.
	if got := b.take(1, 3, -3, 2*sec); got != -2 {
		t.Fatalf("after 2s: %v, want -2", got)
	}
	// Refill stops at the burst.
	if got := b.take(1, 3, -3, 100*sec); got != 2 {
		t.Fatalf("after 100s: %v, want 2", got)
	}
}

func TestLockedBucket(t *testing.T) {
	l := newLockedBucket(1, 2)
	now := time.Now().UnixNano()
	if !l.allow(now) || !l.allow(now) {
		t.Fatal("burst of 2 refused")
	}
	if l.allow(now) || l.allow(now) {
		t.Fatal("third and fourth allowed within the same instant")
	}
	// Refusals cost nothing: one second later exactly one more fits.
	now += int64(time.Second)
	if !l.allow(now) || l.allow(now) {
		t.Fatal("after 1s: want exactly one more")
	}
	if !newLockedBucket(-1, 0).allow(now) {
		t.Fatal("a negative rate must allow everything")
	}
}

func TestIPCounts(t *testing.T) {
	c := ipCounts{max: 2, n: map[netip.Addr]int32{}}
	a, b := netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")
	if !c.acquire(a) || !c.acquire(a) || c.acquire(a) {
		t.Fatal("cap of 2 per address not applied")
	}
	if !c.acquire(b) {
		t.Fatal("another address refused")
	}
	c.release(a)
	if !c.acquire(a) {
		t.Fatal("released slot not reusable")
	}
	c.release(a)
	c.release(a)
	c.release(b)
	if len(c.n) != 0 {
		t.Fatalf("map keeps %d idle addresses", len(c.n))
	}
	u := ipCounts{max: -1, n: map[netip.Addr]int32{}}
	for range 5 {
		if !u.acquire(a) {
			t.Fatal("no cap refused")
		}
	}
}

func TestOriginAllowed(t *testing.T) {
	for _, c := range []struct {
		origin  string
		allowed []string
		want    bool
	}{
		{"", nil, true}, // not a browser
		{"http://game.example:8080", nil, true},
		{"http://evil.example", nil, false},
		{"https://play.example", []string{"https://play.example"}, true},
		{"https://PLAY.example", []string{"https://play.example/"}, true},
		{"https://evil.example", []string{"https://play.example"}, false},
		{"https://game.example:8080", []string{"https://play.example"}, false}, // a list replaces same-origin
		{"https://any.example", []string{"*"}, true},
	} {
		r := httptest.NewRequest("GET", "http://game.example:8080/ws", nil)
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		if got := originAllowed(r, c.allowed); got != c.want {
			t.Errorf("origin %q, allowed %v: %v, want %v", c.origin, c.allowed, got, c.want)
		}
	}
}

func TestResumeToken(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	now := time.Unix(1_700_000_000, 0)
	tok := signResume(secret, "alice", now.Add(time.Minute))
	if p, err := verifyResume(secret, "alice", tok, now); err != nil || p != "alice" {
		t.Fatalf("valid token: %q %v", p, err)
	}
	forged := []byte(tok)
	forged[len(forged)-2] ^= 1
	for name, c := range map[string]struct {
		secret         []byte
		session, token string
		now            time.Time
	}{
		"expired":       {secret, "alice", tok, now.Add(2 * time.Minute)},
		"other session": {secret, "bob", tok, now},
		"other secret":  {[]byte("another secret, also 32 bytes!!!"), "alice", tok, now},
		"forged":        {secret, "alice", string(forged), now},
		"malformed":     {secret, "alice", "r1.x", now},
		"empty":         {secret, "alice", "", now},
	} {
		if _, err := verifyResume(c.secret, c.session, c.token, c.now); err != ErrResumeToken {
			t.Errorf("%s: err %v, want ErrResumeToken", name, err)
		}
	}
}

func TestStampPosAndTS(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"type":"result","ts":17}`, `{"type":"result","ts":17,"pos":42}`},
		{`{}`, `{"pos":42}`},
		{`not json`, `not json`},
	} {
		if got := string(stampPos([]byte(c.in), 42)); got != c.want {
			t.Errorf("stampPos(%s) = %s, want %s", c.in, got, c.want)
		}
	}
	if ts := eventTS([]byte(`{"type":"x","data":{"ts":5},"v":"a","ts":1764780000123}`)); ts != 1764780000123 {
		t.Fatalf("eventTS = %d", ts)
	}
	if ts := eventTS([]byte(`{"type":"x"}`)); ts != 0 {
		t.Fatalf("eventTS without ts = %d", ts)
	}
}
