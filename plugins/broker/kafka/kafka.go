// Package kafka is the "kafka" broker plugin: an external Apache Kafka
// cluster (see scripts/kafka.sh for a local single-node one).
package kafka

import (
	"errors"
	"fmt"
	"net"
	"time"

	ekafka "github.com/veltrix/veltrix/engine/kafka"
	"github.com/veltrix/veltrix/engine/plugin"
)

func init() {
	plugin.Register(plugin.Info{ID: "veltrix.broker.kafka", New: func() any {
		return &Broker{Linger: DefaultLinger, FetchMinBytes: DefaultFetchMinBytes, FetchMaxWait: DefaultFetchMaxWait}
	}})
}

// The batching defaults trade a few milliseconds at low load for a broker
// that keeps up at tens of thousands of actions a second: sending and
// fetching at once made the broker's JVM the largest CPU user on a 2-core
// machine at 5,000 actions/s (docs/performance.md).
const (
	DefaultLinger        = 5 * time.Millisecond
	DefaultFetchMinBytes = 64 << 10
	DefaultFetchMaxWait  = 10 * time.Millisecond
)

// Broker names the seed brokers of a cluster and how its clients batch.
type Broker struct {
	// Brokers are host:port seeds, e.g. [127.0.0.1:9092].
	Brokers []string `koanf:"brokers"`
	// Linger: producers wait this long for more records. 0 sends at once.
	Linger time.Duration `koanf:"linger"`
	// FetchMinBytes: the broker answers a fetch once this many bytes are
	// ready or FetchMaxWait passed. 1 answers at once.
	FetchMinBytes int32 `koanf:"fetch_min_bytes"`
	// FetchMaxWait bounds that wait; franz-go allows 10ms or more.
	FetchMaxWait time.Duration `koanf:"fetch_max_wait"`
}

// Validate implements plugin.Validator.
func (b *Broker) Validate() error {
	if len(b.Brokers) == 0 {
		return errors.New("broker.brokers: at least one host:port is needed")
	}
	for _, s := range b.Brokers {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return fmt.Errorf("broker.brokers: %q is not host:port", s)
		}
	}
	switch {
	case b.Linger < 0 || b.Linger > time.Second:
		return fmt.Errorf("broker.linger: %s is not between 0 and 1s", b.Linger)
	case b.FetchMinBytes < 1:
		return fmt.Errorf("broker.fetch_min_bytes: %d must be at least 1", b.FetchMinBytes)
	case b.FetchMaxWait < 10*time.Millisecond || b.FetchMaxWait > 5*time.Second:
		return fmt.Errorf("broker.fetch_max_wait: %s is not between 10ms and 5s", b.FetchMaxWait)
	}
	return nil
}

// Seeds implements kafka.Broker.
func (b *Broker) Seeds() []string { return b.Brokers }

// Batching implements kafka.Batcher.
func (b *Broker) Batching() ekafka.Batching {
	return ekafka.Batching{Linger: b.Linger, FetchMinBytes: b.FetchMinBytes, FetchMaxWait: b.FetchMaxWait}
}

// Interface guards.
var (
	_ ekafka.Broker    = (*Broker)(nil)
	_ ekafka.Batcher   = (*Broker)(nil)
	_ plugin.Validator = (*Broker)(nil)
)
