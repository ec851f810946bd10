// Package config loads Veltrix's configuration with koanf: a YAML file, then
// VELTRIX_ environment variables, then --set flags, each overriding the last.
//
// Decoding is strict: an unknown or misspelt key, or a value that does not
// parse, stops the process at start with a message naming the key. Module
// sections (games.<name>, gateway.auth, broker) are kept raw here and decoded
// strictly by the module that owns them (see Strict).
//
// Environment variables map to keys by lower-casing and reading a double
// underscore as the level separator, so keys that contain "_" stay
// expressible: VELTRIX_GATEWAY__MAX_FRAME_BYTES=8192 sets
// gateway.max_frame_bytes.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
)

// EnvPrefix starts every environment variable Veltrix reads.
const EnvPrefix = "VELTRIX_"

// Config is the whole configuration. Zero values mean "use the default"
// (see Defaults).
type Config struct {
	// DataDir holds the stores and the embedded broker's log. Default "data".
	DataDir string `koanf:"data_dir"`
	// LogLevel is debug, info, warn or error. Default info.
	LogLevel string  `koanf:"log_level"`
	Broker   Module  `koanf:"broker"`
	Topics   Topics  `koanf:"topics"`
	Gateway  Gateway `koanf:"gateway"`
	Admin    Admin   `koanf:"admin"`
	Engine   Engine  `koanf:"engine"`
	// Games maps a registered game name to its own config section.
	Games map[string]map[string]any `koanf:"games"`
}

// Module is a config section choosing a plugin by name; the other keys of
// the section are the plugin's own and decoded by it.
type Module struct {
	Plugin string         `koanf:"plugin"`
	Config map[string]any `koanf:",remain"`
}

// Topics names the Kafka topics.
type Topics struct {
	Actions string `koanf:"actions"` // default veltrix.actions
	Events  string `koanf:"events"`  // default veltrix.events
	// Partitions of the actions topic, created when missing. Default 4.
	Partitions int `koanf:"partitions"`
	// Replication factor for created topics. Default 1.
	Replication int `koanf:"replication"`
}

// Gateway configures the WebSocket tier.
type Gateway struct {
	Listen string `koanf:"listen"` // default 127.0.0.1:8080
	// MaxFrameBytes bounds one client message; larger frames close the
	// connection with 1009. Default 4096.
	MaxFrameBytes int `koanf:"max_frame_bytes"`
	// WriteTimeout bounds one write to a client. Default 10s.
	WriteTimeout time.Duration `koanf:"write_timeout"`
	// QueueLimit caps the messages waiting to be written to one client; a
	// client that falls further behind is disconnected. Default 256.
	QueueLimit int `koanf:"queue_limit"`
	// IdleTimeout closes a connection that sends nothing (pings included).
	// Default 60s.
	IdleTimeout time.Duration `koanf:"idle_timeout"`
	// HandshakeTimeout bounds reading the HTTP upgrade request. Default 5s.
	HandshakeTimeout time.Duration `koanf:"handshake_timeout"`
	// ReadBufferBytes is each connection's read buffer. Default 256.
	ReadBufferBytes int `koanf:"read_buffer_bytes"`
	// SendBufferBytes is each socket's kernel send buffer (SO_SNDBUF): it
	// bounds what a client that does not read holds. Default 32768; -1 the
	// kernel's autotuning.
	SendBufferBytes int `koanf:"send_buffer_bytes"`
	// PingInterval: a connection silent this long is pinged. Default 25s.
	PingInterval time.Duration `koanf:"ping_interval"`
	// MaxConns caps player connections. Default: the open-file limit - 256.
	MaxConns int `koanf:"max_conns"`
	// MaxConnsPerIP caps connections from one address (429 beyond).
	// Default 1000; -1 no cap (behind a proxy).
	MaxConnsPerIP int `koanf:"max_conns_per_ip"`
	// MessageRate (frames/s) and MessageBurst: a token bucket per
	// connection; a sustained flood is closed with 1008. Defaults 20 and
	// 256; message_rate -1 turns it off.
	MessageRate  float64 `koanf:"message_rate"`
	MessageBurst int     `koanf:"message_burst"`
	// HandshakeRate (upgrades/s) and HandshakeBurst bound new connections
	// (503 beyond). Defaults 2000 and 2000; handshake_rate -1 turns it off.
	HandshakeRate  float64 `koanf:"handshake_rate"`
	HandshakeBurst int     `koanf:"handshake_burst"`
	// AllowedOrigins lists browser origins allowed to connect ("*" any).
	// Default empty: the gateway's own origin only.
	AllowedOrigins []string `koanf:"allowed_origins"`
	// DrainTimeout bounds the drain at shutdown. Default 10s.
	DrainTimeout time.Duration `koanf:"drain_timeout"`
	// ResumeSecret signs resume tokens: the same on every gateway, so
	// players resume on any (at least 16 bytes; empty: random, this gateway only).
	ResumeSecret string `koanf:"resume_secret"`
	// ResumeTTL is how long a resume token is valid. Default 30m.
	ResumeTTL time.Duration `koanf:"resume_ttl"`
	// HistoryWindow and HistoryBytes bound the recent events kept for
	// resuming clients. Defaults 2m and 67108864; history_bytes -1 keeps none.
	HistoryWindow time.Duration `koanf:"history_window"`
	HistoryBytes  int           `koanf:"history_bytes"`
	Auth          Module        `koanf:"auth"`
	ClientID      string        `koanf:"client_id"` // default veltrix-gateway-<host>-<pid>
}

