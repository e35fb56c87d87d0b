// Package emulator plays Lambda's side of the Extensions API on 127.0.0.1 for local
// runs and end-to-end tests. It starts the extension binary as a child process with the
// environment Lambda gives it, drives it through init, N INVOKEs and SHUTDOWN, enforces
// the rules Lambda enforces, and returns a Report: a timeline with init, per-invoke and
// shutdown durations, the exit code, error reports and rule violations.
//
// It is a development tool (tools/emulator, make local, tools/e2e); nothing here ships
// in the layer.
package emulator

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Fault selects a way for the emulated Lambda to misbehave.
type Fault string

// The fault modes. The comment says what the extension is expected to do.
const (
	// FaultNone runs the normal lifecycle: exit 0 after SHUTDOWN, before its deadline.
	FaultNone Fault = ""
	// FaultRegister403 answers register with 403: exit non-zero at once.
	FaultRegister403 Fault = "register-403"
	// FaultRegister500 answers register with 500: exit non-zero at once.
	FaultRegister500 Fault = "register-500"
	// FaultNext500 answers the first next after the first INVOKE with 500: exit/error,
	// then a non-zero exit.
	FaultNext500 Fault = "next-500"
	// FaultMalformedEvent sends a body that is not a JSON event as the first INVOKE:
	// exit/error, then a non-zero exit.
	FaultMalformedEvent Fault = "malformed-event"
	// FaultAPIGone closes the API (listener and connections) once the extension is back
	// in next after the first INVOKE: non-zero exit, no busy loop, no hang.
	FaultAPIGone Fault = "api-gone"
	// FaultHeldNext holds the first next after init for Config.Hold before the first
	// INVOKE: the extension keeps waiting on the same request, then goes on normally.
	FaultHeldNext Fault = "held-next"
	// FaultUnknownShutdownReason sends a shutdown reason Lambda does not document: exit 0.
	FaultUnknownShutdownReason Fault = "unknown-shutdown-reason"
	// FaultTightDeadline gives SHUTDOWN a deadline too short for pending work: the
	// extension must still exit before it (async: logging what it could not flush).
	FaultTightDeadline Fault = "tight-deadline"
)

// Faults lists every fault mode, for flags and tests.
var Faults = []Fault{
	FaultRegister403, FaultRegister500, FaultNext500, FaultMalformedEvent, FaultAPIGone,
	FaultHeldNext, FaultUnknownShutdownReason, FaultTightDeadline,
}

// Defaults of the fault modes that change timing or the shutdown reason.
const (
	DefaultHold                 = 35 * time.Second
	DefaultTightDeadline        = 100 * time.Millisecond
	UnknownShutdownReason       = "SandboxRecycled"
	DefaultShutdownDeadline     = 2 * time.Second
	DefaultInvokeTimeout        = 3 * time.Second
	DefaultInitTimeout          = 10 * time.Second
	DefaultShutdownReason       = "spindown"
	faultExitWait               = 5 * time.Second
	maxBody                     = 1 << 20
	apiPrefix                   = "/2020-01-01/extension"
	headerName                  = "Lambda-Extension-Name"
	headerIdentifier            = "Lambda-Extension-Identifier"
	headerAcceptFeature         = "Lambda-Extension-Accept-Feature"
	headerErrorType             = "Lambda-Extension-Function-Error-Type"
	emulatedAccountID           = "123456789012"
	defaultFunctionName         = "local-function"
	defaultMemoryMB             = 128
	defaultRegion               = "us-east-1"
	emulatedFunctionVersion     = "$LATEST"
	emulatedHandler             = "bootstrap"
	emulatedInitializationType  = "on-demand"
	emulatedMalformedEventBody  = `{"eventType":"INVOKE","deadlineMs":` // cut short
	emulatedErrorTypeRegClosed  = "Extension.RegistrationClosed"
	emulatedErrorTypeService    = "Extension.ServiceError"
	emulatedErrorTypeBadID      = "Extension.InvalidExtensionIdentifier"
	emulatedErrorTypeBadName    = "Extension.InvalidExtensionName"
	emulatedErrorTypeBadEvent   = "Extension.InvalidEventType"
	emulatedErrorTypeBadRequest = "InvalidRequestFormat"
)

