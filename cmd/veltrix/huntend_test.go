package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/veltrix/veltrix/engine/client"
	"github.com/veltrix/veltrix/engine/protocol"
)

// TestHuntEnds plays a hunt up to its end time: after it every action is
// refused with hunt_over and the hunt gets the final leaderboard once.
func TestHuntEnds(t *testing.T) {
	endsAt := time.Now().Add(2 * time.Second).UTC().Truncate(time.Second).Add(time.Second)
	dir := t.TempDir()
	hunt := "id: sprint\nname: Sprint\nends_at: " + endsAt.Format(time.RFC3339) + "\nbeacons:\n" +
		"  - {id: b1, name: One, lat: 38.70585, lon: -9.14480, difficulty: 2, terrain: 1}\n"
	if err := os.WriteFile(filepath.Join(dir, "sprint.yaml"), []byte(hunt), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := client.Dial(ctx, s.GatewayURL(), client.Options{Player: "sam"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Send(joinMsg("sprint", 1)); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(protocol.ClientMessage{Type: "move", Seq: 2, Lat: 38.70585, Lon: -9.14480, At: time.Now().UnixMilli()}); err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{1, 2} {
		if m := nextOf(ctx, t, c, "result"); m.Seq != seq || !*m.OK {
			t.Fatalf("before the end: %+v", m)
		}
	}
	if time.Now().After(endsAt) {
		t.Skip("the machine took over 2 s to play two actions; the end time has passed")
	}
	time.Sleep(time.Until(endsAt) + 10*time.Millisecond) // the hunt's end time must pass
	if err := c.Send(protocol.ClientMessage{Type: "move", Seq: 3, Lat: 38.70585, Lon: -9.14481, At: time.Now().UnixMilli()}); err != nil {
		t.Fatal(err)
	}
	var ended struct {
		Top []struct {
			Player string
			Score  int
		} `json:"top"`
		Winners []string `json:"winners"`
	}
	var over bool
	for !over || ended.Winners == nil {
		m, err := c.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		switch m.Type {
		case "hunt_ended":
			if err := json.Unmarshal(m.Data, &ended); err != nil {
				t.Fatal(err)
			}
		case "result":
			if m.Seq != 3 || *m.OK || m.Reason != "hunt_over" {
				t.Fatalf("after the end: %+v", m)
			}
			over = true
		}
	}
	if len(ended.Winners) != 1 || ended.Winners[0] != "sam" || ended.Top[0].Score != 35 {
		t.Fatalf("final leaderboard %+v, want sam winning with 35 (20+5 points, 10 first-finder bonus)", ended)
	}
	// Later actions are refused without ending the hunt again.
	if err := c.Send(protocol.ClientMessage{Type: "move", Seq: 4, Lat: 38.70585, Lon: -9.14481, At: time.Now().UnixMilli()}); err != nil {
		t.Fatal(err)
	}
	m, err := c.Next(ctx)
	if err != nil || m.Type != "result" || m.Reason != "hunt_over" {
		t.Fatalf("second action after the end: %+v %v (want only a hunt_over result)", m, err)
	}
}
