// Package kafka is the engine's and gateway's edge to Kafka: client options
// tuned for a game's latency, topic set-up, and the Broker contract that broker
// plugins (embedded kfake, external Kafka) fulfil.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Broker is what a broker plugin gives the host: where to connect.
type Broker interface {
	Seeds() []string
}

// Batching is how long Kafka clients wait to send and fetch records in
// bulk. Each produce or fetch request costs the broker about the same
// whatever it carries, so at thousands of actions a second batching cuts the
// broker's CPU several times over, for a few milliseconds of latency.
// The zero value sends and fetches at once (lowest latency, most requests).
type Batching struct {
	// Linger is how long a producer waits for more records before sending.
	Linger time.Duration
	// FetchMinBytes: the broker holds a fetch until this many bytes are
	// ready, or FetchMaxWait passed. 0 or 1: answer as soon as any are.
	FetchMinBytes int32
	// FetchMaxWait bounds that wait (franz-go allows 10ms or more). 0: 10ms.
	FetchMaxWait time.Duration
}

// Batcher is implemented by broker plugins whose clients batch (the
// external Kafka one; the embedded broker has no requests to save).
type Batcher interface {
	Batching() Batching
}

// BatchingOf returns b's batching, or none when it does not batch.
func BatchingOf(b Broker) Batching {
	if bb, ok := b.(Batcher); ok {
		return bb.Batching()
	}
	return Batching{}
}

// HeaderTo names the record header carrying an event's recipient player;
// absent for events to the whole hunt. Gateways route on it without parsing
// the payload.
const HeaderTo = "to"

// ClientOpts are the options shared by every Veltrix client. Linger is
// b.Linger, not franz-go's default 10 ms, which would be paid on both hops
// of every action. A nil log means slog.Default().
func ClientOpts(seeds []string, clientID string, b Batching, log *slog.Logger) []kgo.Opt {
	if log == nil {
		log = slog.Default()
	}
	if b.FetchMaxWait <= 0 {
		b.FetchMaxWait = 10 * time.Millisecond
	}
	return []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID(clientID),
		kgo.ProducerLinger(b.Linger),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.FetchMaxWait(b.FetchMaxWait),
		kgo.FetchMinBytes(max(b.FetchMinBytes, 1)),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.WithLogger(slogAdapter{log}),
		kgo.RetryTimeout(30 * time.Second),
	}
}

// EnsureTopics creates the topics that are missing, each with partitions and
// replication, and reports a topic whose partition count differs: hunts are
// routed by key hash, so a changed count moves hunts between partitions.
func EnsureTopics(ctx context.Context, cl *kgo.Client, partitions int32, replication int16, topics ...string) error {
	adm := kadm.NewClient(cl)
	details, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return fmt.Errorf("kafka: list topics: %w", err)
	}
	var errs []error
	for _, t := range topics {
		d, ok := details[t]
		if ok && d.Err == nil {
			if got := int32(len(d.Partitions)); got != partitions {
				errs = append(errs, fmt.Errorf("kafka: topic %s has %d partitions, config topics.partitions says %d: "+
					"fix the config, or repartition with care (hunts move between partitions)", t, got, partitions))
			}
			continue
		}
		if ok && d.Err != nil && !errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
			errs = append(errs, fmt.Errorf("kafka: topic %s: %w", t, d.Err))
			continue
		}
		resp, err := adm.CreateTopic(ctx, partitions, replication, nil, t)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("kafka: create topic %s (%d partitions, replication %d): %w", t, partitions, replication, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return waitServed(ctx, adm, partitions, topics...)
}

// waitServed waits until every partition of topics answers a ListOffsets.
// A topic just created is not served by its leader at once (the controller
// propagates it), and a reader that asks too early is told
// UNKNOWN_TOPIC_OR_PARTITION.
func waitServed(ctx context.Context, adm *kadm.Client, partitions int32, topics ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		ends, err := adm.ListEndOffsets(ctx, topics...)
		if err == nil {
			err = ends.Error()
		}
		if err == nil {
			for _, t := range topics {
				if got := int32(len(ends[t])); got < partitions {
					err = fmt.Errorf("topic %s: %d of %d partitions served", t, got, partitions)
				}
			}
			if err == nil {
				return nil
			}
		} else if !kerr.IsRetriable(err) && !errors.Is(err, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("kafka: topics %s: %w", strings.Join(topics, ","), err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafka: topics %s not served after 30 s: %w", strings.Join(topics, ","), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// WaitReachable waits until the cluster answers a metadata request, so a
// wrong address fails at start with a clear message rather than later.
func WaitReachable(ctx context.Context, cl *kgo.Client, seeds []string) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var last error
	for {
		if last = cl.Ping(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafka: brokers %s unreachable: %w", strings.Join(seeds, ","), last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Level() kgo.LogLevel {
	if a.l.Enabled(context.Background(), slog.LevelDebug) {
		return kgo.LogLevelInfo
	}
	return kgo.LogLevelWarn
}

func (a slogAdapter) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	l := slog.LevelInfo
	switch level {
	case kgo.LogLevelError:
		l = slog.LevelError
	case kgo.LogLevelWarn:
		l = slog.LevelWarn
	case kgo.LogLevelDebug:
		l = slog.LevelDebug
	}
	a.l.Log(context.Background(), l, "kafka: "+msg, keyvals...)
}
