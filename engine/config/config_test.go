package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const minimal = "games:\n  treasurehunt: {}\n"

func TestDefaults(t *testing.T) {
	c, err := Load(writeFile(t, minimal), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Gateway.Listen != "127.0.0.1:8080" || c.Gateway.MaxFrameBytes != 4096 ||
		c.Engine.Sessions.TTL != 30*time.Minute || c.Engine.Audit.TTL != 90*24*time.Hour ||
		c.Engine.Sessions.Path != filepath.Join("data", "sessions") || c.Engine.Audit.Path != filepath.Join("data", "audit") ||
		c.Broker.Plugin != "embedded" || c.Gateway.Auth.Plugin != "anonymous" || c.Topics.Partitions != 4 {
		t.Fatalf("defaults: %+v", c)
	}
}

// Every scalar key can be overridden from the environment, including keys
// that contain "_" (the usual "_" to "." mapping loses those).
func TestEnvOverrideEveryKey(t *testing.T) {
	for _, tc := range []struct {
		env  string
		val  string
		get  func(*Config) any
		want any
	}{
		{"DATA_DIR", "/tmp/x", func(c *Config) any { return c.DataDir }, "/tmp/x"},
		{"LOG_LEVEL", "debug", func(c *Config) any { return c.LogLevel }, "debug"},
		{"BROKER__PLUGIN", "kafka", func(c *Config) any { return c.Broker.Plugin }, "kafka"},
		{"BROKER__BROKERS", "a:1,b:2", func(c *Config) any { return c.Broker.Config["brokers"] }, "a:1,b:2"},
		{"TOPICS__ACTIONS", "acts", func(c *Config) any { return c.Topics.Actions }, "acts"},
		{"TOPICS__EVENTS", "evs", func(c *Config) any { return c.Topics.Events }, "evs"},
		{"TOPICS__PARTITIONS", "12", func(c *Config) any { return c.Topics.Partitions }, 12},
		{"TOPICS__REPLICATION", "3", func(c *Config) any { return c.Topics.Replication }, 3},
		{"GATEWAY__LISTEN", "0.0.0.0:9000", func(c *Config) any { return c.Gateway.Listen }, "0.0.0.0:9000"},
		{"GATEWAY__MAX_FRAME_BYTES", "8192", func(c *Config) any { return c.Gateway.MaxFrameBytes }, 8192},
		{"GATEWAY__WRITE_TIMEOUT", "3s", func(c *Config) any { return c.Gateway.WriteTimeout }, 3 * time.Second},
		{"GATEWAY__QUEUE_LIMIT", "64", func(c *Config) any { return c.Gateway.QueueLimit }, 64},
		{"GATEWAY__IDLE_TIMEOUT", "2m", func(c *Config) any { return c.Gateway.IdleTimeout }, 2 * time.Minute},
		{"GATEWAY__HANDSHAKE_TIMEOUT", "1s", func(c *Config) any { return c.Gateway.HandshakeTimeout }, time.Second},
		{"GATEWAY__CLIENT_ID", "gw7", func(c *Config) any { return c.Gateway.ClientID }, "gw7"},
		{"GATEWAY__READ_BUFFER_BYTES", "1024", func(c *Config) any { return c.Gateway.ReadBufferBytes }, 1024},
		{"GATEWAY__SEND_BUFFER_BYTES", "65536", func(c *Config) any { return c.Gateway.SendBufferBytes }, 65536},
		{"GATEWAY__PING_INTERVAL", "10s", func(c *Config) any { return c.Gateway.PingInterval }, 10 * time.Second},
		{"GATEWAY__MAX_CONNS", "19000", func(c *Config) any { return c.Gateway.MaxConns }, 19000},
		{"GATEWAY__MAX_CONNS_PER_IP", "-1", func(c *Config) any { return c.Gateway.MaxConnsPerIP }, -1},
		{"GATEWAY__MESSAGE_RATE", "2.5", func(c *Config) any { return c.Gateway.MessageRate }, 2.5},
		{"GATEWAY__MESSAGE_BURST", "5", func(c *Config) any { return c.Gateway.MessageBurst }, 5},
		{"GATEWAY__HANDSHAKE_RATE", "-1", func(c *Config) any { return c.Gateway.HandshakeRate }, -1.0},
		{"GATEWAY__HANDSHAKE_BURST", "100", func(c *Config) any { return c.Gateway.HandshakeBurst }, 100},
		{"GATEWAY__ALLOWED_ORIGINS", "https://a.example,https://b.example", func(c *Config) any { return c.Gateway.AllowedOrigins }, []string{"https://a.example", "https://b.example"}},
		{"GATEWAY__DRAIN_TIMEOUT", "3s", func(c *Config) any { return c.Gateway.DrainTimeout }, 3 * time.Second},
		{"GATEWAY__RESUME_SECRET", "0123456789abcdef0123", func(c *Config) any { return c.Gateway.ResumeSecret }, "0123456789abcdef0123"},
		{"GATEWAY__RESUME_TTL", "1h", func(c *Config) any { return c.Gateway.ResumeTTL }, time.Hour},
		{"GATEWAY__HISTORY_WINDOW", "30s", func(c *Config) any { return c.Gateway.HistoryWindow }, 30 * time.Second},
		{"GATEWAY__HISTORY_BYTES", "1048576", func(c *Config) any { return c.Gateway.HistoryBytes }, 1 << 20},
		{"GATEWAY__AUTH__SECRET", "s3cr3t", func(c *Config) any { return c.Gateway.Auth.Config["secret"] }, "s3cr3t"},
		{"GATEWAY__AUTH__PLUGIN", "token", func(c *Config) any { return c.Gateway.Auth.Plugin }, "token"},
		{"ENGINE__GROUP", "g2", func(c *Config) any { return c.Engine.Group }, "g2"},
		{"ENGINE__INSTANCE_ID", "engine-7", func(c *Config) any { return c.Engine.InstanceID }, "engine-7"},
		{"ENGINE__CLIENT_ID", "e2", func(c *Config) any { return c.Engine.ClientID }, "e2"},
		{"ADMIN__LISTEN", "127.0.0.1:9100", func(c *Config) any { return c.Admin.Listen }, "127.0.0.1:9100"},
		{"ENGINE__SESSIONS__PATH", "/s", func(c *Config) any { return c.Engine.Sessions.Path }, "/s"},
		{"ENGINE__SESSIONS__TTL", "45m", func(c *Config) any { return c.Engine.Sessions.TTL }, 45 * time.Minute},
		{"ENGINE__SESSIONS__SYNC", "true", func(c *Config) any { return c.Engine.Sessions.Sync }, true},
		{"ENGINE__SESSIONS__COMPACT_EVERY", "1m", func(c *Config) any { return c.Engine.Sessions.CompactEvery }, time.Minute},
		{"ENGINE__AUDIT__PATH", "/a", func(c *Config) any { return c.Engine.Audit.Path }, "/a"},
		{"ENGINE__AUDIT__TTL", "720h", func(c *Config) any { return c.Engine.Audit.TTL }, 720 * time.Hour},
		{"ENGINE__AUDIT__SYNC", "true", func(c *Config) any { return c.Engine.Audit.Sync }, true},
		{"ENGINE__AUDIT__COMPACT_EVERY", "2m", func(c *Config) any { return c.Engine.Audit.CompactEvery }, 2 * time.Minute},
		{"ENGINE__SESSIONS__BLOCK_CACHE_MB", "128", func(c *Config) any { return c.Engine.Sessions.BlockCacheMB }, 128},
		{"ENGINE__SESSIONS__MIN_FREE_MB", "32", func(c *Config) any { return c.Engine.Sessions.MinFreeMB }, 32},
		{"ENGINE__AUDIT__BLOCK_CACHE_MB", "8", func(c *Config) any { return c.Engine.Audit.BlockCacheMB }, 8},
		{"ENGINE__AUDIT__MIN_FREE_MB", "512", func(c *Config) any { return c.Engine.Audit.MinFreeMB }, 512},
		{"ENGINE__AUDIT__SINK__PLUGIN", "jsonl", func(c *Config) any { return c.Engine.Audit.Sink.Plugin }, "jsonl"},
		{"ENGINE__AUDIT__SINK__OLDER_THAN", "240h", func(c *Config) any { return c.Engine.Audit.Sink.OlderThan }, 240 * time.Hour},
		{"ENGINE__AUDIT__SINK__EVERY", "15m", func(c *Config) any { return c.Engine.Audit.Sink.Every }, 15 * time.Minute},
		{"ENGINE__AUDIT__SINK__DIR", "/exp", func(c *Config) any { return c.Engine.Audit.Sink.Config["dir"] }, "/exp"},
		{"GAMES__TREASUREHUNT__HUNTS", "/h", func(c *Config) any { return c.Games["treasurehunt"]["hunts"] }, "/h"},
	} {
		t.Run(tc.env, func(t *testing.T) {
			c, err := Load(writeFile(t, minimal), []string{EnvPrefix + tc.env + "=" + tc.val}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.get(c); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("%s%s=%s gave %v (%T), want %v", EnvPrefix, tc.env, tc.val, got, got, tc.want)
			}
		})
	}
}

func TestPrecedenceFileEnvFlags(t *testing.T) {
	p := writeFile(t, minimal+"gateway:\n  queue_limit: 10\n  max_frame_bytes: 1000\n  listen: 127.0.0.1:1\n")
	c, err := Load(p, []string{"VELTRIX_GATEWAY__QUEUE_LIMIT=20", "VELTRIX_GATEWAY__MAX_FRAME_BYTES=2000"},
		[]string{"gateway.max_frame_bytes=3000"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Gateway.Listen != "127.0.0.1:1" || c.Gateway.QueueLimit != 20 || c.Gateway.MaxFrameBytes != 3000 {
		t.Fatalf("precedence: listen %s queue %d frame %d", c.Gateway.Listen, c.Gateway.QueueLimit, c.Gateway.MaxFrameBytes)
	}
}

func TestRefusesUnknownAndInvalid(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		env, sets  []string
		want       string
	}{
		{"misspelt top key", minimal + "gatway:\n  listen: x\n", nil, nil, "gatway"},
		{"misspelt nested key", minimal + "gateway:\n  max_frame_byte: 10\n", nil, nil, "max_frame_byte"},
		{"unknown env key", minimal, []string{"VELTRIX_ENGINE__SESION__TTL=1m"}, nil, "sesion"},
		{"bad duration", minimal + "engine:\n  sessions:\n    ttl: soon\n", nil, nil, "engine.sessions.ttl: not a duration"},
		{"duration without unit", minimal, []string{"VELTRIX_ENGINE__SESSIONS__TTL=5"}, nil, "engine.sessions.ttl: a duration needs a unit"},
		{"YAML number for a duration", minimal + "engine:\n  sessions:\n    ttl: 30\n", nil, nil, "engine.sessions.ttl: 30 has no unit: write a duration such as 30s"},
		{"bad number from env", minimal, []string{"VELTRIX_GATEWAY__MAX_FRAME_BYTES=lots"}, nil, "gateway.max_frame_bytes: not an integer"},
		{"one underscore for a level", minimal, []string{"VELTRIX_GATEWAY_LISTEN=1.2.3.4:80"}, nil, `VELTRIX_GATEWAY_LISTEN reads as key "gateway_listen": environment names write __ between levels`},
		{"out of range", minimal, nil, []string{"gateway.max_frame_bytes=10"}, "gateway.max_frame_bytes"},
		{"bad listen", minimal, nil, []string{"gateway.listen=8080"}, "gateway.listen"},
		{"same store paths", minimal, nil, []string{"engine.sessions.path=/x", "engine.audit.path=/x"}, "engine.audit.path"},
		{"sink older than ttl", minimal, nil, []string{"engine.audit.sink.plugin=jsonl", "engine.audit.sink.older_than=2200h"}, "engine.audit.sink.older_than"},
		{"negative min free", minimal, nil, []string{"engine.audit.min_free_mb=-1"}, "engine.audit.min_free_mb"},
		{"bad log level", minimal, nil, []string{"log_level=loud"}, "log_level"},
		{"ping after idle", minimal, nil, []string{"gateway.ping_interval=2m"}, "gateway.ping_interval"},
		{"short resume secret", minimal, nil, []string{"gateway.resume_secret=short"}, "gateway.resume_secret"},
		{"negative message rate", minimal, nil, []string{"gateway.message_rate=-3"}, "gateway.message_rate"},
		{"negative max conns", minimal, nil, []string{"gateway.max_conns=-1"}, "gateway.max_conns"},
		{"no game", "log_level: info\n", nil, nil, "games"},
		{"bad set flag", minimal, nil, []string{"novalue"}, "key=value"},
		{"yaml syntax", "gateway: [\n", nil, nil, "c.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeFile(t, tc.file), tc.env, tc.sets)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %q", err, tc.want)
			}
		})
	}
}

// Every file in configs/ loads: a typo there fails here, not at an operator's start.
func TestShippedConfigs(t *testing.T) {
	files, _ := filepath.Glob("../../configs/*.yaml")
	if len(files) < 2 {
		t.Fatalf("found %d config files", len(files))
	}
	for _, f := range files {
		if _, err := Load(f, nil, nil); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestModuleSectionsStayRawForTheirPlugins(t *testing.T) {
	c, err := Load(writeFile(t, minimal+"broker:\n  plugin: kafka\n  brokers: [a:1]\n"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var into struct {
		Brokers []string `koanf:"brokers"`
	}
	if err := Decoder(c.Broker.Config)(&into); err != nil || len(into.Brokers) != 1 {
		t.Fatalf("decode %v: %v", into, err)
	}
	var strict struct{}
	if err := Decoder(c.Broker.Config)(&strict); err == nil || !strings.Contains(err.Error(), "brokers") {
		t.Fatalf("a plugin without that key must refuse it, got %v", err)
	}
}
