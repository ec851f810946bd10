package store_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/veltrix/veltrix/engine/store"
)

// The tools open a store read-only while the engine writes and compacts it:
// an SST file the engine deletes between the manifest read and the file's
// open must not surface as "corrupt" (seen in CI on TestEngineTTLs).
func TestReadOnlyOpenWhileCompacting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions")
	clock := store.NewFakeClock(time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC))
	s, err := store.OpenSessions(store.SessionsOptions{Path: path, Clock: clock, WriteBufferBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var werr error
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			ws := make([]store.Write, 200)
			for j := range ws {
				ws[j] = store.Write{Key: fmt.Appendf(nil, "s/h/p%04d", j), Value: make([]byte, 300),
					ExpiresAt: clock.Now().Add(time.Minute).UnixMilli()}
			}
			if werr = s.Commit(ws); werr != nil {
				return
			}
			if i%5 == 0 {
				if werr = s.CompactExpired(); werr != nil {
					return
				}
			}
		}
	})
	for i := range 100 {
		ro, err := store.OpenSessions(store.SessionsOptions{Path: path, ReadOnly: true, Clock: clock})
		if err != nil {
			close(stop)
			wg.Wait()
			t.Fatalf("read-only open %d while compacting: %v", i, err)
		}
		if _, _, err := ro.Get([]byte("s/h/p0001")); err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		ro.Close()
	}
	close(stop)
	wg.Wait()
	if werr != nil {
		t.Fatal(werr)
	}
}
