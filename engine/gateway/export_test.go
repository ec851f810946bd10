package gateway

import (
	"io"
	"log/slog"
)

// Internals the integration tests (package gateway_test) observe.

// QueueHighWater is the longest any connection's write queue has been.
func (g *Gateway) QueueHighWater() int64 { return g.maxQueue.Load() }

// Queued is the number of frames waiting over all connections.
func (g *Gateway) Queued() int64 { return g.queued.Load() }

// EventsRead is the number of events read from the events topic.
func (g *Gateway) EventsRead() int64 { return g.read.Load() }

// PartitionOf is the events partition of a hunt.
func (g *Gateway) PartitionOf(hunt string) int32 { return g.partitionOf(hunt) }

type slogLogger = slog.Logger

var slogDiscard = slog.New(slog.NewTextHandler(io.Discard, nil))
