// Package telemetryapi subscribes the extension to Lambda's Telemetry API and runs the
// HTTP listener Lambda delivers the records to (parsed by package telemetry):
// platform events, the function's log lines and the extensions' log lines.
//
// Open runs during Init, after registration and before the first /event/next: it
// starts the listener, then subscribes. Batches go to a Sink. At SHUTDOWN the
// extension stops the listener (Session.Stop) before its handler shuts down, so what
// Lambda delivered until then is handled.
package telemetryapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// subscribeTimeout bounds the PUT to the Telemetry API; Init has 10 s in all.
const subscribeTimeout = 2 * time.Second

// maxQuiet caps how long Stop waits for late deliveries at SHUTDOWN, which has 2 s in
// all for every extension.
const maxQuiet = 300 * time.Millisecond

// Options configure Open.
type Options struct {
	// SchemaVersion is the schema to subscribe with; empty gives SchemaVersion.
	SchemaVersion string
	// Types are the record categories to subscribe to: platform, function, extension.
	Types []string
	// Buffering is passed to Lambda; MaxBytes also sizes the listener's body cap.
	Buffering Buffering
	// Port is the listener's port (not 9001); 0 picks a free one (for tests).
	Port int
	// LookupHost resolves SandboxHost; nil uses the system resolver.
	LookupHost func(ctx context.Context, host string) ([]string, error)
}

// Registered is what Open needs of the Extensions API client: *extapi.Client after
// Register.
type Registered interface {
	ID() string
	RuntimeAPIBase() string
}

// Session is a running subscription. Its listener is nil when the Telemetry API is
// not available here.
type Session struct {
	listener *Listener
}

// Open starts the listener and subscribes to the Telemetry API. When the API
// answers 202 (a local emulator without telemetry) it logs that once, stops the
// listener and returns a Session that delivers nothing. Any other failure is an error
// for Init.
func Open(ctx context.Context, client Registered, opts Options, sink Sink, log *slog.Logger) (*Session, error) {
	if err := ValidateTypes(opts.Types); err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	if err := opts.Buffering.Validate(); err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	if opts.Port != 0 {
		if err := ValidatePort(opts.Port); err != nil {
			return nil, fmt.Errorf("telemetry: %w", err)
		}
	}
	quiet := min(time.Duration(opts.Buffering.TimeoutMs)*time.Millisecond+50*time.Millisecond, maxQuiet)
	// The listener runs before the subscription: Lambda may deliver right away.
	l, err := Listen(ctx, ListenOptions{
		Port:         opts.Port,
		MaxBodyBytes: MaxBodyBytes(opts.Buffering.MaxBytes),
		Quiet:        quiet,
		LookupHost:   opts.LookupHost,
	}, sink, log)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, subscribeTimeout)
	defer cancel()
	schema := opts.SchemaVersion
	if schema == "" {
		schema = SchemaVersion
	}
	req := SubscribeRequest{
		SchemaVersion: schema,
		Types:         opts.Types,
		Buffering:     opts.Buffering,
		Destination:   Destination{Protocol: "HTTP", URI: l.URI()},
	}
	err = Subscribe(sctx, http.DefaultClient, client.RuntimeAPIBase(), client.ID(), req)
	if errors.Is(err, ErrNotAvailable) {
		log.Warn("telemetry API not available here (the Runtime API answered 202): going on without telemetry")
		l.stopNow()
		return &Session{}, nil
	}
	if err != nil {
		l.stopNow()
		return nil, err
	}
	log.Info("subscribed to telemetry", "types", opts.Types, "destination", l.URI(),
		"listening_on", l.Addr().String(), "max_items", opts.Buffering.MaxItems,
		"max_bytes", opts.Buffering.MaxBytes, "timeout_ms", opts.Buffering.TimeoutMs)
	return &Session{listener: l}, nil
}

// Listener is the session's listener; nil when telemetry is not available here.
func (s *Session) Listener() *Listener { return s.listener }

// Stop stops the listener (see Listener.Stop); a no-op without one.
func (s *Session) Stop(ctx context.Context) error {
	if s.listener == nil {
		return nil
	}
	return s.listener.Stop(ctx)
}

// stopNow closes a listener that never subscribed, without waiting for deliveries.
func (l *Listener) stopNow() {
	l.opts.Quiet = 0
	l.Stop(context.Background())
}
