// Package kafka is the "kafka" broker plugin: an external Apache Kafka
// cluster (see scripts/kafka.sh for a local single-node one).
package kafka

import (
	"errors"
	"fmt"
	"net"

	ekafka "github.com/veltrix/veltrix/engine/kafka"
	"github.com/veltrix/veltrix/engine/plugin"
)

func init() {
	plugin.Register(plugin.Info{ID: "veltrix.broker.kafka", New: func() any { return new(Broker) }})
}

// Broker names the seed brokers of a cluster.
type Broker struct {
	// Brokers are host:port seeds, e.g. [127.0.0.1:9092].
	Brokers []string `koanf:"brokers"`
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
	return nil
}

// Seeds implements kafka.Broker.
func (b *Broker) Seeds() []string { return b.Brokers }

// Interface guards.
var (
	_ ekafka.Broker    = (*Broker)(nil)
	_ plugin.Validator = (*Broker)(nil)
)
