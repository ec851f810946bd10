package runner

import (
	"reflect"
	"testing"

	"github.com/veltrix/veltrix/engine/core"
)

func TestOutboxRowRoundTrip(t *testing.T) {
	events := []core.Event{
		{Hunt: "harbour", To: "alice", Payload: []byte(`{"type":"result","seq":2,"ok":true}`)},
		{Hunt: "harbour", Payload: []byte(`{"type":"leaderboard","data":{"top":[]}}`)},
		{Hunt: "h", To: "", Payload: []byte{}},
	}
	got, err := decodeOutbox(encodeOutbox(events))
	if err != nil {
		t.Fatal(err)
	}
	// An empty payload decodes as an empty slice of the row.
	if len(got) != 3 || !reflect.DeepEqual(got[:2], events[:2]) || got[2].Hunt != "h" || len(got[2].Payload) != 0 {
		t.Fatalf("round trip: %+v", got)
	}
	// Rows written by earlier versions (one event, JSON) are still read.
	old, err := decodeOutbox([]byte(`{"hunt":"harbour","to":"bob","payload":{"type":"result","seq":7}}`))
	if err != nil || len(old) != 1 || old[0].To != "bob" || string(old[0].Payload) != `{"type":"result","seq":7}` {
		t.Fatalf("version 1 row: %+v, %v", old, err)
	}
	row := encodeOutbox(events)
	for _, bad := range [][]byte{nil, {9}, row[:len(row)-3]} {
		if _, err := decodeOutbox(bad); err == nil {
			t.Fatalf("decodeOutbox(%q) accepted a bad row", bad)
		}
	}
}
