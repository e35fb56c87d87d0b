package extension

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/extension/internal/extapi"
	"{{ cookiecutter.go_module }}/extension/internal/extapi/extapitest"
)

const (
	base    = "/2020-01-01/extension"
	margin  = 300 * time.Millisecond
	maxWait = 10 * time.Second
)

// recorder is a Handler that records what it was given.
type recorder struct {
	mu           sync.Mutex
	invokes      []Event
	deadlines    []time.Time
	shutdowns    []Event
	invokeErr    error
	blockOnStop  bool
	stopDeadline time.Time
}

func (r *recorder) Invoke(ctx context.Context, ev Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	deadline, _ := ctx.Deadline()
	r.invokes = append(r.invokes, ev)
	r.deadlines = append(r.deadlines, deadline)
	return r.invokeErr
}

func (r *recorder) Shutdown(ctx context.Context, ev Event) error {
	r.mu.Lock()
	r.shutdowns = append(r.shutdowns, ev)
	r.stopDeadline, _ = ctx.Deadline()
	block := r.blockOnStop
	r.mu.Unlock()
	if block {
		select {} // a handler that ignores its deadline
	}
	return nil
}

type result struct {
	logMu sync.Mutex
	srv   *extapitest.Server
	logs  *bytes.Buffer
	code  int
	took  time.Duration
}

// start runs the extension against a fake API in the background, with env as its
// environment, and returns a function that waits for its exit code.
func start(t *testing.T, ctx context.Context, srv *extapitest.Server, env map[string]string, newHandler func(*Extension) (Handler, error)) (*result, func() *result) {
	t.Helper()
	r := &result{srv: srv, logs: &bytes.Buffer{}}
	lookup := func(name string) (string, bool) {
		if name == "AWS_LAMBDA_RUNTIME_API" && srv != nil {
			return srv.Addr(), true
		}
		if name == Prefix+"LOG_LEVEL" {
			if _, set := env[name]; !set {
				return "debug", true
			}
		}
		if name == Prefix+"SHUTDOWN_MARGIN" {
			if _, set := env[name]; !set {
				return margin.String(), true
			}
		}
		v, ok := env[name]
		return v, ok
	}
	done := make(chan int, 1)
	began := time.Now()
	go func() {
		done <- run(ctx, process{name: "my-ext", lookup: lookup, stdout: lockedWriter{&r.logMu, r.logs}}, newHandler)
	}()
	return r, func() *result {
		t.Helper()
		select {
		case r.code = <-done:
			r.took = time.Since(began)
		case <-time.After(maxWait):
			t.Fatal("the extension did not exit")
		}
		return r
	}
}