// Engine configures the stateful tier.
type Engine struct {
	Group    string `koanf:"group"`     // consumer group, default veltrix-engine
	ClientID string `koanf:"client_id"` // default veltrix-engine
	// InstanceID makes the engine a static group member: restarted with the
	// same id (after a crash, say), it gets its partitions back at once
	// instead of after the session timeout. Give each engine its own.
	// Default empty: dynamic membership.
	InstanceID string `koanf:"instance_id"`
	// Workers run the rules of different partitions in parallel, each with
	// its own Lua state. Default: the number of CPUs, at most
	// topics.partitions (a partition is never split between workers).
	Workers  int        `koanf:"workers"`
	Sessions Store      `koanf:"sessions"`
	Audit    AuditStore `koanf:"audit"`
}

// Admin configures the operator's HTTP endpoint (metrics, health, audit).
type Admin struct {
	// Listen is its address; empty disables it. Keep it off the players' network.
	Listen string `koanf:"listen"`
}

// Store configures one RocksDB store.
type Store struct {
	Path string        `koanf:"path"` // default <data_dir>/sessions or <data_dir>/audit
	TTL  time.Duration `koanf:"ttl"`  // sessions 30m, audit 2160h (90 days)
	Sync bool          `koanf:"sync"` // fsync every batch
	// CompactEvery triggers a compaction so expired rows go even from an
	// idle store. Default 10m.
	CompactEvery time.Duration `koanf:"compact_every"`
	// BlockCacheMB is the store's RocksDB block cache. Default 64 for
	// sessions, 16 for audit.
	BlockCacheMB int `koanf:"block_cache_mb"`
	// MinFreeMB is the free space the store leaves on its disk: writes that
	// would go below it fail (the engine stops) and a start with less fails.
	// Default 64 for sessions, 256 for audit.
	MinFreeMB int `koanf:"min_free_mb"`
}

// AuditStore configures the audit store and its sink.
type AuditStore struct {
	Store `koanf:",squash"`
	Sink  AuditSink `koanf:"sink"`
}

// AuditSink chooses the plugin ("veltrix.audit.<name>") that exports audit
// rows older than OlderThan to long-term storage, every Every. Its other
// keys are the plugin's own.
type AuditSink struct {
	Plugin    string         `koanf:"plugin"`     // empty: no sink
	OlderThan time.Duration  `koanf:"older_than"` // default 720h (30 days); must be below engine.audit.ttl
	Every     time.Duration  `koanf:"every"`      // default 1h
	Config    map[string]any `koanf:",remain"`
}

