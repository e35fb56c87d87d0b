package telemetryapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"{{ cookiecutter.go_module }}/extension/internal/telemetryapi"
)

// runtimeAPI is a fake Runtime API that answers the Telemetry API's PUT with a fixed
// status and keeps the requests it got.
type runtimeAPI struct {
	*httptest.Server
	status int
	body   string
	// onPut runs before the answer, with the subscription received.
	onPut func(req telemetryapi.SubscribeRequest)

	mu       sync.Mutex
	requests []*http.Request
	bodies   [][]byte
}

func newRuntimeAPI(t *testing.T, status int, body string, onPut func(telemetryapi.SubscribeRequest)) *runtimeAPI {
	api := &runtimeAPI{status: status, body: body, onPut: onPut}
	api.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		api.mu.Lock()
		api.requests = append(api.requests, r)
		api.bodies = append(api.bodies, data)
		api.mu.Unlock()
		if api.onPut != nil {
			var req telemetryapi.SubscribeRequest
			json.Unmarshal(data, &req)
			api.onPut(req)
		}
		w.WriteHeader(api.status)
		io.WriteString(w, api.body)
	}))
	t.Cleanup(api.Close)
	return api
}

func (a *runtimeAPI) calls() ([]*http.Request, [][]byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*http.Request(nil), a.requests...), append([][]byte(nil), a.bodies...)
}

func validRequest() telemetryapi.SubscribeRequest {
	return telemetryapi.SubscribeRequest{
		SchemaVersion: telemetryapi.SchemaVersion,
		Types:         []string{"platform", "function", "extension"},
		Buffering:     telemetryapi.Buffering{MaxItems: 1000, MaxBytes: 262144, TimeoutMs: 100},
		Destination:   telemetryapi.Destination{Protocol: "HTTP", URI: "http://sandbox.localdomain:4243/telemetry"},
	}
}

func TestSubscribeSendsTheDocumentedRequest(t *testing.T) {
	api := newRuntimeAPI(t, http.StatusOK, `"OK"`, nil)

	if err := telemetryapi.Subscribe(context.Background(), http.DefaultClient, api.URL, "ext-id", validRequest()); err != nil {
		t.Fatal(err)
	}
	requests, bodies := api.calls()
	if len(requests) != 1 {
		t.Fatalf("%d requests", len(requests))
	}
	r := requests[0]
	if r.Method != http.MethodPut || r.URL.Path != "/2022-07-01/telemetry" || r.Header.Get("Lambda-Extension-Identifier") != "ext-id" {
		t.Errorf("request = %s %s, identifier %q", r.Method, r.URL.Path, r.Header.Get("Lambda-Extension-Identifier"))
	}
	want := `{"schemaVersion":"2022-12-13","types":["platform","function","extension"],` +
		`"buffering":{"maxItems":1000,"maxBytes":262144,"timeoutMs":100},` +
		`"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:4243/telemetry"}}`
	if string(bodies[0]) != want {
		t.Errorf("body\n%s\nwant\n%s", bodies[0], want)
	}
}