// Config describes one emulated run. Zero values take the defaults named below.
type Config struct {
	// Binary is the extension executable. Its file name is the only name it may
	// register with, as in /opt/extensions.
	Binary string
	// Env holds extra KEY=VALUE variables for the extension (the function's
	// environment); they override the emulated Lambda variables.
	Env []string
	// Output receives the extension's stdout and stderr (default: discarded).
	Output io.Writer
	// Logs says whether the emulator reads that output, and how it passes it on
	// (default LogsAsWritten: unread, unchanged; see logs.go).
	Logs LogFormat
	// OnEvent, when set, is called with each timeline entry as it is recorded: a live
	// timeline. It runs with the emulator's lock held, so it must return quickly and
	// must not call the emulator.
	OnEvent func(Entry)

	Invokes          int           // INVOKE events to send (0 means none)
	Spacing          time.Duration // idle time between invocations
	FunctionDuration time.Duration // how long the emulated function runs per invoke
	InvokeTimeout    time.Duration // function timeout: deadlineMs of INVOKE (default 3s)
	InitTimeout      time.Duration // init phase limit (default 10s)
	ShutdownReason   string        // default "spindown"
	ShutdownDeadline time.Duration // SHUTDOWN delivery to deadlineMs (default 2s)
	// HoldShutdown, when set, holds SHUTDOWN after the last invocation until it is
	// closed: a test that works on the extension from outside (a load on its
	// listener) keeps the environment up for as long as that takes.
	HoldShutdown <-chan struct{}

	// Freeze stops the extension (SIGSTOP) while the environment is idle between
	// invocations and continues it (SIGCONT) before the next event, as Lambda freezes
	// an idle execution environment: background work then waits, as it does there.
	Freeze bool

	Fault Fault
	// Hold is how long FaultHeldNext holds the first next (default 35s).
	Hold time.Duration

	FunctionName string // AWS_LAMBDA_FUNCTION_NAME (default local-function)
	MemoryMB     int    // AWS_LAMBDA_FUNCTION_MEMORY_SIZE (default 128)
	Region       string // AWS_REGION (default us-east-1)

	// Telemetry configures the emulated Telemetry API (see telemetry.go).
	Telemetry TelemetryConfig
	// Companion configures the emulated function's calls to a companion (see
	// companion.go).
	Companion CompanionConfig

	// LMI plays Lambda Managed Instances (see lmi.go): INVOKE registrations refused,
	// no INVOKE events, LMIConcurrency invocations at once (default 4), no freeze,
	// per-request telemetry in the 2025-01-29 schema.
	LMI            bool
	LMIConcurrency int

	// Sink runs an HTTP sink for the extension's batches (see sink.go).
	Sink SinkConfig
}

func (c *Config) applyDefaults() {
	if c.Output == nil {
		c.Output = io.Discard
	}
	if c.InvokeTimeout <= 0 {
		c.InvokeTimeout = DefaultInvokeTimeout
	}
	if c.InitTimeout <= 0 {
		c.InitTimeout = DefaultInitTimeout
	}
	if c.ShutdownReason == "" {
		c.ShutdownReason = DefaultShutdownReason
		if c.Fault == FaultUnknownShutdownReason {
			c.ShutdownReason = UnknownShutdownReason
		}
	}
	if c.ShutdownDeadline <= 0 {
		c.ShutdownDeadline = DefaultShutdownDeadline
		if c.Fault == FaultTightDeadline {
			c.ShutdownDeadline = DefaultTightDeadline
		}
	}
	if c.Hold <= 0 {
		c.Hold = DefaultHold
	}
	if c.LMI {
		c.Freeze = false // the environment runs continuously
		// One runtime worker per concurrent invocation is not emulated.
		c.Companion.RuntimeProxy = false
		if c.LMIConcurrency <= 0 {
			c.LMIConcurrency = DefaultLMIConcurrency
		}
	}
	if c.FunctionName == "" {
		c.FunctionName = defaultFunctionName
	}
	if c.MemoryMB <= 0 {
		c.MemoryMB = defaultMemoryMB
	}
	if c.Region == "" {
		c.Region = defaultRegion
	}
}

