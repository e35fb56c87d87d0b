package extension

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"{{ cookiecutter.go_module }}/extension/internal/config"
	"{{ cookiecutter.go_module }}/extension/internal/extapi"
)

// Error types reported to Lambda's /init/error and /exit/error.
const (
	errorTypeConfig    = "Extension.ConfigInvalid"
	errorTypeInit      = "Extension.InitFailed"
	errorTypeMalformed = "Extension.MalformedEvent"
	errorTypeRuntime   = "Extension.RuntimeError"
)

const (
	// reportTimeout bounds the calls to /init/error and /exit/error.
	reportTimeout = time.Second
	// shutdownWindow is Lambda's shutdown phase when external extensions run: the
	// budget when a SHUTDOWN carries no deadline, for SIGINT/SIGTERM, and for the
	// drain after a fatal error.
	shutdownWindow = 2 * time.Second
	// The shutdown margin is kept free before every deadline Lambda gives. Below
	// minMargin the process could not log its counts and exit in time.
	defaultMargin = 200 * time.Millisecond
	minMargin     = 50 * time.Millisecond
	maxMargin     = time.Second
)

// Run is the extension's entry point: main calls os.Exit(extension.Run(processor.New)).
//
// It registers with Lambda under the executable's file name, reads the built-in
// settings, calls newHandler once, then hands every INVOKE to the handler and ends
// with SHUTDOWN (or SIGINT/SIGTERM, for local runs). It returns the exit code: 0
// after SHUTDOWN, 1 after a fatal problem, which it reports to Lambda first: a bad
// setting or a constructor error to /extension/init/error, a broken event loop to
// /extension/exit/error.
func Run(newHandler func(x *Extension) (Handler, error)) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, process{
		// Lambda matches the registered name against the file in /opt/extensions.
		name:   filepath.Base(os.Args[0]),
		lookup: os.LookupEnv,
		stdout: os.Stdout,
	}, newHandler)
}

// process is what Run takes from the operating system; tests give their own.
type process struct {
	name   string
	lookup config.LookupFunc
	stdout io.Writer
}

func run(ctx context.Context, p process, newHandler func(*Extension) (Handler, error)) int {
	env := config.New(Prefix, p.lookup)
	level := env.Level("LOG_LEVEL", slog.LevelInfo)
	margin := env.Duration("SHUTDOWN_MARGIN", defaultMargin, minMargin, maxMargin)
	log := slog.New(slog.NewJSONHandler(p.stdout, &slog.HandlerOptions{Level: level}))

	runtimeAPI, _ := p.lookup("AWS_LAMBDA_RUNTIME_API")
	if runtimeAPI == "" {
		log.Error("AWS_LAMBDA_RUNTIME_API is not set: run the extension inside Lambda or under the local emulator (make local)")
		logRecords(log, Records{})
		return 1
	}
	started := time.Now()
	// A companion (local API, Runtime API proxy) listens before registering: the
	// runtime starts once every extension registered.
	comp := openCompanion(env, p.lookup, p.name, log)
	client := extapi.New(runtimeAPI, p.name)
	lmi := isLMI(p.lookup)
	events := []string{string(Invoke), string(Shutdown)}
	if lmi {
		events = events[1:] // Lambda Managed Instances refuse INVOKE registrations
	}
	reg, err := client.Register(ctx, events...)
	if err != nil {
		log.Error("register failed", "name", p.name, "error", err.Error())
		logRecords(log, Records{})
		return 1
	}
	log.Info("registered", "name", p.name, "version", version, "function_name", reg.FunctionName,
		"function_version", reg.FunctionVersion, "account_id", reg.AccountID)

	x := &Extension{
		Name:            p.name,
		FunctionName:    reg.FunctionName,
		FunctionVersion: reg.FunctionVersion,
		FunctionHandler: reg.Handler,
		AccountID:       reg.AccountID,
		Log:             log,
		Settings:        &Settings{r: env},
		ctx:             context.WithoutCancel(ctx),
		lmi:             lmi,
		stdout:          p.stdout,
		env:             env,
		comp:            comp,
	}
	handler, err := newHandler(x)
	if handler == nil && err == nil {
		err = errors.New("the processor's constructor returned no handler and no error")
	}
	var telemetry *telemetryPlan
	if err == nil {
		telemetry = planTelemetry(handler, env, lmi)
		logLMI(log, lmi, telemetry != nil)
	}
	if cfgErr := env.Err(); cfgErr != nil {
		return initFailed(ctx, client, log, errorTypeConfig, errors.Join(cfgErr, err))
	}
	if err != nil {
		return initFailed(ctx, client, log, errorTypeInit, err)
	}
	if err := comp.start(); err != nil {
		return initFailed(ctx, client, log, errorTypeInit, err)
	}
	stopTelemetry, err := telemetry.start(ctx, client, log)
	if err != nil {
		return initFailed(ctx, client, log, errorTypeInit, err)
	}
	log.Info("initialised", "init_ms", time.Since(started).Milliseconds())

	l := &loop{client: client, handler: handler, log: log, margin: margin, stopTelemetry: stopTelemetry, comp: comp}
	return l.run(ctx)
}

