package extension

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"time"

	"{{ cookiecutter.go_module }}/extension/internal/config"
	"{{ cookiecutter.go_module }}/extension/internal/extapi"
)

// Handler is what the extension hands Lambda's events to: the processor's
// constructor returns one.
//
// A Handler gains capabilities by implementing more methods, which Run discovers:
// TelemetryHandler (telemetry bakes) receives Telemetry API batches, and
// AfterInvoker runs after Invoke.
type Handler interface {
	// Invoke runs for every INVOKE before the extension asks Lambda for the next
	// event: the time it takes is billed as post-runtime duration. ctx ends at the
	// invocation's deadline less the shutdown margin. An error is logged, counted
	// as failed, and the extension goes on.
	Invoke(ctx context.Context, ev Event) error
	// Shutdown runs once, for SHUTDOWN or a local SIGINT/SIGTERM; ctx ends before
	// Lambda's deadline. The process exits 0 afterwards, even on error.
	Shutdown(ctx context.Context, ev Event) error
}

// AfterInvoker is the optional capability of a Handler that works after Invoke
// returned and before the extension asks for the next event: the Batcher's "end"
// flush. It gets Invoke's ctx; its time is billed as post-runtime duration too. An
// error is logged; the handler counts its own records.
type AfterInvoker interface {
	AfterInvoke(ctx context.Context, ev Event) error
}

// InvokeFunc turns a function into a Handler whose Shutdown does nothing.
type InvokeFunc func(ctx context.Context, ev Event) error

// Invoke calls f.
func (f InvokeFunc) Invoke(ctx context.Context, ev Event) error { return f(ctx, ev) }

// Shutdown does nothing.
func (f InvokeFunc) Shutdown(context.Context, Event) error { return nil }

// EventType names an event Lambda sends.
type EventType string

// The event types Lambda sends to external extensions.
const (
	Invoke   EventType = "INVOKE"
	Shutdown EventType = "SHUTDOWN"
)

// ShutdownReason says why the execution environment shuts down. Lambda sends
// lower-case values ("spindown", "timeout", "failure"), the guide lists upper-case
// ones and emulators send others: compare with Is.
type ShutdownReason string

// Shutdown reasons documented by AWS, and two of the extension's own: "signal" for a
// local SIGINT or SIGTERM, "extension-error" for the drain after a fatal error.
const (
	ReasonSpindown ShutdownReason = "spindown"
	ReasonTimeout  ShutdownReason = "timeout"
	ReasonFailure  ShutdownReason = "failure"
	ReasonSignal   ShutdownReason = "signal"
	ReasonError    ShutdownReason = "extension-error"
)

// Is reports whether r names the same reason as other, ignoring case.
func (r ShutdownReason) Is(other ShutdownReason) bool {
	return strings.EqualFold(string(r), string(other))
}

// Event is one INVOKE or SHUTDOWN. Fields of the other type are empty.
type Event struct {
	Type EventType
	// Deadline is when the invocation times out (INVOKE) or when Lambda kills the
	// process (SHUTDOWN); zero when Lambda sent none.
	Deadline time.Time

	// RequestID, InvokedFunctionARN and TraceID (the X-Amzn-Trace-Id header's value)
	// describe an INVOKE.
	RequestID          string
	InvokedFunctionARN string
	TraceID            string

	// ShutdownReason says why a SHUTDOWN comes.
	ShutdownReason ShutdownReason
}

func eventOf(ev extapi.Event) Event {
	return Event{
		Type:               EventType(ev.EventType),
		Deadline:           ev.Deadline(),
		RequestID:          ev.RequestID,
		InvokedFunctionARN: ev.InvokedFunctionArn,
		TraceID:            ev.Tracing.Value,
		ShutdownReason:     ShutdownReason(ev.ShutdownReason),
	}
}

// Extension is what the processor's constructor gets: who the extension is, where
// to log, and its settings. Read settings in the constructor: bad values are
// reported to Lambda when it returns.
type Extension struct {
	// Name is the name the extension registered with: its file name in
	// /opt/extensions.
	Name string
	// FunctionName, FunctionVersion, FunctionHandler and AccountID are what Lambda
	// said at registration (empty where it said nothing).
	FunctionName    string
	FunctionVersion string
	FunctionHandler string
	AccountID       string
	// Log writes JSON lines to stdout, at the level PREFIX_LOG_LEVEL sets.
	Log *slog.Logger
	// Settings reads the extension's own settings.
	Settings *Settings

	// ctx lives as long as the process; work started by helpers runs under it.
	ctx context.Context
	// lmi is set on Lambda Managed Instances: no INVOKE events, no freeze.
	lmi bool
	// stdout is where EMF lines go: the process's stdout, which Lambda sends to
	// the function's log group.
	stdout io.Writer
	// env reads the built-in settings; Settings shares it, so every bad variable is
	// reported at once.
	env *config.Reader
	// comp is the companion's (local API, Runtime API proxy), nil without one.
	comp *companion
}

// ForTest returns an Extension for a processor's tests: settings come from env
// (keys are full variable names, e.g. Prefix+"CACHE_TTL"), logs go to log
// (nil: discarded); its EMF lines are discarded (use NewEMF with a buffer).
func ForTest(env map[string]string, log *slog.Logger) *Extension {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := config.New(Prefix, func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	})
	return &Extension{Name: "test", Log: log, Settings: &Settings{r: r}, ctx: context.Background(), env: r}
}

// Err reports the settings that were invalid so far, every bad variable named; Run
// reports it to Lambda as Extension.ConfigInvalid after the constructor returns.
func (x *Extension) Err() error { return x.env.Err() }
