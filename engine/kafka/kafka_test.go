package kafka_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/engine/kafka"
)

// seeds is the real broker of make test-kafka, or an in-process kfake one.
func seeds(t *testing.T) []string {
	if s := os.Getenv("TEST_KAFKA_BROKERS"); s != "" {
		return strings.Split(s, ",")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func client(t *testing.T, seeds []string) *kgo.Client {
	cl, err := kgo.NewClient(kafka.ClientOpts(seeds, "test", kafka.Batching{}, nil)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Once EnsureTopics returns, a new client can read the topics' offsets at
// once: a gateway starting right after the engine created them must not be
// told UNKNOWN_TOPIC_OR_PARTITION (seen on a fresh KRaft broker in CI).
func TestEnsureTopicsReturnsWhenServed(t *testing.T) {
	s := seeds(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range 3 {
		topics := []string{fmt.Sprintf("ensure.a.%d.%d", time.Now().UnixNano(), i), fmt.Sprintf("ensure.b.%d.%d", time.Now().UnixNano(), i)}
		if err := kafka.EnsureTopics(ctx, client(t, s), 4, 1, topics...); err != nil {
			t.Fatal(err)
		}
		ends, err := kadm.NewClient(client(t, s)).ListEndOffsets(ctx, topics...)
		if err == nil {
			err = ends.Error()
		}
		if err != nil {
			t.Fatalf("right after EnsureTopics: %v", err)
		}
		for _, tp := range topics {
			if len(ends[tp]) != 4 {
				t.Fatalf("topic %s: %d partitions listed, want 4", tp, len(ends[tp]))
			}
		}
	}
}

// A topic with another partition count is reported, naming the key.
func TestEnsureTopicsReportsPartitionMismatch(t *testing.T) {
	s := seeds(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	topic := fmt.Sprintf("ensure.mismatch.%d", time.Now().UnixNano())
	if err := kafka.EnsureTopics(ctx, client(t, s), 2, 1, topic); err != nil {
		t.Fatal(err)
	}
	err := kafka.EnsureTopics(ctx, client(t, s), 4, 1, topic)
	if err == nil || !strings.Contains(err.Error(), "has 2 partitions, config topics.partitions says 4") {
		t.Fatalf("got %v, want the mismatch named", err)
	}
}