// handlerOf is a constructor that returns h.
func handlerOf(h Handler) func(*Extension) (Handler, error) {
	return func(*Extension) (Handler, error) { return h, nil }
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// logText reads the logs while the extension may still write them.
func (r *result) logText() string {
	r.logMu.Lock()
	defer r.logMu.Unlock()
	return r.logs.String()
}

// waitForNext polls, with a deadline, until the extension has called /event/next.
func waitForNext(t *testing.T, srv *extapitest.Server) {
	t.Helper()
	deadline := time.Now().Add(maxWait)
	for !slices.Contains(srv.Paths(), base+"/event/next") {
		if time.Now().After(deadline) {
			t.Fatal("the extension never called next")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *result) messages() []string {
	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(r.logText()), "\n") {
		var entry struct{ Msg string }
		if json.Unmarshal([]byte(line), &entry) == nil {
			msgs = append(msgs, entry.Msg)
		}
	}
	return msgs
}

func (r *result) lastRequest(path string) (extapitest.Request, bool) {
	reqs := r.srv.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Path == base+path {
			return reqs[i], true
		}
	}
	return extapitest.Request{}, false
}

func TestInvokeThenShutdown(t *testing.T) {
	srv := extapitest.New(t)
	deadline := time.Now().Add(time.Minute).UnixMilli()
	srv.Push(extapi.Event{EventType: "INVOKE", RequestID: "r1", DeadlineMs: deadline})
	srv.Push(extapi.Event{EventType: "INVOKE", RequestID: "r2", DeadlineMs: deadline})
	srv.Push(extapi.Event{EventType: "SHUTDOWN", ShutdownReason: "spindown", DeadlineMs: time.Now().Add(2 * time.Second).UnixMilli()})
	h := &recorder{}
	_, wait := start(t, context.Background(), srv, nil, handlerOf(h))
	r := wait()

	if r.code != 0 {
		t.Fatalf("exit code %d, logs:\n%s", r.code, r.logs)
	}
	wantPaths := []string{base + "/register", base + "/event/next", base + "/event/next", base + "/event/next"}
	if got := srv.Paths(); !slices.Equal(got, wantPaths) {
		t.Errorf("requests = %v, want %v", got, wantPaths)
	}
	if len(h.invokes) != 2 || h.invokes[0].RequestID != "r1" || h.invokes[1].RequestID != "r2" {
		t.Errorf("invokes = %+v", h.invokes)
	}
	if want := time.UnixMilli(deadline).Add(-margin); !h.deadlines[0].Equal(want) {
		t.Errorf("invoke ctx deadline = %v, want deadlineMs - margin = %v", h.deadlines[0], want)
	}
	if h.invokes[0].Type != Invoke || !h.invokes[0].Deadline.Equal(time.UnixMilli(deadline)) {
		t.Errorf("invoke event = %+v", h.invokes[0])
	}
	if len(h.shutdowns) != 1 || !h.shutdowns[0].ShutdownReason.Is(ReasonSpindown) || h.shutdowns[0].Type != Shutdown {
		t.Errorf("shutdowns = %+v", h.shutdowns)
	}
	for _, msg := range []string{"registered", "initialised", "shutdown complete"} {
		if !slices.Contains(r.messages(), msg) {
			t.Errorf("no %q log line in %v", msg, r.messages())
		}
	}
}

func TestUnknownEventsAndReasonsAreTolerated(t *testing.T) {
	srv := extapitest.New(t)
	srv.PushRaw(http.StatusOK, `{"eventType":"RESTORE","deadlineMs":1,"extra":[1]}`)
	srv.Push(extapi.Event{EventType: "INVOKE", RequestID: "r1"})
	srv.Push(extapi.Event{EventType: "SHUTDOWN", ShutdownReason: "SandboxTerminated"})
	h := &recorder{invokeErr: errors.New("processor failed")}
	_, wait := start(t, context.Background(), srv, nil, handlerOf(h))
	r := wait()
	if r.code != 0 {
		t.Fatalf("exit code %d, logs:\n%s", r.code, r.logs)
	}
	if len(h.invokes) != 1 || len(h.shutdowns) != 1 {
		t.Errorf("invokes %d, shutdowns %d", len(h.invokes), len(h.shutdowns))
	}
	for _, msg := range []string{"ignoring unknown event type", "invoke failed"} {
		if !slices.Contains(r.messages(), msg) {
			t.Errorf("no %q log line in %v", msg, r.messages())
		}
	}
}

func TestShutdownEndsBeforeDeadlineEvenIfHandlerHangs(t *testing.T) {
	srv := extapitest.New(t)
	deadline := time.Now().Add(time.Second)
	srv.Push(extapi.Event{EventType: "SHUTDOWN", ShutdownReason: "timeout", DeadlineMs: deadline.UnixMilli()})
	_, wait := start(t, context.Background(), srv, nil, handlerOf(&recorder{blockOnStop: true}))
	r := wait()
	exited := time.Now()
	if r.code != 0 {
		t.Fatalf("exit code %d, want 0", r.code)
	}
	if !exited.Before(deadline) {
		t.Errorf("returned at %v, after the deadline %v", exited, deadline)
	}
	if !slices.Contains(r.messages(), "shutdown incomplete") {
		t.Errorf("no 'shutdown incomplete' line in %v", r.messages())
	}
}

func TestSignalShutsDownCleanly(t *testing.T) {
	srv := extapitest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	h := &recorder{}
	r, wait := start(t, ctx, srv, nil, handlerOf(h))
	// Cancel once the extension waits in /event/next.
	waitForNext(t, srv)
	cancel()
	wait()
	if r.code != 0 || len(h.shutdowns) != 1 || h.shutdowns[0].ShutdownReason != "signal" {
		t.Errorf("code %d, shutdowns %+v", r.code, h.shutdowns)
	}
}

func TestFatalErrors(t *testing.T) {
	tests := []struct {
		name       string
		prepare    func(*extapitest.Server)
		env        map[string]string
		nilHandler bool
		setupErr   error
		report     string // error endpoint expected, "" for none
		errorType  string
	}{
		{
			name: "register forbidden",
			prepare: func(s *extapitest.Server) {
				s.Force("/register", http.StatusForbidden, `{"errorType":"Extension.RegistrationClosed"}`)
			},
		},
		{
			name:    "register server error",
			prepare: func(s *extapitest.Server) { s.Force("/register", http.StatusInternalServerError, "boom") },
		},
		{
			name:      "invalid configuration",
			env:       map[string]string{Prefix + "LOG_LEVEL": "loud"},
			report:    "/init/error",
			errorType: errorTypeConfig,
		},
		{
			name:       "constructor returns no handler",
			nilHandler: true,
			report:     "/init/error",
			errorType:  errorTypeInit,
		},
		{
			name:      "setup failure",
			setupErr:  errors.New("cannot open cache"),
			report:    "/init/error",
			errorType: errorTypeInit,
		},
		{
			name:      "malformed event",
			prepare:   func(s *extapitest.Server) { s.PushRaw(http.StatusOK, `{"eventType": INVOKE`) },
			report:    "/exit/error",
			errorType: errorTypeMalformed,
		},
		{
			name:      "next server error",
			prepare:   func(s *extapitest.Server) { s.PushRaw(http.StatusInternalServerError, "boom") },
			report:    "/exit/error",
			errorType: errorTypeRuntime,
		},
		{
			name: "next forbidden",
			prepare: func(s *extapitest.Server) {
				s.PushRaw(http.StatusForbidden, `{"errorType":"Extension.UnknownExtensionIdentifier"}`)
			},
			report:    "/exit/error",
			errorType: errorTypeRuntime,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := extapitest.New(t)
			if tt.prepare != nil {
				tt.prepare(srv)
			}
			newHandler := func(*Extension) (Handler, error) {
				if tt.nilHandler {
					return nil, nil
				}
				return &recorder{}, tt.setupErr
			}
			_, wait := start(t, context.Background(), srv, tt.env, newHandler)
			r := wait()
			if r.code == 0 {
				t.Fatalf("exit code 0, logs:\n%s", r.logs)
			}
			for _, path := range []string{"/init/error", "/exit/error"} {
				req, called := r.lastRequest(path)
				if called != (path == tt.report) {
					t.Errorf("%s called = %v, want %v", path, called, path == tt.report)
				}
				if called && req.Header.Get("Lambda-Extension-Function-Error-Type") != tt.errorType {
					t.Errorf("%s error type = %q, want %q", path, req.Header.Get("Lambda-Extension-Function-Error-Type"), tt.errorType)
				}
			}
			if slices.Contains(r.messages(), "could not report error to Lambda") {
				t.Errorf("the 202 answer was treated as a failure: %v", r.messages())
			}
			r.onlyRecords(t)
		})
	}
}

