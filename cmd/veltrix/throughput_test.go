package main

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkThroughput200Players replays the walk for 200 players at once
// (each in its own hunt, as fast as answered) through the all-in-one
// server: embedded broker by default, real Kafka with TEST_KAFKA_BROKERS.
// It reports actions/s through gateway, broker, engine and back.
//
//	go test -run '^$' -bench Throughput -benchtime 1x ./cmd/veltrix/
func BenchmarkThroughput200Players(b *testing.B) {
	walk, pts := visnjanWalk(b)
	const players = 200
	hunts := perPlayerHunts(b, walk, players)
	for i := 0; i < b.N; i++ {
		s := startServer(b, hunts, "data_dir="+b.TempDir())
		var answered atomic.Int64
		start := time.Now()
		playAll(b, func(int) string { return s.GatewayURL() }, pts, players, &answered)
		el := time.Since(start)
		b.ReportMetric(float64(players*len(pts))/el.Seconds(), "actions/s")
		_ = s.Close(context.Background())
	}
}