// Defaults fills zero values.
func (c *Config) Defaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	defInt := func(i *int, v int) {
		if *i == 0 {
			*i = v
		}
	}
	defDur := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.DataDir, "data")
	def(&c.LogLevel, "info")
	def(&c.Broker.Plugin, "embedded")
	def(&c.Topics.Actions, "veltrix.actions")
	def(&c.Topics.Events, "veltrix.events")
	defInt(&c.Topics.Partitions, 4)
	defInt(&c.Topics.Replication, 1)
	def(&c.Gateway.Listen, "127.0.0.1:8080")
	defInt(&c.Gateway.MaxFrameBytes, 4096)
	defDur(&c.Gateway.WriteTimeout, 10*time.Second)
	defInt(&c.Gateway.QueueLimit, 256)
	defDur(&c.Gateway.IdleTimeout, 60*time.Second)
	defDur(&c.Gateway.HandshakeTimeout, 5*time.Second)
	defInt(&c.Gateway.ReadBufferBytes, 256)
	defInt(&c.Gateway.SendBufferBytes, 32<<10)
	defDur(&c.Gateway.PingInterval, 25*time.Second)
	defInt(&c.Gateway.MaxConnsPerIP, 1000)
	if c.Gateway.MessageRate == 0 {
		c.Gateway.MessageRate = 20
	}
	defInt(&c.Gateway.MessageBurst, 256)
	if c.Gateway.HandshakeRate == 0 {
		c.Gateway.HandshakeRate = 2000
	}
	defInt(&c.Gateway.HandshakeBurst, 2000)
	defDur(&c.Gateway.DrainTimeout, 10*time.Second)
	defDur(&c.Gateway.ResumeTTL, 30*time.Minute)
	defDur(&c.Gateway.HistoryWindow, 2*time.Minute)
	defInt(&c.Gateway.HistoryBytes, 64<<20)
	def(&c.Gateway.Auth.Plugin, "anonymous")
	if c.Gateway.ClientID == "" {
		host, _ := os.Hostname()
		c.Gateway.ClientID = fmt.Sprintf("veltrix-gateway-%s-%d", host, os.Getpid())
	}
	def(&c.Engine.Group, "veltrix-engine")
	def(&c.Engine.ClientID, "veltrix-engine")
	if c.Engine.Workers == 0 {
		c.Engine.Workers = min(runtime.GOMAXPROCS(0), c.Topics.Partitions)
	}
	def(&c.Engine.Sessions.Path, filepath.Join(c.DataDir, "sessions"))
	def(&c.Engine.Audit.Path, filepath.Join(c.DataDir, "audit"))
	defDur(&c.Engine.Sessions.TTL, 30*time.Minute)
	defDur(&c.Engine.Audit.TTL, 90*24*time.Hour)
	defDur(&c.Engine.Sessions.CompactEvery, 10*time.Minute)
	defDur(&c.Engine.Audit.CompactEvery, 10*time.Minute)
	defInt(&c.Engine.Sessions.BlockCacheMB, 64)
	defInt(&c.Engine.Audit.BlockCacheMB, 16)
	defInt(&c.Engine.Sessions.MinFreeMB, 64)
	defInt(&c.Engine.Audit.MinFreeMB, 256)
	defDur(&c.Engine.Audit.Sink.OlderThan, 30*24*time.Hour)
	defDur(&c.Engine.Audit.Sink.Every, time.Hour)
}