// Emulator is one run in progress. Use Run unless you need the pieces.
type Emulator struct {
	cfg     Config
	name    string // the binary's file name: the only name that may register
	started time.Time
	srv     *http.Server
	ln      net.Listener

	arrivals chan *arrival // calls to /event/next, handed to the driver
	gone     chan struct{} // closed when the API goes away (FaultAPIGone or the end)
	goneOnce sync.Once

	fn companionState // owned by companion.go

	mu     sync.Mutex
	report Report
	id     string // identifier handed out by register
	closed bool   // init/error or exit/error was called

	tel  telemetryState // owned by telemetry.go
	sink sinkState      // owned by sink.go
	rt   runtimeState   // owned by runtime.go
}

// arrival is one GET /event/next waiting for its answer.
type arrival struct {
	at    time.Time
	reply chan reply
}

type reply struct {
	status int
	body   []byte
}

// Run starts the extension, drives the whole lifecycle and returns its report. The
// error is for problems of the emulator itself (no binary, no port); everything the
// extension did wrong is in the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.applyDefaults()
	if cfg.Binary == "" {
		return nil, errors.New("emulator: no extension binary given")
	}
	if _, err := os.Stat(cfg.Binary); err != nil {
		return nil, fmt.Errorf("emulator: extension binary: %w", err)
	}
	if cfg.Logs != LogsAsWritten && cfg.Logs != LogsRaw && cfg.Logs != LogsReadable {
		return nil, fmt.Errorf("emulator: unknown log format %q", cfg.Logs)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("emulator: listen: %w", err)
	}
	e := &Emulator{
		cfg:      cfg,
		name:     filepath.Base(cfg.Binary),
		ln:       ln,
		arrivals: make(chan *arrival),
		gone:     make(chan struct{}),
	}
	e.report = Report{
		Extension:      e.name,
		Fault:          cfg.Fault,
		ShutdownReason: cfg.ShutdownReason,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+apiPrefix+"/register", e.handleRegister)
	mux.HandleFunc("GET "+apiPrefix+"/event/next", e.handleNext)
	mux.HandleFunc("POST "+apiPrefix+"/init/error", e.handleError("init/error"))
	mux.HandleFunc("POST "+apiPrefix+"/exit/error", e.handleError("exit/error"))
	mux.HandleFunc("PUT /2022-07-01/telemetry", e.handleTelemetry)
	e.serveRuntimeAPI(mux)
	mux.HandleFunc("/", e.handleUnknown)
	e.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go e.srv.Serve(ln)
	defer e.vanish()
	sinkURL, stopSink, err := e.startSink()
	if err != nil {
		return nil, err
	}
	defer stopSink()
	if sinkURL != "" {
		e.cfg.Env = append([]string{e.cfg.Sink.Env + "=" + sinkURL}, e.cfg.Env...) // -env may override it
	}

	if err := e.drive(ctx); err != nil {
		return nil, err
	}
	e.waitRuntime()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.report.finish()
	e.telemetryReport(&e.report.Telemetry)
	e.runtimeReport(&e.report.RuntimeProxy)
	r := e.report
	return &r, nil
}

// vanish closes the listener and every connection: the API is gone.
func (e *Emulator) vanish() {
	e.goneOnce.Do(func() {
		// The listener goes first: net/http retries an idempotent GET whose reused
		// connection dropped, and that retry must find nobody listening.
		e.ln.Close()
		close(e.gone)
		e.srv.Close()
	})
}

// since is the offset from the extension's start, the timeline's clock.
func (e *Emulator) since(t time.Time) time.Duration { return t.Sub(e.started) }

// event appends a timeline entry; the caller holds e.mu.
func (e *Emulator) event(at time.Time, what, detail string) {
	e.report.Timeline = append(e.report.Timeline, Entry{At: e.since(at), What: what, Detail: detail})
	if e.cfg.OnEvent != nil {
		e.cfg.OnEvent(e.report.Timeline[len(e.report.Timeline)-1])
	}
}

func (e *Emulator) violate(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.violateLocked(format, args...)
}

func (e *Emulator) violateLocked(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	e.report.Violations = append(e.report.Violations, msg)
	e.event(time.Now(), "violation", msg)
}

func (e *Emulator) environment(runtimeAPI string) []string {
	c := e.cfg
	env := []string{
		"AWS_LAMBDA_RUNTIME_API=" + runtimeAPI,
		"AWS_LAMBDA_FUNCTION_NAME=" + c.FunctionName,
		"AWS_LAMBDA_FUNCTION_VERSION=" + emulatedFunctionVersion,
		fmt.Sprintf("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%d", c.MemoryMB),
		"AWS_LAMBDA_INITIALIZATION_TYPE=" + e.initializationType(),
		"AWS_REGION=" + c.Region,
		"AWS_DEFAULT_REGION=" + c.Region,
		"TZ=:UTC",
		"LANG=en_US.UTF-8",
		"PATH=/usr/local/bin:/usr/bin:/bin:/opt/bin",
	}
	env = append(env, companionEnv()...)
	return append(env, c.Env...) // later entries win (os/exec keeps the last duplicate)
}