func initFailed(ctx context.Context, client *extapi.Client, log *slog.Logger, errorType string, err error) int {
	log.Error("init failed", "error_type", errorType, "error", err.Error())
	report(ctx, log, "init/error", func(ctx context.Context) error {
		return client.InitError(ctx, errorType, err)
	})
	logRecords(log, Records{}) // no event was handed to the handler yet
	return 1
}

type loop struct {
	client        *extapi.Client
	handler       Handler
	log           *slog.Logger
	margin        time.Duration
	stopTelemetry func(context.Context) error // nil without a telemetry subscription
	comp          *companion                  // nil without a companion

	invoked, failed atomic.Uint64 // for handlers that do not count records themselves
}

func (l *loop) run(ctx context.Context) int {
	for {
		ev, err := l.client.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				l.log.Info("signal received, shutting down")
				return l.shutdown(ctx, Event{Type: Shutdown, ShutdownReason: ReasonSignal})
			}
			return l.fatal(ctx, err)
		}
		switch EventType(ev.EventType) {
		case Invoke:
			l.invoke(ctx, eventOf(ev))
		case Shutdown:
			return l.shutdown(ctx, eventOf(ev))
		default:
			l.log.Warn("ignoring unknown event type", "event_type", ev.EventType)
		}
	}
}

func (l *loop) invoke(ctx context.Context, ev Event) {
	l.log.Debug("invoke", "request_id", ev.RequestID)
	ictx := ctx
	if !ev.Deadline.IsZero() {
		var cancel context.CancelFunc
		ictx, cancel = context.WithDeadline(ctx, ev.Deadline.Add(-l.margin))
		defer cancel()
	}
	l.invoked.Add(1)
	if err := l.handler.Invoke(ictx, ev); err != nil {
		l.failed.Add(1)
		l.log.Error("invoke failed", "request_id", ev.RequestID, "error", err.Error())
	}
	if after, ok := l.handler.(AfterInvoker); ok {
		if err := after.AfterInvoke(ictx, ev); err != nil {
			l.log.Warn("after invoke", "request_id", ev.RequestID, "error", err.Error())
		}
	}
}

// shutdown stops the telemetry listener and runs the handler's Shutdown under a
// deadline before Lambda's, logs the records line and returns 0 before the deadline,
// even if the handler has not returned: Lambda kills the process at deadlineMs, and a
// clean exit before it is what it expects.
func (l *loop) shutdown(ctx context.Context, ev Event) int {
	if ev.Deadline.IsZero() {
		ev.Deadline = time.Now().Add(shutdownWindow)
	}
	l.finish(ctx, ev)
	return 0
}

