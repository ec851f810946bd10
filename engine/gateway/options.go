package gateway

import (
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/veltrix/veltrix/engine/kafka"
)

// Authenticator identifies the player behind an upgrade request. An error
// refuses the handshake with 401. Implementations are auth plugins
// ("veltrix.auth.<name>"); they are called concurrently.
type Authenticator interface {
	Authenticate(r *http.Request) (player string, err error)
}

// Defaults of Options; a zero field means the default. A negative value
// turns off the limits that say so.
const (
	DefaultMaxFrameBytes    = 4096
	DefaultReadBufferBytes  = 256
	DefaultSendBufferBytes  = 32 << 10
	DefaultWriteTimeout     = 10 * time.Second
	DefaultQueueLimit       = 256
	DefaultIdleTimeout      = 60 * time.Second
	DefaultPingInterval     = 25 * time.Second
	DefaultHandshakeTimeout = 5 * time.Second
	DefaultMaxConnsPerIP    = 1000
	DefaultMessageRate      = 20 // messages per second per connection
	DefaultMessageBurst     = 256
	DefaultHandshakeRate    = 2000 // upgrades per second per gateway
	DefaultHandshakeBurst   = 2000
	DefaultDrainTimeout     = 10 * time.Second
	DefaultResumeTTL        = 30 * time.Minute
	DefaultHistoryWindow    = 2 * time.Minute
	DefaultHistoryBytes     = 64 << 20
	// DefaultFDReserve is kept free of player sockets when MaxConns is
	// derived from the open-file limit: Kafka connections, the listeners,
	// logs and the handshakes in progress.
	DefaultFDReserve = 256
	// fallbackMaxConns is MaxConns when the open-file limit is unknown.
	fallbackMaxConns = 10000
)