// drive runs the child and plays the lifecycle.
func (e *Emulator) drive(ctx context.Context) error {
	cmd := exec.Command(e.cfg.Binary)
	cmd.Env = e.environment(e.ln.Addr().String())
	e.fn.configure(cmd.Env)
	cmd.Stdout = e.cfg.Output
	cmd.Stderr = e.cfg.Output
	cmd.WaitDelay = time.Second
	logs := e.logWriter(cmd)
	e.mu.Lock()
	e.started = time.Now()
	e.report.Started = e.started
	if logs != nil {
		logs.start = e.started // before the extension can write a line
	}
	err := cmd.Start()
	if err == nil {
		e.event(e.started, "start", fmt.Sprintf("%s, Extensions API at %s", e.cfg.Binary, e.ln.Addr()))
	}
	e.mu.Unlock()
	if err != nil {
		return fmt.Errorf("emulator: start extension: %w", err)
	}
	exited := make(chan exitInfo, 1)
	go func() {
		err := cmd.Wait()
		at := time.Now()
		if logs != nil {
			logs.Flush() // Wait has copied all the output
		}
		exited <- exitInfo{at: at, state: cmd.ProcessState, err: err}
	}()
	d := driver{e: e, ctx: ctx, cmd: cmd, exited: exited}
	d.run()
	return nil
}

type exitInfo struct {
	at    time.Time
	state *os.ProcessState
	err   error
}

type driver struct {
	e      *Emulator
	ctx    context.Context
	cmd    *exec.Cmd
	exited chan exitInfo
	exit   *exitInfo
}

// wait returns the next /event/next call, or nil when the process exited, the
// deadline passed (timedOut) or ctx ended.
func (d *driver) wait(deadline time.Time) (a *arrival, timedOut bool) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case a := <-d.e.arrivals:
		return a, false
	case x := <-d.exited:
		d.exit = &x
		return nil, false
	case <-timer.C:
		return nil, true
	case <-d.ctx.Done():
		return nil, false
	}
}

// pause waits for dur unless the process exits or ctx ends; it reports whether to go on.
func (d *driver) pause(dur time.Duration) bool {
	if dur <= 0 {
		return true
	}
	timer := time.NewTimer(dur)
	defer timer.Stop()
	return waitFor(d, timer.C)
}

// waitFor waits for ch unless the process exits or ctx ends; it reports whether to
// go on.
func waitFor[T any](d *driver, ch <-chan T) bool {
	select {
	case <-ch:
		return true
	case x := <-d.exited:
		d.exit = &x
		return false
	case <-d.ctx.Done():
		return false
	}
}

// idle is the pause between two invocations, when the environment has nothing to
// do; with Config.Freeze the extension spends it frozen.
func (d *driver) idle(dur time.Duration) bool {
	if d.e.cfg.Freeze && dur > 0 {
		defer d.freeze()()
	}
	return d.pause(dur)
}

// freeze stops the extension and returns the function that thaws it; both steps go
// on the timeline, and the frozen window into the report.
func (d *driver) freeze() (thaw func()) {
	e := d.e
	if err := stop(d.cmd.Process); err != nil {
		e.mu.Lock()
		e.event(time.Now(), "freeze failed", err.Error())
		e.mu.Unlock()
		return func() {}
	}
	from := time.Now()
	e.mu.Lock()
	e.event(from, "frozen", "SIGSTOP while idle")
	e.sinkFrozen()
	e.mu.Unlock()
	return func() {
		to := time.Now()
		detail := "SIGCONT"
		if err := cont(d.cmd.Process); err != nil {
			detail = "SIGCONT failed: " + err.Error()
		}
		e.mu.Lock()
		e.report.Frozen = append(e.report.Frozen, Window{From: e.since(from), To: e.since(to)})
		e.sinkThawed()
		e.event(to, "thawed", detail)
		e.mu.Unlock()
	}
}

