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
	mu          sync.Mutex
	invokes     []Event
	deadlines   []time.Time
	shutdowns   []Event
	invokeErr   error
	blockOnStop bool
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
	srv.Push(extapi.Event{EventType: extapi.Invoke, RequestID: "r1", DeadlineMs: deadline})
	srv.Push(extapi.Event{EventType: extapi.Invoke, RequestID: "r2", DeadlineMs: deadline})
	srv.Push(extapi.Event{EventType: extapi.Shutdown, ShutdownReason: "spindown", DeadlineMs: time.Now().Add(2 * time.Second).UnixMilli()})
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
	srv.Push(extapi.Event{EventType: extapi.Invoke, RequestID: "r1"})
	srv.Push(extapi.Event{EventType: extapi.Shutdown, ShutdownReason: "SandboxTerminated"})
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
	srv.Push(extapi.Event{EventType: extapi.Shutdown, ShutdownReason: "timeout", DeadlineMs: deadline.UnixMilli()})
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
		name      string
		prepare   func(*extapitest.Server)
		env       map[string]string
		setupErr  error
		report    string // error endpoint expected, "" for none
		errorType string
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
			newHandler := func(*Extension) (Handler, error) { return &recorder{}, tt.setupErr }
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
}