func TestAPIGoneExitsWithoutHanging(t *testing.T) {
	srv := extapitest.New(t)
	h := &recorder{}
	r, wait := start(t, context.Background(), srv, nil, handlerOf(h))
	waitForNext(t, srv)
	srv.Vanish()
	wait()
	if r.code == 0 {
		t.Fatalf("exit code 0 after the API went away")
	}
	if n := strings.Count(strings.Join(srv.Paths(), " "), "/event/next"); n != 1 {
		t.Errorf("next called %d times: the loop must not retry a dead API", n)
	}
}

func TestMissingRuntimeAPI(t *testing.T) {
	newHandler := func(*Extension) (Handler, error) {
		t.Error("the constructor ran without a runtime API")
		return nil, nil
	}
	r, wait := start(t, context.Background(), nil, nil, newHandler)
	wait()
	if r.code == 0 || !strings.Contains(r.logText(), "AWS_LAMBDA_RUNTIME_API is not set") {
		t.Errorf("code %d, logs %s", r.code, r.logText())
	}
	if got := r.onlyRecords(t); got != (Records{}) {
		t.Errorf("records = %+v, want all 0", got)
	}
}

// recordsLines returns the "records" lines the extension logged.
func (r *result) recordsLines(t *testing.T) []Records {
	t.Helper()
	var lines []Records
	for _, line := range strings.Split(strings.TrimSpace(r.logText()), "\n") {
		var entry struct {
			Msg                                          string
			Offered, Flushed, Failed, Dropped, Unflushed *uint64
		}
		if json.Unmarshal([]byte(line), &entry) != nil || entry.Msg != "records" {
			continue
		}
		if entry.Offered == nil || entry.Flushed == nil || entry.Failed == nil || entry.Dropped == nil || entry.Unflushed == nil {
			t.Fatalf("records line without every count: %s", line)
		}
		lines = append(lines, Records{*entry.Offered, *entry.Flushed, *entry.Failed, *entry.Dropped, *entry.Unflushed})
	}
	return lines
}

