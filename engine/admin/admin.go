// Package admin is the operator's HTTP endpoint of a Veltrix process:
// /metrics (Prometheus), /healthz, /readyz, /debug/pprof/, and whatever the tiers register
// (audit queries, store stats, script status). It listens on its own address
// (config admin.listen), never on the players' port.
package admin

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server is the admin endpoint. Register handlers and metrics before Serve.
type Server struct {
	mux      *http.ServeMux
	registry *prometheus.Registry
	srv      *http.Server
	log      *slog.Logger

	mu     sync.Mutex
	checks map[string]func() error // readiness checks by name
	ready  atomic.Bool
}

// New returns a Server with the Go runtime and process collectors registered.
func New(log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s := &Server{mux: http.NewServeMux(), registry: reg, log: log, checks: map[string]func() error{}}
	s.mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	s.mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	s.mux.HandleFunc("/readyz", s.readyz)
	// Profiles on the operator's port only, never on the players' one.
	s.mux.HandleFunc("/debug/pprof/", pprof.Index)
	s.mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	s.mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// Built here, not in Serve, so a Shutdown racing a Serve still stops it.
	s.srv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 5 * time.Second}
	return s
}

// Registry is where components register their Prometheus metrics.
func (s *Server) Registry() prometheus.Registerer { return s.registry }

// Gatherer exposes the registry for tests.
func (s *Server) Gatherer() prometheus.Gatherer { return s.registry }

// Handle registers an admin handler, e.g. "GET /audit".
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// HandleFunc registers an admin handler function.
func (s *Server) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	s.mux.HandleFunc(pattern, h)
}

// AddCheck adds a readiness check; /readyz fails while any check fails.
func (s *Server) AddCheck(name string, check func() error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks[name] = check
}

// SetReady marks the process ready (started) or not (draining).
func (s *Server) SetReady(v bool) { s.ready.Store(v) }

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if !s.ready.Load() {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, check := range s.checks {
		if err := check(); err != nil {
			http.Error(w, name+": "+err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	_, _ = w.Write([]byte("ready\n"))
}

// Serve serves on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops the server.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.srv.Shutdown(ctx)
}
