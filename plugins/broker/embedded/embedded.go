// Package embedded is the "embedded" broker plugin: an in-process
// Kafka-protocol broker (franz-go's kfake) keeping its log in the data dir,
// so `make run` needs no services. It is not Kafka (no replication, no
// first-join delay); production and the integration suite use real Kafka.
package embedded

import (
	"fmt"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/veltrix/veltrix/engine/kafka"
	"github.com/veltrix/veltrix/engine/plugin"
)

func init() {
	plugin.Register(plugin.Info{ID: "veltrix.broker.embedded", New: func() any { return new(Broker) }})
}

// Broker runs a kfake cluster for the process's lifetime.
type Broker struct {
	// Port to listen on (127.0.0.1 only). Default 0: any free port.
	Port int `koanf:"port"`
	// Dir keeps the broker's log. Default <data_dir>/broker.
	Dir string `koanf:"dir"`

	cluster *kfake.Cluster
}

// Validate implements plugin.Validator.
func (b *Broker) Validate() error {
	if b.Port < 0 || b.Port > 65535 {
		return fmt.Errorf("broker.port: must be 0-65535, got %d", b.Port)
	}
	return nil
}

// Provision starts the broker.
func (b *Broker) Provision(ctx plugin.Context) error {
	if b.Dir == "" {
		b.Dir = filepath.Join(ctx.DataDir, "broker")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(b.Port), kfake.DataDir(b.Dir))
	if err != nil {
		return fmt.Errorf("start embedded broker on 127.0.0.1:%d (dir %s): %w", b.Port, b.Dir, err)
	}
	b.cluster = c
	return nil
}

// Seeds implements kafka.Broker.
func (b *Broker) Seeds() []string { return b.cluster.ListenAddrs() }

// Cleanup stops the broker, flushing its log.
func (b *Broker) Cleanup() error {
	if b.cluster != nil {
		b.cluster.Close()
		b.cluster = nil
	}
	return nil
}

// Interface guards.
var (
	_ kafka.Broker        = (*Broker)(nil)
	_ plugin.Provisioner  = (*Broker)(nil)
	_ plugin.Validator    = (*Broker)(nil)
	_ plugin.CleanerUpper = (*Broker)(nil)
)