// onlyRecords checks that exactly one records line was logged and that it adds up.
func (r *result) onlyRecords(t *testing.T) Records {
	t.Helper()
	lines := r.recordsLines(t)
	if len(lines) != 1 {
		t.Fatalf("%d records lines, want exactly 1; logs:\n%s", len(lines), r.logText())
	}
	rec := lines[0]
	if rec.Offered != rec.Flushed+rec.Failed+rec.Dropped+rec.Unflushed {
		t.Errorf("records do not add up: %+v", rec)
	}
	return rec
}

func TestEveryExitPathLogsTheRecordsLineOnce(t *testing.T) {
	tests := []struct {
		name string
		end  func(t *testing.T, srv *extapitest.Server, cancel context.CancelFunc)
		code int
	}{
		{"shutdown", func(_ *testing.T, srv *extapitest.Server, _ context.CancelFunc) {
			srv.Push(extapi.Event{EventType: "SHUTDOWN", ShutdownReason: "spindown", DeadlineMs: time.Now().Add(2 * time.Second).UnixMilli()})
		}, 0},
		{"shutdown deadline already past", func(_ *testing.T, srv *extapitest.Server, _ context.CancelFunc) {
			srv.Push(extapi.Event{EventType: "SHUTDOWN", ShutdownReason: "timeout", DeadlineMs: time.Now().Add(-time.Second).UnixMilli()})
		}, 0},
		{"signal", func(t *testing.T, srv *extapitest.Server, cancel context.CancelFunc) {
			waitForNexts(t, srv, 4)
			cancel()
		}, 0},
		{"next answers 500", func(_ *testing.T, srv *extapitest.Server, _ context.CancelFunc) {
			srv.PushRaw(http.StatusInternalServerError, "boom")
		}, 1},
		{"malformed event", func(_ *testing.T, srv *extapitest.Server, _ context.CancelFunc) {
			srv.PushRaw(http.StatusOK, `{"eventType": INVOKE`)
		}, 1},
		{"API gone", func(t *testing.T, srv *extapitest.Server, _ context.CancelFunc) {
			waitForNexts(t, srv, 4)
			srv.Vanish()
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := extapitest.New(t)
			for _, id := range []string{"r1", "r2", "r3"} {
				srv.Push(extapi.Event{EventType: "INVOKE", RequestID: id})
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			failing := InvokeFunc(func(_ context.Context, ev Event) error {
				if ev.RequestID == "r2" {
					return errors.New("work failed")
				}
				return nil
			})
			r, wait := start(t, ctx, srv, nil, handlerOf(failing))
			tt.end(t, srv, cancel)
			wait()
			if r.code != tt.code {
				t.Fatalf("exit code %d, want %d; logs:\n%s", r.code, tt.code, r.logText())
			}
			if got := r.onlyRecords(t); got != (Records{Offered: 3, Flushed: 2, Failed: 1}) {
				t.Errorf("records = %+v, want 3 offered, 2 flushed, 1 failed", got)
			}
		})
	}
}

// waitForNexts polls, with a deadline, until /event/next was called n times.
func waitForNexts(t *testing.T, srv *extapitest.Server, n int) {
	t.Helper()
	deadline := time.Now().Add(maxWait)
	for strings.Count(strings.Join(srv.Paths(), " "), "/event/next") < n {
		if time.Now().After(deadline) {
			t.Fatalf("the extension called next fewer than %d times", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTheConstructorSeesTheRegistration(t *testing.T) {
	srv := extapitest.New(t)
	srv.Push(extapi.Event{EventType: "SHUTDOWN"})
	var got *Extension
	_, wait := start(t, context.Background(), srv, nil, func(x *Extension) (Handler, error) {
		got = x
		return &recorder{}, nil
	})
	r := wait()
	if r.code != 0 || got == nil {
		t.Fatalf("code %d, constructor called: %v", r.code, got != nil)
	}
	if got.Name != "my-ext" || got.FunctionName != "fn" || got.FunctionVersion != "$LATEST" || got.FunctionHandler != "h" || got.AccountID != "123456789012" || got.Log == nil || got.Settings == nil {
		t.Errorf("extension = %+v", got)
	}
	var registered struct{ Name, Version string }
	for _, line := range strings.Split(r.logText(), "\n") {
		if strings.Contains(line, `"msg":"registered"`) {
			json.Unmarshal([]byte(line), &registered)
		}
	}
	if registered.Name != "my-ext" || registered.Version != version {
		t.Errorf("registered line = %+v, want name my-ext and version %q", registered, version)
	}
}

func TestEveryBadSettingIsReportedAtOnce(t *testing.T) {
	srv := extapitest.New(t)
	env := map[string]string{
		Prefix + "LOG_LEVEL":       "loud",
		Prefix + "SHUTDOWN_MARGIN": "288230376151712244", // overflows into 500ms when converted unchecked
		Prefix + "MAX_ITEMS":       "lots",
		Prefix + "UPSTREAM":        strings.Repeat("x", 100_000),
	}
	constructed := false
	_, wait := start(t, context.Background(), srv, env, func(x *Extension) (Handler, error) {
		constructed = true
		x.Settings.Int("MAX_ITEMS", 10)
		x.Settings.URL("UPSTREAM", "")
		x.Settings.Invalid("MODE", "must be fast or slow")
		return &recorder{}, nil
	})
	r := wait()
	if r.code != 1 || !constructed {
		t.Fatalf("code %d, constructed %v", r.code, constructed)
	}
	req, ok := r.lastRequest("/init/error")
	if !ok {
		t.Fatal("no /init/error")
	}
	if got := req.Header.Get("Lambda-Extension-Function-Error-Type"); got != errorTypeConfig {
		t.Errorf("error type %q, want %s", got, errorTypeConfig)
	}
	for _, name := range []string{"LOG_LEVEL", "SHUTDOWN_MARGIN", "MAX_ITEMS", "UPSTREAM", "MODE must be fast or slow"} {
		if !strings.Contains(string(req.Body), Prefix+name) {
			t.Errorf("init/error body does not name %s%s: %.300s", Prefix, name, req.Body)
		}
	}
	if len(req.Body) > 4096 {
		t.Errorf("init/error body is %d bytes: a bad value must not be echoed whole", len(req.Body))
	}
	if slices.Contains(srv.Paths(), base+"/event/next") {
		t.Error("the extension went on to the event loop with bad settings")
	}
}

func TestAShutdownMarginTooSmallToWorkIsRefused(t *testing.T) {
	for _, value := range []string{"0", "10ms", "49ms", "288230376151711744"} {
		t.Run(value, func(t *testing.T) {
			srv := extapitest.New(t)
			_, wait := start(t, context.Background(), srv, map[string]string{Prefix + "SHUTDOWN_MARGIN": value}, handlerOf(&recorder{}))
			r := wait()
			req, ok := r.lastRequest("/init/error")
			if r.code != 1 || !ok || !strings.Contains(string(req.Body), Prefix+"SHUTDOWN_MARGIN") {
				t.Errorf("code %d, init/error %v: %s", r.code, ok, req.Body)
			}
		})
	}
}

// With the smallest margin, and a handler that never returns, the handler's context
// ends the margin before Lambda's deadline and the process still logs its counts and
// exits 0.
func TestTheSmallestMarginStillEndsWithItsCounts(t *testing.T) {
	srv := extapitest.New(t)
	deadline := time.Now().Add(500 * time.Millisecond)
	srv.Push(extapi.Event{EventType: "INVOKE", RequestID: "r1"})
	srv.Push(extapi.Event{EventType: "SHUTDOWN", ShutdownReason: "spindown", DeadlineMs: deadline.UnixMilli()})
	h := &recorder{blockOnStop: true}
	r, wait := start(t, context.Background(), srv, map[string]string{Prefix + "SHUTDOWN_MARGIN": minMargin.String()}, handlerOf(h))
	wait()
	if r.code != 0 {
		t.Errorf("code %d", r.code)
	}
	h.mu.Lock()
	stop := h.stopDeadline
	h.mu.Unlock()
	if want := time.UnixMilli(deadline.UnixMilli()).Add(-minMargin); !stop.Equal(want) {
		t.Errorf("Shutdown's context ends at %v, want deadlineMs - %s = %v", stop, minMargin, want)
	}
	if got := r.onlyRecords(t); got != (Records{Offered: 1, Flushed: 1}) {
		t.Errorf("records = %+v", got)
	}
}

func TestShutdownReasonIsCaseInsensitive(t *testing.T) {
	for _, raw := range []string{"spindown", "SPINDOWN", "SpinDown"} {
		if !ShutdownReason(raw).Is(ReasonSpindown) {
			t.Errorf("%q is not spindown", raw)
		}
	}
	if ShutdownReason("SandboxTerminated").Is(ReasonTimeout) {
		t.Error("unknown reason matched timeout")
	}
}