func TestSubscribeAnswers(t *testing.T) {
	tests := []struct {
		status int
		body   string
		check  func(error) bool
	}{
		{http.StatusOK, "", func(err error) bool { return err == nil }},
		{http.StatusAccepted, `{"status":"OK"}`, func(err error) bool { return errors.Is(err, telemetryapi.ErrNotAvailable) }},
		{http.StatusBadRequest, `{"errorType":"ValidationError","errorMessage":"bad URI"}`, func(err error) bool {
			var se *telemetryapi.SubscribeError
			return errors.As(err, &se) && se.Status == 400 && strings.Contains(err.Error(), "bad URI")
		}},
		{http.StatusForbidden, `{"errorType":"Extension.Forbidden"}`, func(err error) bool {
			var se *telemetryapi.SubscribeError
			return errors.As(err, &se) && se.Status == 403
		}},
		{http.StatusInternalServerError, "", func(err error) bool { return err != nil && !errors.Is(err, telemetryapi.ErrNotAvailable) }},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			api := newRuntimeAPI(t, tt.status, tt.body, nil)
			err := telemetryapi.Subscribe(context.Background(), http.DefaultClient, api.URL, "ext-id", validRequest())
			if !tt.check(err) {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func TestSubscribeRefusesInvalidRequestsWithoutSending(t *testing.T) {
	tests := []struct {
		name   string
		change func(*telemetryapi.SubscribeRequest)
		want   string
	}{
		{"maxItems low", func(r *telemetryapi.SubscribeRequest) { r.Buffering.MaxItems = 999 }, "maxItems"},
		{"maxItems high", func(r *telemetryapi.SubscribeRequest) { r.Buffering.MaxItems = 10001 }, "maxItems"},
		{"maxBytes low", func(r *telemetryapi.SubscribeRequest) { r.Buffering.MaxBytes = 262143 }, "maxBytes"},
		{"maxBytes high", func(r *telemetryapi.SubscribeRequest) { r.Buffering.MaxBytes = 1048577 }, "maxBytes"},
		{"timeoutMs low", func(r *telemetryapi.SubscribeRequest) { r.Buffering.TimeoutMs = 24 }, "timeoutMs"},
		{"timeoutMs high", func(r *telemetryapi.SubscribeRequest) { r.Buffering.TimeoutMs = 30001 }, "timeoutMs"},
		{"no types", func(r *telemetryapi.SubscribeRequest) { r.Types = nil }, "types"},
		{"unknown type", func(r *telemetryapi.SubscribeRequest) { r.Types = []string{"platform", "logs"} }, "logs"},
		{"type twice", func(r *telemetryapi.SubscribeRequest) { r.Types = []string{"function", "function"} }, "twice"},
		{"schema", func(r *telemetryapi.SubscribeRequest) { r.SchemaVersion = "2022-07-01" }, "schemaVersion"},
		{"protocol", func(r *telemetryapi.SubscribeRequest) { r.Destination.Protocol = "TCP" }, "protocol"},
		{"port 9001", func(r *telemetryapi.SubscribeRequest) {
			r.Destination.URI = "http://sandbox.localdomain:9001/telemetry"
		}, "9001"},
		{"other host", func(r *telemetryapi.SubscribeRequest) { r.Destination.URI = "http://0.0.0.0:4243/telemetry" }, "sandbox.localdomain"},
		{"no port", func(r *telemetryapi.SubscribeRequest) { r.Destination.URI = "http://sandbox.localdomain:/telemetry" }, "no port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newRuntimeAPI(t, http.StatusOK, "", nil)
			req := validRequest()
			tt.change(&req)
			err := telemetryapi.Subscribe(context.Background(), http.DefaultClient, api.URL, "ext-id", req)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
			if requests, _ := api.calls(); len(requests) != 0 {
				t.Errorf("an invalid subscription was sent")
			}
		})
	}
}

func TestBufferingRangesAreLambdas(t *testing.T) {
	tests := []struct {
		b  telemetryapi.Buffering
		ok bool
	}{
		{telemetryapi.Buffering{MaxItems: 1000, MaxBytes: 262144, TimeoutMs: 25}, true},
		{telemetryapi.Buffering{MaxItems: 10000, MaxBytes: 1048576, TimeoutMs: 30000}, true},
		{telemetryapi.Buffering{MaxItems: 0, MaxBytes: 262144, TimeoutMs: 100}, false},
		{telemetryapi.Buffering{MaxItems: 1000, MaxBytes: 0, TimeoutMs: 100}, false},
		{telemetryapi.Buffering{MaxItems: 1000, MaxBytes: 262144, TimeoutMs: 0}, false},
	}
	for _, tt := range tests {
		if err := tt.b.Validate(); (err == nil) != tt.ok {
			t.Errorf("Validate(%+v) = %v", tt.b, err)
		}
	}
	for port, ok := range map[int]bool{1024: true, 4243: true, 65535: true, 9001: false, 80: false, 0: false, 65536: false} {
		if err := telemetryapi.ValidatePort(port); (err == nil) != ok {
			t.Errorf("ValidatePort(%d) = %v", port, err)
		}
	}
}
