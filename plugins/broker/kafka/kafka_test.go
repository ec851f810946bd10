package kafka_test

import (
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/engine/config"
	ekafka "github.com/veltrix/veltrix/engine/kafka"
	"github.com/veltrix/veltrix/engine/plugin"
	"github.com/veltrix/veltrix/plugins/broker/kafka"
)

func load(t *testing.T, raw map[string]any) (ekafka.Batching, error) {
	t.Helper()
	m, err := plugin.Load("veltrix.broker", "kafka", config.Decoder(raw), plugin.Context{})
	if err != nil {
		return ekafka.Batching{}, err
	}
	return ekafka.BatchingOf(m.(ekafka.Broker)), nil
}

func TestBatchingDefaultsAndOverrides(t *testing.T) {
	b, err := load(t, map[string]any{"brokers": []any{"127.0.0.1:9092"}})
	if err != nil {
		t.Fatal(err)
	}
	want := ekafka.Batching{Linger: kafka.DefaultLinger, FetchMinBytes: kafka.DefaultFetchMinBytes, FetchMaxWait: kafka.DefaultFetchMaxWait}
	if b != want {
		t.Fatalf("defaults: got %+v, want %+v", b, want)
	}
	// Environment values arrive as strings.
	b, err = load(t, map[string]any{"brokers": "127.0.0.1:9092", "linger": "0s", "fetch_min_bytes": "1", "fetch_max_wait": "50ms"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (ekafka.Batching{FetchMinBytes: 1, FetchMaxWait: 50 * time.Millisecond}); b != want {
		t.Fatalf("overrides: got %+v, want %+v", b, want)
	}
}

func TestBatchingRefusesOutOfRange(t *testing.T) {
	for key, v := range map[string]any{"linger": "-1ms", "fetch_min_bytes": 0, "fetch_max_wait": "5ms"} {
		_, err := load(t, map[string]any{"brokers": []any{"127.0.0.1:9092"}, key: v})
		if err == nil || !strings.Contains(err.Error(), "broker."+key) {
			t.Errorf("%s=%v: got %v, want an error naming broker.%s", key, v, err, key)
		}
	}
}
