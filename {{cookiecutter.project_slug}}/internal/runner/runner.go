// Package runner drives an extension through the Lambda lifecycle: register, set up,
// loop on /event/next handing events to a Handler, and shut down within the deadline.
// It turns every fatal problem into a report to Lambda and a non-zero exit code.
package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"{{ cookiecutter.go_module }}/internal/extapi"
)

// Handler is what the runner hands events to; the processor implements it.
type Handler interface {
	// Invoke runs for every INVOKE event before the extension asks for the next one;
	// ctx ends at the invocation's deadline less the shutdown margin. An error is
	// logged and the extension goes on.
	Invoke(ctx context.Context, ev extapi.Event) error
	// Shutdown runs once for SHUTDOWN (or a local SIGINT/SIGTERM); ctx ends before
	// Lambda's deadline. The process exits 0 afterwards, even on error.
	Shutdown(ctx context.Context, ev extapi.Event) error
}

// SetupFunc builds the Handler after registration. An error is reported to
// /extension/init/error (see InitError for choosing its type) and the process exits 1.
type SetupFunc func(ctx context.Context, client *extapi.Client, reg extapi.Registration) (Handler, error)

// Options configure Main.
type Options struct {
	// Name is the extension's executable file name (filepath.Base(os.Args[0])).
	Name string
	// RuntimeAPI is the value of AWS_LAMBDA_RUNTIME_API.
	RuntimeAPI string
	// Setup builds the handler once the extension is registered.
	Setup SetupFunc
	// Log receives one line per lifecycle step.
	Log *slog.Logger
	// ShutdownMargin is kept free before every deadline Lambda gives.
	ShutdownMargin time.Duration
}

// Error types reported to Lambda.
const (
	ErrorTypeConfig    = "Extension.ConfigInvalid"
	ErrorTypeInit      = "Extension.InitFailed"
	ErrorTypeMalformed = "Extension.MalformedEvent"
	ErrorTypeRuntime   = "Extension.RuntimeError"
)

const (
	// reportTimeout bounds the calls to /init/error and /exit/error.
	reportTimeout = time.Second
	// defaultShutdownWindow is Lambda's shutdown phase when external extensions run;
	// used when a SHUTDOWN carries no deadline, and for SIGINT/SIGTERM.
	defaultShutdownWindow = 2 * time.Second
)

// InitError gives a setup failure the error type reported to Lambda.
type InitError struct {
	Type string
	Err  error
}

func (e *InitError) Error() string { return e.Err.Error() }
func (e *InitError) Unwrap() error { return e.Err }

// ConfigError marks err as invalid configuration (Extension.ConfigInvalid).
func ConfigError(err error) error { return &InitError{Type: ErrorTypeConfig, Err: err} }

// Main runs the extension until SHUTDOWN, a signal (ctx cancelled) or a fatal error,
// and returns the process exit code.
func Main(ctx context.Context, opts Options) int {
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	if opts.RuntimeAPI == "" {
		log.Error("AWS_LAMBDA_RUNTIME_API is not set: run the extension inside Lambda or under the local emulator (make local)")
		return 1
	}
	started := time.Now()
	client := extapi.New(opts.RuntimeAPI, opts.Name)
	reg, err := client.Register(ctx, extapi.Invoke, extapi.Shutdown)
	if err != nil {
		log.Error("register failed", "name", opts.Name, "error", err.Error())
		return 1
	}
	log.Info("registered", "name", opts.Name, "function_name", reg.FunctionName,
		"function_version", reg.FunctionVersion, "account_id", reg.AccountID)

	handler, err := opts.Setup(ctx, client, reg)
	if err != nil {
		errorType := ErrorTypeInit
		var initErr *InitError
		if errors.As(err, &initErr) {
			errorType = initErr.Type
		}
		log.Error("init failed", "error_type", errorType, "error", err.Error())
		report(ctx, log, "init/error", func(ctx context.Context) error {
			return client.InitError(ctx, errorType, err)
		})
		return 1
	}
	log.Info("initialised", "init_ms", time.Since(started).Milliseconds())

	l := loop{client: client, handler: handler, log: log, margin: opts.ShutdownMargin}
	return l.run(ctx)
}

