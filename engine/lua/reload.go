package lua

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Hot reload.
//
// A Reloader watches a game's scripts folder. When the scripts change it
// compiles them, checks them (every script loads, the manifest is valid and
// its handlers are defined, and the game's dry run passes) and publishes
// the new Program on the Source; every Live switches to it before its next
// action. A version that fails is not published: the old one keeps running,
// the failure is logged with the file and line, and Status reports it until
// a later version succeeds.
//
// Changes are noticed through file-system events (fsnotify) and, as a
// backstop for file systems and editors whose events go missing, by hashing
// the folder every Interval; a change is acted on once the folder has been
// quiet for Settle, so a save in several writes is compiled once.

// ReloaderOptions configures a Reloader.
type ReloaderOptions struct {
	// Load is how the scripts are compiled (Dir and the limits).
	Load Options
	// DryRun, if set, is run on every new program before it is published:
	// the game's sample actions. An error rejects the program.
	DryRun func(p *Program) error
	// Interval between two checks of the folder. Default 250ms.
	Interval time.Duration
	// Settle is how long the folder must be quiet after an event. Default 50ms.
	Settle time.Duration
	Log    *slog.Logger
}

// Status is the state of a game's scripts, for the admin endpoint.
type Status struct {
	Dir             string    `json:"dir"`
	Version         string    `json:"version"`
	ManifestVersion string    `json:"manifest_version,omitempty"`
	LoadedAt        time.Time `json:"loaded_at"`
	Files           []string  `json:"files"`
	Reloads         int       `json:"reloads"`
	Failures        int       `json:"failures"`
	LastAttempt     time.Time `json:"last_attempt,omitzero"`
	// LastError is why the last attempted version was refused, while the
	// version running is older than the files on disk.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	Watching    bool      `json:"watching"`
}

// Reloader watches a scripts folder and publishes what passes the checks.
type Reloader struct {
	o   ReloaderOptions
	src *Source
	log *slog.Logger

	mu     sync.Mutex
	status Status
	tried  string // hash of the sources of the last attempt

	stop context.CancelFunc
	done chan struct{}
}

// Validate compiles the scripts of o.Dir and checks them as a reload does:
// every script loads, the manifest (if any) is valid and its handlers are
// defined, and dryRun (if any) passes.
func Validate(o Options, dryRun func(p *Program) error) (*Program, *Manifest, error) {
	p, err := Load(o)
	if err != nil {
		return nil, nil, err
	}
	m, err := LoadManifest(o.Dir)
	if err != nil {
		return nil, nil, err
	}
	var required []string
	if m != nil {
		required = m.Handlers
	}
	rt, err := Check(p, required)
	if err != nil {
		return nil, nil, err
	}
	rt.Close()
	if dryRun != nil {
		if err := dryRun(p); err != nil {
			return nil, nil, fmt.Errorf("dry run: %w", err)
		}
	}
	return p, m, nil
}

// NewReloader returns a Reloader for src, whose current program was loaded
// from o.Load.Dir. Start begins watching.
func NewReloader(src *Source, o ReloaderOptions) *Reloader {
	if o.Interval <= 0 {
		o.Interval = 250 * time.Millisecond
	}
	if o.Settle <= 0 {
		o.Settle = 50 * time.Millisecond
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	r := &Reloader{o: o, src: src, log: o.Log}
	p := src.Program()
	r.status = Status{Dir: o.Load.Dir}
	if p != nil {
		r.tried = p.Hash()
		r.setLoaded(p, nil)
	}
	return r
}

func (r *Reloader) setLoaded(p *Program, m *Manifest) {
	r.status.Version = p.Version()
	r.status.LoadedAt = p.LoadedAt()
	r.status.Files = p.Files()
	if m == nil {
		m, _ = LoadManifest(r.o.Load.Dir)
	}
	if m != nil {
		r.status.ManifestVersion = m.Version
	}
}

// Status returns a snapshot of the scripts' state.
func (r *Reloader) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.status
	s.Files = append([]string(nil), s.Files...)
	return s
}

// Check reloads now if the scripts changed since the last attempt. It
// returns the error of a refused version (nil if nothing changed or the new
// version was published).
func (r *Reloader) Check() error {
	hash := SourceHash(r.o.Load.Dir)
	r.mu.Lock()
	same := hash == "" && r.tried == "" || hash == r.tried
	r.mu.Unlock()
	if same {
		return nil
	}
	return r.Reload()
}

// Reload compiles, checks and (if they pass) publishes the scripts now.
func (r *Reloader) Reload() error {
	hash := SourceHash(r.o.Load.Dir)
	started := time.Now()
	p, m, err := Validate(r.o.Load, r.o.DryRun)

	r.mu.Lock()
	defer r.mu.Unlock()
	r.tried = hash
	r.status.LastAttempt = started
	if err != nil {
		r.status.Failures++
		r.status.LastError = err.Error()
		r.status.LastErrorAt = started
		r.log.Error("scripts: new version refused, the running version stays",
			"dir", r.o.Load.Dir, "running", r.status.Version, "err", err)
		return err
	}
	old := r.src.Program()
	if old != nil && old.Hash() == p.Hash() {
		r.status.LastError = "" // back to what runs
		return nil
	}
	r.src.Publish(p)
	r.status.Reloads++
	r.status.LastError, r.status.LastErrorAt = "", time.Time{}
	r.setLoaded(p, m)
	r.log.Info("scripts: new version published", "dir", r.o.Load.Dir, "version", p.Version(),
		"took", time.Since(started).Round(time.Millisecond))
	return nil
}

// Start watches the folder until Close.
func (r *Reloader) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	r.done = make(chan struct{})
	events := make(chan struct{}, 1)
	w, err := fsnotify.NewWatcher()
	if err == nil {
		for _, d := range []string{r.o.Load.Dir, filepath.Join(r.o.Load.Dir, moduleDir)} {
			if err := w.Add(d); err != nil && d == r.o.Load.Dir {
				r.log.Warn("scripts: no file-system events, polling only", "dir", d, "err", err)
			}
		}
		go func() {
			for {
				select {
				case _, ok := <-w.Events:
					if !ok {
						return
					}
					select {
					case events <- struct{}{}:
					default:
					}
				case _, ok := <-w.Errors:
					if !ok {
						return
					}
				}
			}
		}()
	} else {
		r.log.Warn("scripts: no file-system events, polling only", "err", err)
	}
	r.mu.Lock()
	r.status.Watching = true
	r.mu.Unlock()
	go func() {
		defer close(r.done)
		if w != nil {
			defer w.Close()
		}
		tick := time.NewTicker(r.o.Interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			case <-events:
				// Let a save in several writes finish.
				settle := time.NewTimer(r.o.Settle)
			quiet:
				for {
					select {
					case <-events:
						settle.Reset(r.o.Settle)
					case <-settle.C:
						break quiet
					case <-ctx.Done():
						settle.Stop()
						return
					}
				}
			}
			_ = r.Check()
		}
	}()
}

// Close stops watching.
func (r *Reloader) Close() error {
	if r.stop == nil {
		return nil
	}
	r.stop()
	<-r.done
	r.mu.Lock()
	r.status.Watching = false
	r.mu.Unlock()
	return nil
}
