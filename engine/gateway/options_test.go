package gateway

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

type allowAll struct{}

func (allowAll) Authenticate(*http.Request) (string, error) { return "p", nil }

// TestDefaultOptions checks every default, as gws's option_test.go does.
func TestDefaultOptions(t *testing.T) {
	o, err := Options{Auth: allowAll{}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"MaxFrameBytes", o.MaxFrameBytes, DefaultMaxFrameBytes},
		{"ReadBufferBytes", o.ReadBufferBytes, DefaultReadBufferBytes},
		{"SendBufferBytes", o.SendBufferBytes, DefaultSendBufferBytes},
		{"WriteTimeout", o.WriteTimeout, DefaultWriteTimeout},
		{"QueueLimit", o.QueueLimit, DefaultQueueLimit},
		{"IdleTimeout", o.IdleTimeout, DefaultIdleTimeout},
		{"PingInterval", o.PingInterval, DefaultPingInterval},
		{"HandshakeTimeout", o.HandshakeTimeout, DefaultHandshakeTimeout},
		{"MaxConnsPerIP", o.MaxConnsPerIP, DefaultMaxConnsPerIP},
		{"MessageRate", o.MessageRate, float64(DefaultMessageRate)},
		{"MessageBurst", o.MessageBurst, DefaultMessageBurst},
		{"HandshakeRate", o.HandshakeRate, float64(DefaultHandshakeRate)},
		{"HandshakeBurst", o.HandshakeBurst, DefaultHandshakeBurst},
		{"DrainTimeout", o.DrainTimeout, DefaultDrainTimeout},
		{"ResumeTTL", o.ResumeTTL, DefaultResumeTTL},
		{"HistoryWindow", o.HistoryWindow, DefaultHistoryWindow},
		{"HistoryBytes", o.HistoryBytes, DefaultHistoryBytes},
		{"MaxConns", o.MaxConns, maxConnsFromRlimit()},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if o.Log == nil || o.Now == nil || len(o.ResumeSecret) != 32 {
		t.Errorf("Log %v, Now set %v, random resume secret of %d bytes", o.Log, o.Now != nil, len(o.ResumeSecret))
	}
	if o.PingInterval >= o.IdleTimeout {
		t.Errorf("ping interval %s not below idle timeout %s", o.PingInterval, o.IdleTimeout)
	}
}

func TestOptionsKeepSetValues(t *testing.T) {
	o, err := Options{
		Auth: allowAll{}, MaxFrameBytes: 100, QueueLimit: 3, MessageRate: -1, MaxConnsPerIP: -1,
		HistoryBytes: -1, IdleTimeout: time.Second, PingInterval: 5 * time.Second, ResumeSecret: []byte("0123456789abcdef"),
	}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if o.MaxFrameBytes != 100 || o.QueueLimit != 3 || o.MessageRate != -1 || o.MaxConnsPerIP != -1 || o.HistoryBytes != -1 ||
		string(o.ResumeSecret) != "0123456789abcdef" {
		t.Fatalf("set values changed: %+v", o)
	}
	if o.PingInterval != 500*time.Millisecond {
		t.Fatalf("a ping interval above the idle timeout must be lowered to half of it, got %s", o.PingInterval)
	}
}

func TestOptionsFailClosed(t *testing.T) {
	if _, err := (Options{}).withDefaults(); err == nil || !strings.Contains(err.Error(), "authenticator") {
		t.Fatalf("no Auth: err %v, want a refusal", err)
	}
	if _, err := (Options{Auth: allowAll{}, ResumeSecret: []byte("short")}).withDefaults(); err == nil {
		t.Fatal("a 5-byte resume secret was accepted")
	}
}

func TestMaxConnsFromRlimit(t *testing.T) {
	if n := maxConnsFromRlimit(); n < 1 {
		t.Fatalf("maxConnsFromRlimit = %d", n)
	}
}
