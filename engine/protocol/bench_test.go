package protocol

import "testing"

// What clients send most: a move a second per player (docs/protocol.md).
var benchMsgs = []struct{ name, in string }{
	{"move", `{"type":"move","seq":2,"lat":38.70585,"lon":-9.1448,"at":1764780000000}`},
	{"join", `{"type":"join","hunt":"harbour","seq":1}`},
	{"ping", `{"type":"ping"}`},
}

// BenchmarkDecode/json is the encoding/json path Decode used alone before.
func BenchmarkDecode(b *testing.B) {
	for _, impl := range []struct {
		name   string
		decode func([]byte) (ClientMessage, error)
	}{{"fast", Decode}, {"json", decodeSlow}} {
		for _, bm := range benchMsgs {
			in := []byte(bm.in)
			b.Run(impl.name+"/"+bm.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := impl.decode(in); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkDecodeGoroutine decodes each move on a new goroutine, as gws's
// parallel mode does: a deep decode also pays to grow the goroutine's stack.
func BenchmarkDecodeGoroutine(b *testing.B) {
	in := []byte(benchMsgs[0].in)
	for _, impl := range []struct {
		name   string
		decode func([]byte) (ClientMessage, error)
	}{{"fast", Decode}, {"json", decodeSlow}} {
		b.Run(impl.name, func(b *testing.B) {
			b.ReportAllocs()
			done := make(chan struct{})
			for b.Loop() {
				go func() {
					_, _ = impl.decode(in)
					done <- struct{}{}
				}()
				<-done
			}
		})
	}
}