type loop struct {
	client  *extapi.Client
	handler Handler
	log     *slog.Logger
	margin  time.Duration
}

func (l *loop) run(ctx context.Context) int {
	for {
		ev, err := l.client.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				l.log.Info("signal received, shutting down")
				return l.shutdown(ctx, extapi.Event{EventType: extapi.Shutdown, ShutdownReason: "signal"})
			}
			return l.fatal(ctx, err)
		}
		switch ev.EventType {
		case extapi.Invoke:
			l.invoke(ctx, ev)
		case extapi.Shutdown:
			return l.shutdown(ctx, ev)
		default:
			l.log.Warn("ignoring unknown event type", "event_type", string(ev.EventType))
		}
	}
}

func (l *loop) invoke(ctx context.Context, ev extapi.Event) {
	l.log.Debug("invoke", "request_id", ev.RequestID)
	ictx := ctx
	if deadline := ev.Deadline(); !deadline.IsZero() {
		var cancel context.CancelFunc
		ictx, cancel = context.WithDeadline(ctx, deadline.Add(-l.margin))
		defer cancel()
	}
	if err := l.handler.Invoke(ictx, ev); err != nil {
		l.log.Error("invoke failed", "request_id", ev.RequestID, "error", err.Error())
	}
}

// shutdown runs the handler's Shutdown under a deadline before Lambda's and returns 0
// when the deadline comes, even if the handler has not returned: Lambda kills the
// process at deadlineMs, and a clean exit before it is what it expects.
func (l *loop) shutdown(ctx context.Context, ev extapi.Event) int {
	started := time.Now()
	deadline := ev.Deadline()
	if deadline.IsZero() {
		deadline = started.Add(defaultShutdownWindow)
	}
	// The handler stops at deadline - margin (at once when the deadline is closer than
	// the margin); the runner then waits half the time left for it to return and log
	// what it could not finish, and gives up still before Lambda's deadline.
	stop := deadline.Add(-l.margin)
	if stop.Before(started) {
		stop = started
	}
	sctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), stop)
	defer cancel()
	giveUp := time.NewTimer(time.Until(stop.Add(deadline.Sub(stop) / 2)))
	defer giveUp.Stop()

	done := make(chan error, 1)
	go func() { done <- l.handler.Shutdown(sctx, ev) }()
	var err error
	select {
	case err = <-done:
	case <-giveUp.C:
		err = fmt.Errorf("shutdown handler still running at the deadline: %w", sctx.Err())
	}
	attrs := []any{
		"reason", string(ev.ShutdownReason),
		"took_ms", time.Since(started).Milliseconds(),
		"headroom_ms", time.Until(deadline).Milliseconds(),
	}
	if err != nil {
		l.log.Warn("shutdown incomplete", append(attrs, "error", err.Error())...)
	} else {
		l.log.Info("shutdown complete", attrs...)
	}
	return 0
}

func (l *loop) fatal(ctx context.Context, err error) int {
	errorType := ErrorTypeRuntime
	if errors.Is(err, extapi.ErrMalformedEvent) {
		errorType = ErrorTypeMalformed
	}
	l.log.Error("event loop failed", "error_type", errorType, "error", err.Error())
	report(ctx, l.log, "exit/error", func(ctx context.Context) error {
		return l.client.ExitError(ctx, errorType, err)
	})
	return 1
}

// report calls an error endpoint with a short timeout and logs when that fails too.
func report(ctx context.Context, log *slog.Logger, op string, call func(context.Context) error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reportTimeout)
	defer cancel()
	if err := call(rctx); err != nil {
		log.Error("could not report error to Lambda", "op", op, "error", err.Error())
	}
}