// finish runs the handler's Shutdown within the event's deadline and logs how it went.
func (l *loop) finish(ctx context.Context, ev Event) {
	started := time.Now()
	deadline := ev.Deadline
	// The handler stops at deadline - margin; the loop then waits half the margin
	// for it to return, and gives up still half the margin before Lambda's deadline.
	// When the deadline is closer than the margin, the handler's context has ended
	// already: the loop waits a quarter of what is left, and keeps the rest for the
	// exit.
	stop, grace := deadline.Add(-l.margin), l.margin/2
	if stop.Before(started) {
		stop, grace = started, max(deadline.Sub(started)/4, 0)
	}
	sctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), stop)
	defer cancel()
	giveUp := time.NewTimer(time.Until(stop.Add(grace)))
	defer giveUp.Stop()

	done := make(chan error, 1)
	go func() {
		err := l.comp.stop(sctx)
		if l.stopTelemetry != nil {
			err = errors.Join(err, l.stopTelemetry(sctx))
		}
		done <- errors.Join(err, l.handler.Shutdown(sctx, ev))
	}()
	var err error
	select {
	case err = <-done:
	case <-giveUp.C:
		err = errors.New("shutdown still running at the deadline")
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
	l.logRecords()
}

// fatal drains what the handler holds within Lambda's usual shutdown window,
// reports the error to /exit/error and returns 1.
func (l *loop) fatal(ctx context.Context, err error) int {
	errorType := errorTypeRuntime
	if errors.Is(err, extapi.ErrMalformedEvent) {
		errorType = errorTypeMalformed
	}
	l.log.Error("event loop failed", "error_type", errorType, "error", err.Error())
	l.finish(ctx, Event{Type: Shutdown, ShutdownReason: ReasonError, Deadline: time.Now().Add(shutdownWindow)})
	report(ctx, l.log, "exit/error", func(ctx context.Context) error {
		return l.client.ExitError(ctx, errorType, err)
	})
	return 1
}

// logRecords logs the handler's accounting line.
func (l *loop) logRecords() {
	if counter, ok := l.handler.(recordCounter); ok {
		logRecords(l.log, counter.records(), l.comp.counts()...)
		return
	}
	failed := l.failed.Load()
	logRecords(l.log, Records{Offered: l.invoked.Load(), Flushed: l.invoked.Load() - failed, Failed: failed}, l.comp.counts()...)
}

// logRecords logs the accounting line, once per process, on every exit path:
// offered = flushed + failed + dropped + unflushed. extra are a companion's counts.
func logRecords(log *slog.Logger, r Records, extra ...any) {
	level := slog.LevelInfo
	if r.Failed+r.Dropped+r.Unflushed > 0 {
		level = slog.LevelWarn
	}
	log.Log(context.Background(), level, "records", append([]any{"offered", r.Offered, "flushed", r.Flushed,
		"failed", r.Failed, "dropped", r.Dropped, "unflushed", r.Unflushed}, extra...)...)
}

// Records is the extension's accounting of what it was given, logged once on
// every exit path as the "records" line. Offered = Flushed + Failed + Dropped +
// Unflushed.
type Records struct {
	Offered   uint64 // handed to the extension: invocations, or records a Batcher was offered
	Flushed   uint64 // handled without error (sync), or flushed without error (async)
	Failed    uint64 // whose work or flush returned an error
	Dropped   uint64 // refused because the queue was full
	Unflushed uint64 // still held when the process ended
}

// recordCounter is implemented by handlers that count records themselves (Batcher).
type recordCounter interface{ records() Records }

// report calls an error endpoint with a short timeout and logs when that fails too.
func report(ctx context.Context, log *slog.Logger, op string, call func(context.Context) error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reportTimeout)
	defer cancel()
	if err := call(rctx); err != nil {
		log.Error("could not report error to Lambda", "op", op, "error", fmt.Sprint(err))
	}
}