func (d *driver) run() {
	e := d.e
	cfg := e.cfg
	defer d.finish()

	// Init ends when the extension first calls next.
	a, timedOut := d.wait(e.started.Add(cfg.InitTimeout))
	if a == nil {
		if timedOut {
			e.violate("init: the extension was not in /event/next within %s (Lambda: Init timeout)", cfg.InitTimeout)
		}
		return
	}
	e.mu.Lock()
	e.report.Init = a.at.Sub(e.started)
	e.report.InitDone = true
	e.event(a.at, "init done", "first /event/next")
	e.mu.Unlock()
	e.telemetryPhase(Phase{Kind: PhaseInit, Start: e.started, End: a.at})

	if cfg.Fault == FaultHeldNext {
		e.mu.Lock()
		e.event(time.Now(), "holding next", cfg.Hold.String())
		e.mu.Unlock()
		if !d.pause(cfg.Hold) {
			d.abandon(a)
			return
		}
	}

	e.fn.initDone.Wait() // the function's init ends before the first INVOKE, as in Lambda
	if cfg.LMI {
		if !d.lmiInvokes() {
			d.abandon(a)
			return
		}
		d.shutdown(a)
		return
	}
	for i := range cfg.Invokes {
		if i > 0 && !d.idle(cfg.Spacing) {
			d.abandon(a)
			return
		}
		if a = d.invoke(i, a); a == nil {
			return
		}
	}
	if !d.holdShutdown() {
		d.abandon(a)
		return
	}
	d.shutdown(a)
}

// holdShutdown waits, when Config.HoldShutdown is set, until it is closed; it reports
// whether to go on (false: the process exited or ctx ended first).
func (d *driver) holdShutdown() bool {
	if d.e.cfg.HoldShutdown == nil {
		return true
	}
	return waitFor(d, d.e.cfg.HoldShutdown)
}

// runtimeDoneAt delivers the function's telemetry when it returns, FunctionDuration
// after start, whatever the extension does meanwhile; the channel closes once done
// (or once the API is gone).
func (e *Emulator) runtimeDoneAt(start time.Time, requestID string) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		timer := time.NewTimer(time.Until(start.Add(e.cfg.FunctionDuration)))
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-e.gone:
			return
		}
		e.telemetryPhase(Phase{Kind: PhaseRuntimeDone, RequestID: requestID, Start: start, End: time.Now()})
	}()
	return done
}

// abandon answers a pending next when the run ends without an event for it.
func (d *driver) abandon(a *arrival) {
	if a != nil {
		a.reply <- reply{status: http.StatusInternalServerError, body: errorBody("emulator stopped", emulatedErrorTypeService)}
	}
}

// invoke delivers INVOKE number i on the pending next a and returns the extension's
// next call after it, or nil when the run ends.
func (d *driver) invoke(i int, a *arrival) *arrival {
	e := d.e
	cfg := e.cfg
	requestID := newUUID()
	delivered := time.Now()
	deadline := delivered.Add(cfg.InvokeTimeout)
	trace := fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=1", delivered.Unix(), randomHex(24), randomHex(16))
	body, _ := json.Marshal(map[string]any{
		"eventType":          "INVOKE",
		"deadlineMs":         deadline.UnixMilli(),
		"requestId":          requestID,
		"invokedFunctionArn": fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", cfg.Region, emulatedAccountID, cfg.FunctionName),
		"tracing":            map[string]string{"type": "X-Amzn-Trace-Id", "value": trace},
	})
	detail := requestID
	if cfg.Fault == FaultMalformedEvent && i == 0 {
		body = []byte(emulatedMalformedEventBody)
		detail = "malformed body " + string(body)
	}
	a.reply <- reply{status: http.StatusOK, body: body}
	runtimeDone := e.runtimeDoneAt(delivered, requestID)

	e.mu.Lock()
	e.report.Invokes = append(e.report.Invokes, Invoke{RequestID: requestID, At: e.since(delivered)})
	inv := &e.report.Invokes[len(e.report.Invokes)-1]
	e.event(delivered, "INVOKE", detail)
	if detail != requestID {
		e.markFault(delivered)
	}
	e.mu.Unlock()
	functionReturned := e.functionInvoke(i, requestID, delivered, deadline, trace)

	next, timedOut := d.wait(deadline)
	if next == nil {
		if timedOut {
			e.violate("invoke %s: the extension was not back in /event/next by the deadline (%s): Lambda times the invocation out", requestID, cfg.InvokeTimeout)
		}
		return nil
	}
	// The invocation ends when the function and every extension are done.
	fnEnd := delivered.Add(cfg.FunctionDuration)
	e.mu.Lock()
	inv.Extension = next.at.Sub(delivered)
	inv.BackInNext = true
	inv.Duration = max(cfg.FunctionDuration, inv.Extension)
	e.event(next.at, "back in next", fmt.Sprintf("%s after %s", requestID, fmtDur(inv.Extension)))
	e.mu.Unlock()
	if !d.pause(time.Until(fnEnd)) {
		d.abandon(next)
		return nil
	}
	functionReturned()
	end := fnEnd
	if next.at.After(end) {
		end = next.at
	}
	<-runtimeDone
	e.telemetryPhase(Phase{Kind: PhaseInvoke, RequestID: requestID, Start: delivered, End: end})

	if i == 0 {
		switch cfg.Fault {
		case FaultNext500:
			e.mu.Lock()
			e.markFault(time.Now())
			e.event(time.Now(), "next answered 500", "")
			e.mu.Unlock()
			next.reply <- reply{status: http.StatusInternalServerError, body: errorBody("emulated service failure", emulatedErrorTypeService)}
			d.awaitExit(faultExitWait)
			return nil
		case FaultAPIGone:
			e.mu.Lock()
			e.markFault(time.Now())
			e.event(time.Now(), "API gone", "listener and connections closed")
			e.mu.Unlock()
			e.vanish()
			d.awaitExit(faultExitWait)
			return nil
		}
	}
	return next
}

