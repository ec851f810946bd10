package admin

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
)

func TestShutdownStopsServeStartedConcurrently(t *testing.T) {
	s := New(nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
}

func TestReadyzFollowsChecks(t *testing.T) {
	s := New(nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	defer s.Shutdown(context.Background())
	get := func() (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + ln.Addr().String() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get(); code != http.StatusServiceUnavailable {
		t.Fatalf("before SetReady: %d, want 503", code)
	}
	s.SetReady(true)
	if code, _ := get(); code != http.StatusOK {
		t.Fatalf("ready: %d, want 200", code)
	}
	failing := true
	s.AddCheck("broker", func() error {
		if failing {
			return io.ErrUnexpectedEOF
		}
		return nil
	})
	if code, body := get(); code != http.StatusServiceUnavailable || body != "broker: unexpected EOF\n" {
		t.Fatalf("failing check: %d %q", code, body)
	}
}
