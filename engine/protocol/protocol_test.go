package protocol

import (
	"errors"
	"strings"
	"testing"
)

// Refusals name what is wrong in the client's terms, not Go's.
func TestDecodeErrorsSpeakJSON(t *testing.T) {
	for _, tc := range []struct{ in, code, want string }{
		{`{"type":"move","seq":"two"}`, ErrBadJSON, `field "seq": a JSON string where a number is wanted`},
		{`[1,2]`, ErrBadJSON, "a JSON array where a message object is wanted"},
		{`{"type":`, ErrBadJSON, "not a JSON message object: unexpected end of JSON input"},
		{`{"type":"fly","seq":1}`, ErrUnknownType, `unknown message type "fly"`},
		{`{"type":"move","seq":0}`, ErrBadField, "seq must be a positive integer"},
	} {
		_, err := Decode([]byte(tc.in))
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Code != tc.code || !strings.Contains(ve.Msg, tc.want) || strings.Contains(ve.Msg, "Go value") {
			t.Errorf("Decode(%s) = %v, want %s: ...%s...", tc.in, err, tc.code, tc.want)
		}
	}
	if m, err := Decode([]byte(`{"type":"move","seq":2,"lat":45.2,"lon":13.7,"at":1}`)); err != nil || m.Seq != 2 || m.Lat != 45.2 {
		t.Fatalf("a good move: %+v, %v", m, err)
	}
}
