package gateway

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"
)

// bucket is a token bucket: rate tokens a second up to burst. The zero
// value is empty; init fills it. It is not safe for concurrent use.
type bucket struct {
	tokens float64
	last   int64 // unix ns of the last refill
}

func (b *bucket) init(burst int, now int64) {
	b.tokens, b.last = float64(burst), now
}

// take removes one token and returns what is left, which may be negative:
// the caller decides how much debt it tolerates. The debt is capped at
// floor so a client that keeps flooding is not owed a long silence.
func (b *bucket) take(rate float64, burst int, floor float64, now int64) float64 {
	if d := now - b.last; d > 0 {
		b.tokens += rate * float64(d) / float64(time.Second)
		if b.tokens > float64(burst) {
			b.tokens = float64(burst)
		}
	}
	b.last = now
	b.tokens--
	if b.tokens < floor {
		b.tokens = floor
	}
	return b.tokens
}

// lockedBucket is a bucket shared by goroutines (the handshake limit).
type lockedBucket struct {
	mu    sync.Mutex
	b     bucket
	rate  float64
	burst int
}

func newLockedBucket(rate float64, burst int) *lockedBucket {
	l := &lockedBucket{rate: rate, burst: burst}
	l.b.init(burst, time.Now().UnixNano())
	return l
}

// allow reports whether one more event fits; a refused one costs nothing.
func (l *lockedBucket) allow(now int64) bool {
	if l.rate < 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.take(l.rate, l.burst, -1, now) < 0 {
		l.b.tokens++ // refused: give the token back
		return false
	}
	return true
}

// ipCounts counts connections per remote address: one map entry per
// address with connections, not per connection.
type ipCounts struct {
	mu  sync.Mutex
	max int // negative: no cap
	n   map[netip.Addr]int32
}

// acquire counts one more connection from ip, unless that would pass the cap.
func (c *ipCounts) acquire(ip netip.Addr) bool {
	if c.max < 0 {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if int(c.n[ip]) >= c.max {
		return false
	}
	c.n[ip]++
	return true
}

func (c *ipCounts) release(ip netip.Addr) {
	if c.max < 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.n[ip] - 1; n > 0 {
		c.n[ip] = n
	} else {
		delete(c.n, ip)
	}
}

// remoteIP is the address the request came from (the TCP peer).
func remoteIP(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// originAllowed implements Options.AllowedOrigins. Browsers always send
// Origin on a WebSocket upgrade; other clients need not.
func originAllowed(r *http.Request, allowed []string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if len(allowed) == 0 {
		u, err := url.Parse(origin)
		return err == nil && strings.EqualFold(u.Host, r.Host)
	}
	for _, a := range allowed {
		if a == "*" || strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
			return true
		}
	}
	return false
}