// Options configures a Gateway. Zero values mean the Default* constants.
type Options struct {
	Seeds    []string
	Batching kafka.Batching // of the Kafka clients
	ClientID string
	Actions  string // topic the actions go to
	Events   string // topic the events come from
	// Auth identifies players. Required: without it New fails (fail closed).
	Auth Authenticator
	Log  *slog.Logger
	// Metrics receives the gateway's Prometheus collectors; nil, none.
	Metrics prometheus.Registerer

	// MaxFrameBytes bounds one client frame; a larger one closes the
	// connection with 1009. Default 4096.
	MaxFrameBytes int
	// ReadBufferBytes is the read buffer held by each connection. Player
	// frames are small; larger frames are read straight into their own
	// buffer. Default 256.
	ReadBufferBytes int
	// SendBufferBytes is the kernel send buffer of each socket (SO_SNDBUF).
	// Fixed and small, it bounds what a client that does not read can hold
	// in the kernel (autotuning grows it to megabytes) and lets the queue
	// limit catch such a client sooner. Default 32 KiB; negative, the
	// kernel's autotuning.
	SendBufferBytes int
	// WriteTimeout bounds one write to a socket; a client that does not take
	// a frame within it is disconnected. Default 10s.
	WriteTimeout time.Duration
	// QueueLimit caps the frames waiting to be written to one connection; a
	// client that falls further behind is closed with 1008, so a client that
	// does not read never grows the gateway's memory. Default 256.
	QueueLimit int
	// IdleTimeout closes a connection from which nothing (not even a pong)
	// arrived for that long (give or take the keepalive loop's period,
	// PingInterval/5 capped at 5s, which moves the read deadlines). Default 60s.
	IdleTimeout time.Duration
	// PingInterval: a connection silent for this long gets a WebSocket ping,
	// which any live client answers. Must be below IdleTimeout. Default 25s.
	PingInterval time.Duration
	// HandshakeTimeout bounds reading the upgrade request and writing the
	// 101 answer. Default 5s.
	HandshakeTimeout time.Duration
	// MaxConns caps the player connections. Default: the process's open-file
	// limit minus DefaultFDReserve.
	MaxConns int
	// MaxConnsPerIP caps the connections from one IP address (429 beyond).
	// Default 1000; negative, no cap (behind a TCP proxy every player has
	// the proxy's address).
	MaxConnsPerIP int
	// MessageRate and MessageBurst are a token bucket per connection:
	// MessageRate frames per second, bursts of MessageBurst. A frame beyond
	// the bucket is refused (error rate_limited); a client that keeps going
	// (MessageBurst more frames over the limit) is closed with 1008.
	// Defaults 20 and 256 (a reconnecting client resends its window at
	// once); a negative MessageRate turns the limit off.
	MessageRate  float64
	MessageBurst int
	// HandshakeRate and HandshakeBurst bound upgrades per second on this
	// gateway (503 with Retry-After beyond). Defaults 2000 and 2000;
	// negative HandshakeRate, no limit.
	HandshakeRate  float64
	HandshakeBurst int
	// AllowedOrigins lists the browser origins ("https://play.example.com")
	// allowed to connect, "*" for any. Empty: only the gateway's own origin.
	// Requests without an Origin header (non-browser clients) are allowed.
	AllowedOrigins []string
	// DrainTimeout bounds Shutdown. Default 10s.
	DrainTimeout time.Duration
	// ResumeSecret signs resume tokens; give every gateway the same one so
	// players resume on any of them. Empty: a random secret, so tokens work
	// on this gateway only.
	ResumeSecret []byte
	// ResumeTTL is how long a resume token stays valid. Default 30m.
	ResumeTTL time.Duration
	// HistoryWindow and HistoryBytes bound the recent events kept for
	// resuming clients (by age and by total size). Defaults 2m and 64 MiB;
	// a negative HistoryBytes keeps none (every resume is a gap).
	HistoryWindow time.Duration
	HistoryBytes  int
	// Now stamps actions; tests may replace it. Default time.Now.
	Now func() time.Time
}

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() (Options, error) {
	if o.Auth == nil {
		// Fail closed: no auth plugin, no players.
		return o, errors.New("gateway: no authenticator configured")
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	setInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	setDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	setInt(&o.MaxFrameBytes, DefaultMaxFrameBytes)
	setInt(&o.ReadBufferBytes, DefaultReadBufferBytes)
	setInt(&o.SendBufferBytes, DefaultSendBufferBytes)
	setInt(&o.QueueLimit, DefaultQueueLimit)
	setInt(&o.MaxConnsPerIP, DefaultMaxConnsPerIP)
	setInt(&o.MessageBurst, DefaultMessageBurst)
	setInt(&o.HandshakeBurst, DefaultHandshakeBurst)
	setInt(&o.HistoryBytes, DefaultHistoryBytes)
	setDur(&o.WriteTimeout, DefaultWriteTimeout)
	setDur(&o.IdleTimeout, DefaultIdleTimeout)
	setDur(&o.PingInterval, DefaultPingInterval)
	setDur(&o.HandshakeTimeout, DefaultHandshakeTimeout)
	setDur(&o.DrainTimeout, DefaultDrainTimeout)
	setDur(&o.ResumeTTL, DefaultResumeTTL)
	setDur(&o.HistoryWindow, DefaultHistoryWindow)
	if o.MessageRate == 0 {
		o.MessageRate = DefaultMessageRate
	}
	if o.HandshakeRate == 0 {
		o.HandshakeRate = DefaultHandshakeRate
	}
	if o.MaxConns <= 0 {
		o.MaxConns = maxConnsFromRlimit()
	}
	if o.PingInterval >= o.IdleTimeout {
		o.PingInterval = o.IdleTimeout / 2
	}
	if len(o.ResumeSecret) == 0 {
		o.ResumeSecret = make([]byte, 32)
		_, _ = rand.Read(o.ResumeSecret)
		o.Log.Info("gateway: no resume secret configured (gateway.resume_secret): resume tokens are valid on this gateway only")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	switch {
	case o.MaxFrameBytes < 16:
		return o, errors.New("gateway: MaxFrameBytes must be at least 16")
	case o.ReadBufferBytes < 16:
		return o, errors.New("gateway: ReadBufferBytes must be at least 16")
	case o.QueueLimit < 1:
		return o, errors.New("gateway: QueueLimit must be at least 1")
	case len(o.ResumeSecret) < 16:
		return o, errors.New("gateway: ResumeSecret must be at least 16 bytes")
	}
	return o, nil
}

// maxConnsFromRlimit is the open-file limit minus DefaultFDReserve.
func maxConnsFromRlimit() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 {
		return fallbackMaxConns
	}
	n := int64(rl.Cur) - DefaultFDReserve
	if rl.Cur > 1<<30 || n > 1<<30 { // "unlimited"
		n = 1 << 30
	}
	if n < 1 {
		n = 1
	}
	return int(n)
}
