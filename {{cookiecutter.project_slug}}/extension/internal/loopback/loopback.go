// Package loopback is the HTTP server the companions (the local API and the Runtime
// API proxy) serve on 127.0.0.1, and the one definition of the port rule and the
// limits that keep a local client from exhausting any server of the extension (the
// telemetry listener takes them from here too).
package loopback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Host is where companions listen: loopback only, never 0.0.0.0. The function reaches
// them there; nothing outside the execution environment can.
const Host = "127.0.0.1"

// ReservedPort is the Runtime API's port; no companion may take it.
const ReservedPort = 9001

// Limits, as for the telemetry listener: stalled and idle connections are closed, the
// request head is capped, and at most MaxConcurrent requests are served at once; one
// more waits up to SlotWait for a slot, then gets 503.
const (
	ReadHeaderTimeout = 2 * time.Second
	IdleTimeout       = 60 * time.Second
	MaxHeaderBytes    = 16 << 10
	MaxConcurrent     = 64
	SlotWait          = time.Second
	// APIReadTimeout and APIMaxBodyBytes are the local API's: requests are small.
	APIReadTimeout  = 5 * time.Second
	APIMaxBodyBytes = 1 << 20
)

// ValidatePort checks a companion's port: 1024 to 65535 (Lambda runs extensions as an
// unprivileged user) and not the Runtime API's 9001. 0 (any free port) is for tests.
func ValidatePort(port int) error {
	if port == 0 {
		return nil
	}
	if port < 1024 || port > 65535 {
		return fmt.Errorf("must be from 1024 to 65535, got %d", port)
	}
	if port == ReservedPort {
		return fmt.Errorf("must not be %d, the Runtime API's port", ReservedPort)
	}
	return nil
}

// Listen binds Host:port. A port in use is an error (the caller reports it to Lambda
// as an init error), never a silent move to another port: the function is told which
// port to call.
func Listen(port int) (net.Listener, error) {
	if err := ValidatePort(port); err != nil {
		return nil, fmt.Errorf("listen: port %w", err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(Host, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	return ln, nil
}

// Options are what differ between companions.
type Options struct {
	// ReadTimeout bounds reading a whole request, body included; 0 means none (the
	// proxy's requests can stream for the invocation's whole duration).
	ReadTimeout time.Duration
	// MaxBodyBytes caps a request body (413 beyond it); 0 means no cap.
	MaxBodyBytes int64
}

// Server serves h on ln with the limits above until Close.
type Server struct {
	srv   *http.Server
	ln    net.Listener
	serve chan error
}

// Serve starts serving h on ln.
func Serve(ln net.Listener, h http.Handler, opts Options, log *slog.Logger) *Server {
	s := &Server{ln: ln, serve: make(chan error, 1)}
	s.srv = &http.Server{
		Handler:           Limit(h, MaxConcurrent, SlotWait, opts.MaxBodyBytes),
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       opts.ReadTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() { s.serve <- s.srv.Serve(ln) }()
	return s
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Port is the port the server listens on.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Close stops accepting, lets requests in flight finish until ctx ends, then closes
// what is still open. It is safe to call more than once.
func (s *Server) Close(ctx context.Context) error {
	s.srv.SetKeepAlivesEnabled(false)
	if err := s.srv.Shutdown(ctx); err != nil {
		s.srv.Close()
	}
	err, ok := <-s.serve
	if ok {
		close(s.serve)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Limit serves at most n requests of h at once (one more waits up to wait for a slot,
// then gets 503) and caps request bodies at maxBody bytes when maxBody > 0.
func Limit(h http.Handler, n int, wait time.Duration, maxBody int64) http.Handler {
	slots := make(chan struct{}, n)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}:
		default:
			t := time.NewTimer(wait)
			select {
			case slots <- struct{}{}:
				t.Stop()
			case <-t.C:
				http.Error(w, fmt.Sprintf("%d requests are being served already", n), http.StatusServiceUnavailable)
				return
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		defer func() { <-slots }()
		// A request without a body (a GET: http.NoBody) has nothing to cap.
		if maxBody > 0 && r.Body != http.NoBody {
			if r.ContentLength > maxBody {
				http.Error(w, fmt.Sprintf("body larger than %d bytes", maxBody), http.StatusRequestEntityTooLarge)
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		h.ServeHTTP(w, r)
	})
}