// Validate checks values; each error names its key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s: %s", key, fmt.Sprintf(format, args...)))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level", "must be debug, info, warn or error, got %q", c.LogLevel)
	}
	if c.Topics.Actions == c.Topics.Events {
		bad("topics.events", "must differ from topics.actions (%q)", c.Topics.Actions)
	}
	if c.Topics.Partitions < 1 || c.Topics.Partitions > 10000 {
		bad("topics.partitions", "must be between 1 and 10000, got %d", c.Topics.Partitions)
	}
	if c.Topics.Replication < 1 || c.Topics.Replication > 32 {
		bad("topics.replication", "must be between 1 and 32, got %d", c.Topics.Replication)
	}
	if _, _, err := net.SplitHostPort(c.Gateway.Listen); err != nil {
		bad("gateway.listen", "must be host:port, got %q", c.Gateway.Listen)
	}
	if c.Gateway.MaxFrameBytes < 128 || c.Gateway.MaxFrameBytes > 1<<20 {
		bad("gateway.max_frame_bytes", "must be between 128 and 1048576, got %d", c.Gateway.MaxFrameBytes)
	}
	if c.Gateway.QueueLimit < 1 {
		bad("gateway.queue_limit", "must be at least 1, got %d", c.Gateway.QueueLimit)
	}
	if c.Gateway.ReadBufferBytes < 64 || c.Gateway.ReadBufferBytes > 1<<20 {
		bad("gateway.read_buffer_bytes", "must be between 64 and 1048576, got %d", c.Gateway.ReadBufferBytes)
	}
	if c.Gateway.PingInterval >= c.Gateway.IdleTimeout {
		bad("gateway.ping_interval", "must be below gateway.idle_timeout (%s), got %s", c.Gateway.IdleTimeout, c.Gateway.PingInterval)
	}
	for key, n := range map[string]int{
		"gateway.max_conns":         c.Gateway.MaxConns,
		"gateway.max_conns_per_ip":  c.Gateway.MaxConnsPerIP,
		"gateway.message_burst":     c.Gateway.MessageBurst,
		"gateway.handshake_burst":   c.Gateway.HandshakeBurst,
		"gateway.history_bytes":     c.Gateway.HistoryBytes,
		"gateway.send_buffer_bytes": c.Gateway.SendBufferBytes,
	} {
		if n < -1 || (n == -1 && (key == "gateway.max_conns" || strings.HasSuffix(key, "_burst"))) {
			bad(key, "must not be negative, got %d", n)
		}
	}
	for key, r := range map[string]float64{"gateway.message_rate": c.Gateway.MessageRate, "gateway.handshake_rate": c.Gateway.HandshakeRate} {
		if r < 0 && r != -1 {
			bad(key, "must be positive (or -1: no limit), got %v", r)
		}
	}
	if s := c.Gateway.ResumeSecret; s != "" && len(s) < 16 {
		bad("gateway.resume_secret", "must be at least 16 bytes, got %d", len(s))
	}
	for key, d := range map[string]time.Duration{
		"gateway.write_timeout":         c.Gateway.WriteTimeout,
		"gateway.idle_timeout":          c.Gateway.IdleTimeout,
		"gateway.handshake_timeout":     c.Gateway.HandshakeTimeout,
		"gateway.drain_timeout":         c.Gateway.DrainTimeout,
		"gateway.resume_ttl":            c.Gateway.ResumeTTL,
		"gateway.history_window":        c.Gateway.HistoryWindow,
		"engine.sessions.ttl":           c.Engine.Sessions.TTL,
		"engine.audit.ttl":              c.Engine.Audit.TTL,
		"engine.sessions.compact_every": c.Engine.Sessions.CompactEvery,
		"engine.audit.compact_every":    c.Engine.Audit.CompactEvery,
		"engine.audit.sink.older_than":  c.Engine.Audit.Sink.OlderThan,
		"engine.audit.sink.every":       c.Engine.Audit.Sink.Every,
	} {
		if d < 0 {
			bad(key, "must not be negative, got %s", d)
		}
	}
	for key, n := range map[string]int{
		"engine.sessions.block_cache_mb": c.Engine.Sessions.BlockCacheMB,
		"engine.audit.block_cache_mb":    c.Engine.Audit.BlockCacheMB,
	} {
		if n < 1 || n > 1<<20 {
			bad(key, "must be between 1 and 1048576 (MB), got %d", n)
		}
	}
	// At least 4 write buffers (4 MiB each): see engine/store/space.go.
	for key, n := range map[string]int{
		"engine.sessions.min_free_mb": c.Engine.Sessions.MinFreeMB,
		"engine.audit.min_free_mb":    c.Engine.Audit.MinFreeMB,
	} {
		if n < 16 || n > 1<<20 {
			bad(key, "must be between 16 and 1048576 (MB), got %d", n)
		}
	}
	if c.Engine.Audit.Sink.Plugin != "" && c.Engine.Audit.Sink.OlderThan >= c.Engine.Audit.TTL {
		bad("engine.audit.sink.older_than", "must be below engine.audit.ttl (%s), got %s: rows would expire before they are exported",
			c.Engine.Audit.TTL, c.Engine.Audit.Sink.OlderThan)
	}
	if c.Engine.Workers < 1 || c.Engine.Workers > 256 {
		bad("engine.workers", "must be between 1 and 256, got %d", c.Engine.Workers)
	}
	if c.Engine.Sessions.Path == c.Engine.Audit.Path {
		bad("engine.audit.path", "must differ from engine.sessions.path (%q): the stores have different lifetimes", c.Engine.Audit.Path)
	}
	if c.Admin.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Admin.Listen); err != nil {
			bad("admin.listen", "must be host:port, got %q", c.Admin.Listen)
		}
	}
	if len(c.Games) == 0 {
		bad("games", "no game configured")
	}
	return errors.Join(errs...)
}

