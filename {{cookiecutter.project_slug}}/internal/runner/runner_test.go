package runner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/internal/extapi"
	"{{ cookiecutter.go_module }}/internal/extapi/extapitest"
	"{{ cookiecutter.go_module }}/internal/runner"
)

const (
	base    = "/2020-01-01/extension"
	margin  = 300 * time.Millisecond
	maxWait = 10 * time.Second
)

// recorder is a Handler that records what it was given.
type recorder struct {
	mu          sync.Mutex
	invokes     []extapi.Event
	deadlines   []time.Time
	shutdowns   []extapi.Event
	invokeErr   error
	blockOnStop bool
}

func (r *recorder) Invoke(ctx context.Context, ev extapi.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	deadline, _ := ctx.Deadline()
	r.invokes = append(r.invokes, ev)
	r.deadlines = append(r.deadlines, deadline)
	return r.invokeErr
}

func (r *recorder) Shutdown(ctx context.Context, ev extapi.Event) error {
	r.mu.Lock()
	r.shutdowns = append(r.shutdowns, ev)
	block := r.blockOnStop
	r.mu.Unlock()
	if block {
		select {} // a handler that ignores its deadline
	}
	return nil
}

type run struct {
	srv  *extapitest.Server
	h    *recorder
	logs *bytes.Buffer
	code int
	took time.Duration
}

// start runs runner.Main against a fake API in the background and returns a function
// that waits for its exit code.
func start(t *testing.T, ctx context.Context, srv *extapitest.Server, h *recorder, setupErr error) (*run, func() *run) {
	t.Helper()
	r := &run{srv: srv, h: h, logs: &bytes.Buffer{}}
	var logMu sync.Mutex
	log := slog.New(slog.NewJSONHandler(lockedWriter{&logMu, r.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	done := make(chan int, 1)
	began := time.Now()
	go func() {
		done <- runner.Main(ctx, runner.Options{
			Name:           "my-ext",
			RuntimeAPI:     srv.Addr(),
			Log:            log,
			ShutdownMargin: margin,
			Setup: func(context.Context, *extapi.Client, extapi.Registration) (runner.Handler, error) {
				if setupErr != nil {
					return nil, setupErr
				}
				return h, nil
			},
		})
	}()
	return r, func() *run {
		t.Helper()
		select {
		case r.code = <-done:
			r.took = time.Since(began)
		case <-time.After(maxWait):
			t.Fatal("runner.Main did not return")
		}
		return r
	}
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

// waitForNext polls, with a deadline, until the runner has called /event/next.
func waitForNext(t *testing.T, srv *extapitest.Server) {
	t.Helper()
	deadline := time.Now().Add(maxWait)
	for !slices.Contains(srv.Paths(), base+"/event/next") {
		if time.Now().After(deadline) {
			t.Fatal("runner never called next")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *run) messages() []string {
	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(r.logs.String()), "\n") {
		var entry struct{ Msg string }
		if json.Unmarshal([]byte(line), &entry) == nil {
			msgs = append(msgs, entry.Msg)
		}
	}
	return msgs
}

func (r *run) lastRequest(path string) (extapitest.Request, bool) {
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
	_, wait := start(t, context.Background(), srv, h, nil)
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
	if len(h.shutdowns) != 1 || !h.shutdowns[0].ShutdownReason.Is(extapi.ReasonSpindown) {
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
	_, wait := start(t, context.Background(), srv, h, nil)
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
	_, wait := start(t, context.Background(), srv, &recorder{blockOnStop: true}, nil)
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
	r, wait := start(t, ctx, srv, h, nil)
	// Cancel once the runner waits in /event/next.
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
			setupErr:  runner.ConfigError(errors.New("MY_EXT_QUEUE_SIZE must be a whole number")),
			report:    "/init/error",
			errorType: runner.ErrorTypeConfig,
		},
		{
			name:      "setup failure",
			setupErr:  errors.New("cannot open cache"),
			report:    "/init/error",
			errorType: runner.ErrorTypeInit,
		},
		{
			name:      "malformed event",
			prepare:   func(s *extapitest.Server) { s.PushRaw(http.StatusOK, `{"eventType": INVOKE`) },
			report:    "/exit/error",
			errorType: runner.ErrorTypeMalformed,
		},
		{
			name:      "next server error",
			prepare:   func(s *extapitest.Server) { s.PushRaw(http.StatusInternalServerError, "boom") },
			report:    "/exit/error",
			errorType: runner.ErrorTypeRuntime,
		},
		{
			name: "next forbidden",
			prepare: func(s *extapitest.Server) {
				s.PushRaw(http.StatusForbidden, `{"errorType":"Extension.UnknownExtensionIdentifier"}`)
			},
			report:    "/exit/error",
			errorType: runner.ErrorTypeRuntime,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := extapitest.New(t)
			if tt.prepare != nil {
				tt.prepare(srv)
			}
			_, wait := start(t, context.Background(), srv, &recorder{}, tt.setupErr)
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
	r, wait := start(t, context.Background(), srv, h, nil)
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
	var logs bytes.Buffer
	code := runner.Main(context.Background(), runner.Options{
		Name: "my-ext",
		Log:  slog.New(slog.NewJSONHandler(&logs, nil)),
		Setup: func(context.Context, *extapi.Client, extapi.Registration) (runner.Handler, error) {
			t.Error("setup ran without a runtime API")
			return nil, nil
		},
	})
	if code == 0 || !strings.Contains(logs.String(), "AWS_LAMBDA_RUNTIME_API is not set") {
		t.Errorf("code %d, logs %s", code, logs.String())
	}
}
