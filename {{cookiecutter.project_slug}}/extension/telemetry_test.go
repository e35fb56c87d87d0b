package extension

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/extension/internal/extapi"
	"{{ cookiecutter.go_module }}/extension/internal/extapi/extapitest"
	"{{ cookiecutter.go_module }}/extension/telemetry"
)

const telemetryPath = "/2022-07-01/telemetry"

// watcher is a Handler with the TelemetryHandler capability; it records the order
// of what it was given.
type watcher struct {
	mu    sync.Mutex
	calls []string
}

func (w *watcher) add(call string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, call)
}

func (w *watcher) Invoke(_ context.Context, ev Event) error {
	w.add("invoke " + ev.RequestID)
	return nil
}

func (w *watcher) Telemetry(_ context.Context, batch []telemetry.Record) error {
	w.add(fmt.Sprintf("telemetry %d", len(batch)))
	return nil
}

func (w *watcher) Shutdown(context.Context, Event) error {
	w.add("shutdown")
	return nil
}

func (w *watcher) seen() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.calls)
}

// subscription waits for the Telemetry API PUT and returns its body.
func subscription(t *testing.T, srv *extapitest.Server) map[string]any {
	t.Helper()
	deadline := time.Now().Add(maxWait)
	for {
		for _, req := range srv.Requests() {
			if req.Path == telemetryPath {
				var body map[string]any
				if err := json.Unmarshal(req.Body, &body); err != nil {
					t.Fatal(err)
				}
				return body
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no subscription")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// deliver posts a batch to the listener the subscription named (on 127.0.0.1: the
// sandbox name does not resolve here).
func deliver(t *testing.T, sub map[string]any, body string) int {
	t.Helper()
	u, err := url.Parse(sub["destination"].(map[string]any)["URI"].(string))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post("http://127.0.0.1:"+u.Port()+u.Path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

const twoRecords = `[{"time":"2024-05-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"r1"}},` +
	`{"time":"2024-05-01T10:00:00.010Z","type":"function","record":"hello\n"}]`

func TestAHandlerWithTelemetryIsSubscribedAndStopsTheListenerFirst(t *testing.T) {
	srv := extapitest.New(t)
	srv.Force(telemetryPath, http.StatusOK, `{}`)
	w := &watcher{}
	env := map[string]string{Prefix + "TELEMETRY_PORT": "0", Prefix + "TELEMETRY_TYPES": "platform,function"}
	r, wait := start(t, context.Background(), srv, env, handlerOf(w))
	sub := subscription(t, srv)
	if sub["schemaVersion"] != "2022-12-13" || fmt.Sprint(sub["types"]) != "[platform function]" {
		t.Errorf("subscription = %v", sub)
	}
	srv.Push(extapi.Event{EventType: "INVOKE", RequestID: "r1"})
	waitForNexts(t, srv, 2)
	if status := deliver(t, sub, twoRecords); status != http.StatusOK {
		t.Fatalf("delivery answered %d", status)
	}
	srv.Push(extapi.Event{EventType: "SHUTDOWN", DeadlineMs: time.Now().Add(2 * time.Second).UnixMilli()})
	wait()
	if r.code != 0 {
		t.Fatalf("code %d; logs:\n%s", r.code, r.logText())
	}
	if got := strings.Join(w.seen(), ", "); got != "invoke r1, telemetry 2, shutdown" {
		t.Errorf("calls = %s", got)
	}
}

func TestAHandlerWithoutTelemetryIsNotSubscribed(t *testing.T) {
	srv := extapitest.New(t)
	srv.Push(extapi.Event{EventType: "SHUTDOWN"})
	_, wait := start(t, context.Background(), srv, nil, handlerOf(&recorder{}))
	if r := wait(); r.code != 0 {
		t.Fatalf("code %d", r.code)
	}
	if slices.Contains(srv.Paths(), telemetryPath) {
		t.Error("subscribed although the handler has no Telemetry method")
	}
}

func TestTelemetrySettings(t *testing.T) {
	tests := []struct {
		variable, value string
		valid           bool
	}{
		{"TELEMETRY_TYPES", "platform", true},
		{"TELEMETRY_TYPES", " Function , PLATFORM ", true},
		{"TELEMETRY_TYPES", "platform,logs", false},
		{"TELEMETRY_TYPES", "function,function", false},
		{"TELEMETRY_TYPES", ",", false},
		{"TELEMETRY_MAX_ITEMS", "1000", true},
		{"TELEMETRY_MAX_ITEMS", "10000", true},
		{"TELEMETRY_MAX_ITEMS", "999", false},
		{"TELEMETRY_MAX_ITEMS", "10001", false},
		{"TELEMETRY_MAX_BYTES", "262144", true},
		{"TELEMETRY_MAX_BYTES", "262143", false},
		{"TELEMETRY_MAX_BYTES", "1048577", false},
		{"TELEMETRY_TIMEOUT_MS", "25", true},
		{"TELEMETRY_TIMEOUT_MS", "24", false},
		{"TELEMETRY_TIMEOUT_MS", "30001", false},
		{"TELEMETRY_TIMEOUT_MS", "1s", false},
		{"TELEMETRY_PORT", "0", true},
		{"TELEMETRY_PORT", "1024", true},
		{"TELEMETRY_PORT", "65535", true},
		{"TELEMETRY_PORT", "9001", false},
		{"TELEMETRY_PORT", "80", false},
		{"TELEMETRY_PORT", "-1", false},
		{"TELEMETRY_PORT", "65536", false},
	}
	for _, tt := range tests {
		t.Run(tt.variable+"="+tt.value, func(t *testing.T) {
			x := ForTest(map[string]string{Prefix + tt.variable: tt.value}, nil)
			plan := planTelemetry(&watcher{}, x.env, false)
			if plan == nil {
				t.Fatal("no plan for a TelemetryHandler")
			}
			err := x.Err()
			if tt.valid && err != nil {
				t.Errorf("refused: %v", err)
			}
			if !tt.valid {
				if err == nil || !strings.Contains(err.Error(), Prefix+tt.variable) || !strings.Contains(err.Error(), strings.TrimSpace(tt.value)) {
					t.Errorf("err = %v, want %s%s and its value named", err, Prefix, tt.variable)
				}
			}
		})
	}
}

// On Lambda Managed Instances the subscription uses the schema that environment
// offers.
func TestLMISubscribesWithItsSchema(t *testing.T) {
	srv := extapitest.New(t)
	srv.Force(telemetryPath, http.StatusOK, `{}`)
	env := map[string]string{Prefix + "TELEMETRY_PORT": "0", "AWS_LAMBDA_INITIALIZATION_TYPE": "lambda-managed-instances"}
	_, wait := start(t, context.Background(), srv, env, handlerOf(&watcher{}))
	if sub := subscription(t, srv); sub["schemaVersion"] != "2025-01-29" {
		t.Errorf("subscription = %v", sub)
	}
	srv.Push(extapi.Event{EventType: "SHUTDOWN", DeadlineMs: time.Now().Add(2 * time.Second).UnixMilli()})
	if r := wait(); r.code != 0 {
		t.Fatalf("code %d; logs:\n%s", r.code, r.logText())
	}
}