// Load reads path (may be empty), then the environment (environ, usually
// os.Environ()), then sets ("key=value" pairs from --set flags).
func Load(path string, environ []string, sets []string) (*Config, error) {
	k := koanf.New(".")
	if path != "" {
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return nil, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	if err := k.Load(env.Provider(".", env.Opt{
		Prefix:        EnvPrefix,
		EnvironFunc:   func() []string { return environ },
		TransformFunc: envKey,
	}), nil); err != nil {
		return nil, fmt.Errorf("config: environment: %w", err)
	}
	if len(sets) > 0 {
		m := make(map[string]any, len(sets))
		for _, s := range sets {
			key, val, ok := strings.Cut(s, "=")
			if !ok || key == "" {
				return nil, fmt.Errorf("config: --set %q: want key=value", s)
			}
			m[key] = val
		}
		if err := k.Load(confmap.Provider(m, "."), nil); err != nil {
			return nil, fmt.Errorf("config: --set: %w", err)
		}
	}
	var c Config
	if err := Strict(k.Raw(), &c); err != nil {
		return nil, withEnvHint(err, environ)
	}
	c.Defaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// withEnvHint adds to an unknown-key error the environment variables that
// look like a level separator written with one underscore
// (VELTRIX_GATEWAY_LISTEN for VELTRIX_GATEWAY__LISTEN), a common slip.
func withEnvHint(err error, environ []string) error {
	if !strings.Contains(err.Error(), "unknown key") {
		return err
	}
	var hints []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		rest, ok := strings.CutPrefix(name, EnvPrefix)
		if !ok || strings.Contains(rest, "__") {
			continue
		}
		key, _ := envKey(name, "")
		if strings.Contains(err.Error(), key) {
			hints = append(hints, fmt.Sprintf("%s reads as key %q: environment names write __ between levels (VELTRIX_GATEWAY__LISTEN is gateway.listen)", name, key))
		}
	}
	if len(hints) == 0 {
		return err
	}
	return fmt.Errorf("%w\n%s", err, strings.Join(hints, "\n"))
}

// envKey maps VELTRIX_GATEWAY__MAX_FRAME_BYTES to gateway.max_frame_bytes.
func envKey(k, v string) (string, any) {
	k = strings.TrimPrefix(k, EnvPrefix)
	return strings.ReplaceAll(strings.ToLower(k), "__", "."), v
}

// Strict decodes a raw config map into out, refusing unknown keys, while
// keeping the decode hooks that parse "5s" durations and "64" numbers from
// environment strings. Modules use it for their own sections.
func Strict(raw map[string]any, out any) error {
	if err := strict(raw, out); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

func strict(raw map[string]any, out any) error {
	var md mapstructure.Metadata
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			unitlessDuration,
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
			mapstructure.TextUnmarshallerHookFunc(),
		),
		WeaklyTypedInput: true,
		ErrorUnused:      true,
		Metadata:         &md,
		TagName:          "koanf",
		Result:           out,
	})
	if err != nil {
		return err
	}
	if err := dec.Decode(raw); err != nil {
		return cleanDecodeError(err)
	}
	return nil
}

// unitlessDuration refuses a bare number where a duration is wanted:
// YAML's `ttl: 30` would otherwise be 30 nanoseconds. (A string such as
// "30" from the environment or --set fails time.ParseDuration already.)
func unitlessDuration(from, to reflect.Type, v any) (any, error) {
	if to != reflect.TypeFor[time.Duration]() {
		return v, nil
	}
	switch from.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		if reflect.ValueOf(v).IsZero() {
			return v, nil // 0 is 0 in any unit
		}
		return nil, fmt.Errorf("%v has no unit: write a duration such as %vs or %vms", v, v, v)
	}
	return v, nil
}

// quotedKey is how mapstructure names a key at the start of a line: 'a.b' .
var quotedKey = regexp.MustCompile(`(?m)^'([A-Za-z0-9_.\[\]-]+)' `)

// cleanDecodeError rewords mapstructure's messages so they name keys the way
// the YAML file does.
func cleanDecodeError(err error) error {
	msg := err.Error()
	msg = strings.ReplaceAll(msg, "decoding failed due to the following error(s):\n\n", "")
	msg = strings.ReplaceAll(msg, "'' has invalid keys", "unknown key(s)")
	msg = strings.ReplaceAll(msg, "has invalid keys", "has unknown key(s)")
	msg = quotedKey.ReplaceAllString(msg, "$1: ")
	for from, to := range map[string]string{
		"cannot parse value as 'int': strconv.ParseInt: invalid syntax":       "not an integer",
		"cannot parse value as 'float64': strconv.ParseFloat: invalid syntax": "not a number",
		"cannot parse value as 'bool': strconv.ParseBool: invalid syntax":     "not true or false",
		"time: missing unit in duration":                                      "a duration needs a unit (500ms, 30s, 30m, 2160h)",
		"time: invalid duration":                                              "not a duration (500ms, 30s, 30m, 2160h)",
	} {
		msg = strings.ReplaceAll(msg, from, to)
	}
	return errors.New(msg)
}

// Decoder returns a function that strictly decodes raw into a module.
func Decoder(raw map[string]any) func(into any) error {
	return func(into any) error {
		if raw == nil {
			return nil
		}
		if reflect.TypeOf(into).Kind() != reflect.Pointer {
			return fmt.Errorf("config: module is not a pointer")
		}
		return strict(raw, into)
	}
}