// markFault records when the fault was applied; the caller holds e.mu.
func (e *Emulator) markFault(at time.Time) {
	if e.report.FaultAt == nil {
		off := e.since(at)
		e.report.FaultAt = &off
	}
}

// awaitExit waits for the process to exit on its own after a fault.
func (d *driver) awaitExit(limit time.Duration) {
	if d.exit != nil {
		return
	}
	// The extension should exit; meanwhile it may call next again (a retry), which
	// gets the same failure.
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		select {
		case x := <-d.exited:
			d.exit = &x
			return
		case a := <-d.e.arrivals:
			d.e.violate("the extension called /event/next again after it failed")
			a.reply <- reply{status: http.StatusInternalServerError, body: errorBody("emulated service failure", emulatedErrorTypeService)}
		case <-timer.C:
			d.e.violate("the extension did not exit within %s after the fault", limit)
			return
		case <-d.ctx.Done():
			return
		}
	}
}

func (d *driver) shutdown(a *arrival) {
	e := d.e
	cfg := e.cfg
	e.stopRuntime()
	e.telemetryPhase(Phase{Kind: PhaseShutdown, Start: time.Now()})
	delivered := time.Now()
	deadline := delivered.Add(cfg.ShutdownDeadline)
	body, _ := json.Marshal(map[string]any{
		"eventType":      "SHUTDOWN",
		"shutdownReason": cfg.ShutdownReason,
		"deadlineMs":     deadline.UnixMilli(),
	})
	a.reply <- reply{status: http.StatusOK, body: body}
	e.mu.Lock()
	e.report.Shutdown = &Shutdown{Reason: cfg.ShutdownReason, At: e.since(delivered), Deadline: cfg.ShutdownDeadline}
	e.event(delivered, "SHUTDOWN", fmt.Sprintf("reason %s, deadline in %s", cfg.ShutdownReason, fmtDur(cfg.ShutdownDeadline)))
	if cfg.Fault == FaultUnknownShutdownReason || cfg.Fault == FaultTightDeadline {
		e.markFault(delivered)
	}
	e.mu.Unlock()

	// Lambda kills the process at the deadline.
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		select {
		case x := <-d.exited:
			d.exit = &x
			e.mu.Lock()
			e.report.Shutdown.Duration = x.at.Sub(delivered)
			e.report.Shutdown.BeforeDeadline = x.at.Before(deadline)
			e.mu.Unlock()
			return
		case a := <-e.arrivals:
			e.violate("the extension called /event/next after SHUTDOWN")
			a.reply <- reply{status: http.StatusForbidden, body: errorBody("no events after SHUTDOWN", emulatedErrorTypeRegClosed)}
		case <-timer.C:
			e.violate("shutdown: the extension had not exited at the deadline (%s after SHUTDOWN): Lambda kills it", cfg.ShutdownDeadline)
			return
		case <-d.ctx.Done():
			return
		}
	}
}

// finish kills the process if it still runs and records how it ended.
func (d *driver) finish() {
	e := d.e
	e.vanish()
	if d.exit == nil {
		killed := false
		select {
		case x := <-d.exited:
			d.exit = &x
		default:
			_ = d.cmd.Process.Kill()
			killed = true
			x := <-d.exited
			d.exit = &x
		}
		e.mu.Lock()
		e.report.Killed = killed
		e.mu.Unlock()
	}
	x := d.exit
	e.mu.Lock()
	defer e.mu.Unlock()
	e.report.Exited = true
	e.report.ExitAt = e.since(x.at)
	e.report.ExitCode = x.state.ExitCode()
	if ws, ok := x.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		e.report.Signal = ws.Signal().String()
	}
	detail := fmt.Sprintf("code %d", e.report.ExitCode)
	if e.report.Signal != "" {
		detail = "signal " + e.report.Signal
	}
	e.event(x.at, "exit", detail)
	if d.ctx.Err() != nil {
		e.report.Interrupted = true
	}
}

// ---- HTTP side ---------------------------------------------------------------

func errorBody(message, errorType string) []byte {
	b, _ := json.Marshal(map[string]string{"errorMessage": message, "errorType": errorType})
	return b
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

func (e *Emulator) handleRegister(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
	name := r.Header.Get(headerName)
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.report.RegisterCalls++
	switch e.cfg.Fault {
	case FaultRegister403:
		e.markFault(now)
		e.event(now, "register answered 403", "name "+name)
		writeJSON(w, http.StatusForbidden, errorBody("emulated: registration refused", emulatedErrorTypeRegClosed))
		return
	case FaultRegister500:
		e.markFault(now)
		e.event(now, "register answered 500", "name "+name)
		writeJSON(w, http.StatusInternalServerError, errorBody("emulated: internal error", emulatedErrorTypeService))
		return
	}
	if e.id != "" {
		e.violateLocked("register called a second time")
		writeJSON(w, http.StatusForbidden, errorBody("already registered", emulatedErrorTypeRegClosed))
		return
	}
	if name != e.name {
		e.violateLocked("register: %s is %q, not the executable's file name %q (in Lambda it never registers and Init times out)", headerName, name, e.name)
		writeJSON(w, http.StatusForbidden, errorBody("unknown extension "+name, emulatedErrorTypeBadName))
		return
	}
	var req struct {
		Events []string `json:"events"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		e.violateLocked("register: body is not {\"events\":[...]}: %v", err)
		writeJSON(w, http.StatusBadRequest, errorBody("invalid register body", emulatedErrorTypeBadRequest))
		return
	}
	for _, ev := range req.Events {
		if ev != "INVOKE" && ev != "SHUTDOWN" {
			e.violateLocked("register: event %q is not INVOKE or SHUTDOWN", ev)
			writeJSON(w, http.StatusForbidden, errorBody("invalid event "+ev, emulatedErrorTypeBadEvent))
			return
		}
	}
	if why := e.lmiRefusesRegistration(req.Events); why != "" {
		e.violateLocked("%s", why)
		writeJSON(w, http.StatusForbidden, errorBody("INVOKE is not available on Lambda Managed Instances", emulatedErrorTypeBadEvent))
		return
	}
	e.id = newUUID()
	e.report.Registered = true
	e.report.RegisteredName = name
	e.report.AcceptFeature = r.Header.Get(headerAcceptFeature)
	e.report.Events = req.Events
	e.event(now, "registered", fmt.Sprintf("%s for %s", name, strings.Join(req.Events, ", ")))
	e.functionInit()
	answer := map[string]string{
		"functionName":    e.cfg.FunctionName,
		"functionVersion": emulatedFunctionVersion,
		"handler":         emulatedHandler,
	}
	if strings.Contains(r.Header.Get(headerAcceptFeature), "accountId") {
		answer["accountId"] = emulatedAccountID
	}
	b, _ := json.Marshal(answer)
	w.Header().Set(headerIdentifier, e.id)
	writeJSON(w, http.StatusOK, b)
}

// checkID enforces "register first" and "identifier on every call"; the caller holds
// e.mu. It answers the request and returns false when a rule is broken.
func (e *Emulator) checkID(w http.ResponseWriter, r *http.Request, op string) bool {
	switch id := r.Header.Get(headerIdentifier); {
	case e.id == "":
		e.violateLocked("%s called before register", op)
	case id == "":
		e.violateLocked("%s called without %s", op, headerIdentifier)
	case id != e.id:
		e.violateLocked("%s called with an unknown %s %q", op, headerIdentifier, id)
	default:
		return true
	}
	writeJSON(w, http.StatusForbidden, errorBody("missing or unknown extension identifier", emulatedErrorTypeBadID))
	return false
}

func (e *Emulator) handleNext(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	e.report.NextCalls++
	ok := e.checkID(w, r, "next")
	if ok && e.closed {
		e.violateLocked("next called after an init/error or exit/error report")
		writeJSON(w, http.StatusForbidden, errorBody("extension already reported an error", emulatedErrorTypeRegClosed))
		ok = false
	}
	e.mu.Unlock()
	if !ok {
		return
	}
	a := &arrival{at: time.Now(), reply: make(chan reply, 1)}
	select {
	case e.arrivals <- a:
	case <-r.Context().Done():
		e.abandoned()
		return
	case <-e.gone:
		panic(http.ErrAbortHandler) // drop the connection without an answer
	}
	select {
	case rep := <-a.reply:
		writeJSON(w, rep.status, rep.body)
	case <-r.Context().Done():
		e.abandoned()
	case <-e.gone:
		panic(http.ErrAbortHandler)
	}
}

// abandoned counts a next the extension gave up on while it waited.
func (e *Emulator) abandoned() {
	select {
	case <-e.gone:
		return // the API went away: not the extension's doing
	default:
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.report.AbandonedNexts++
	e.event(time.Now(), "next abandoned", "the extension closed a waiting /event/next")
}

func (e *Emulator) handleError(op string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
		now := time.Now()
		e.mu.Lock()
		defer e.mu.Unlock()
		if !e.checkID(w, r, op) {
			return
		}
		errorType := r.Header.Get(headerErrorType)
		if errorType == "" {
			e.violateLocked("%s called without %s", op, headerErrorType)
			writeJSON(w, http.StatusBadRequest, errorBody("missing "+headerErrorType, emulatedErrorTypeBadRequest))
			return
		}
		var payload struct {
			ErrorMessage string `json:"errorMessage"`
		}
		if len(bytes.TrimSpace(body)) > 0 {
			_ = json.Unmarshal(body, &payload)
		}
		e.closed = true
		e.report.ErrorReports = append(e.report.ErrorReports, ErrorReport{Op: op, Type: errorType, Message: payload.ErrorMessage, At: e.since(now)})
		e.event(now, op, errorType+": "+payload.ErrorMessage)
		writeJSON(w, http.StatusAccepted, []byte(`{"status":"OK"}`))
	}
}

func (e *Emulator) handleTelemetry(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
	e.mu.Lock()
	ok := e.checkID(w, r, "telemetry subscribe")
	e.mu.Unlock()
	if ok {
		e.serveTelemetry(w, r, body)
	}
}

func (e *Emulator) handleUnknown(w http.ResponseWriter, r *http.Request) {
	e.violate("%s %s is not part of the Extensions API", r.Method, r.URL.Path)
	writeJSON(w, http.StatusNotFound, errorBody("not found", emulatedErrorTypeBadRequest))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// logWriter puts a logWriter between the extension's output and Config.Output when
// Config.Logs asks the emulator to read it; nil otherwise.
func (e *Emulator) logWriter(cmd *exec.Cmd) *logWriter {
	if e.cfg.Logs == LogsAsWritten {
		return nil
	}
	w := newLogWriter(e.cfg.Output, e.cfg.Logs, func(l LogLine) {
		e.mu.Lock()
		e.report.Logs = append(e.report.Logs, l)
		e.mu.Unlock()
	})
	cmd.Stdout, cmd.Stderr = w, w
	return w
}

// delivered records a telemetry delivery that began at began; the caller holds e.mu.
func (e *Emulator) delivered(began time.Time, phase PhaseKind, sent, accepted int) {
	e.report.Deliveries = append(e.report.Deliveries, Delivery{
		Window: Window{From: e.since(began), To: e.since(time.Now())},
		Phase:  phase, Records: sent, Accepted: accepted,
	})
}
