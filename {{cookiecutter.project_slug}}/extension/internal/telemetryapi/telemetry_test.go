package telemetryapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"{{ cookiecutter.go_module }}/extension/internal/telemetryapi"
)

// registered stands for the Extensions API client after Register.
type registered struct{ base string }

func (r registered) ID() string             { return "ext-id" }
func (r registered) RuntimeAPIBase() string { return r.base }

func options() telemetryapi.Options {
	return telemetryapi.Options{
		Types:      []string{"platform", "function"},
		Buffering:  telemetryapi.Buffering{MaxItems: 1000, MaxBytes: 262144, TimeoutMs: 25},
		LookupHost: notResolving,
	}
}

// portOf reads the port of a destination URI; "" if it is not the listener's.
func portOf(uri string) string {
	rest, ok := strings.CutPrefix(uri, "http://sandbox.localdomain:")
	port, path, _ := strings.Cut(rest, "/")
	if !ok || path != "telemetry" {
		return ""
	}
	return port
}

func TestOpenListensBeforeItSubscribes(t *testing.T) {
	delivered := make(chan int, 1)
	// Like Lambda, the fake delivers a batch as soon as the subscription arrives,
	// before it answers: that only works if the listener is already up.
	api := newRuntimeAPI(t, http.StatusOK, "", func(req telemetryapi.SubscribeRequest) {
		resp, err := http.Post("http://127.0.0.1:"+portOf(req.Destination.URI)+"/telemetry", "application/json", strings.NewReader(twoRecords))
		if err != nil {
			delivered <- 0
			return
		}
		resp.Body.Close()
		delivered <- resp.StatusCode
	})
	c := &collector{}
	logs := &logBuffer{}

	session, err := telemetryapi.Open(context.Background(), registered{api.URL}, options(), c.sink, logs.logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { session.Stop(context.Background()) })

	if status := <-delivered; status != http.StatusOK {
		t.Fatalf("delivery during the subscription got %d", status)
	}
	if len(c.records()) != 2 {
		t.Errorf("sink got %d records", len(c.records()))
	}
	requests, bodies := api.calls()
	if len(requests) != 1 || requests[0].Header.Get("Lambda-Extension-Identifier") != "ext-id" {
		t.Fatalf("requests = %v", requests)
	}
	var sent telemetryapi.SubscribeRequest
	if err := json.Unmarshal(bodies[0], &sent); err != nil {
		t.Fatal(err)
	}
	if sent.Destination.URI != session.Listener().URI() || sent.Buffering.TimeoutMs != 25 || strings.Join(sent.Types, ",") != "platform,function" {
		t.Errorf("subscription = %+v", sent)
	}
	if !strings.Contains(logs.String(), `"msg":"subscribed to telemetry"`) {
		t.Errorf("logs = %s", logs.String())
	}
}

func TestOpenOnAnEmulatorWithoutTelemetry(t *testing.T) {
	ports := make(chan string, 1)
	api := newRuntimeAPI(t, http.StatusAccepted, `{"status":"OK"}`, func(req telemetryapi.SubscribeRequest) {
		ports <- portOf(req.Destination.URI)
	})
	logs := &logBuffer{}

	session, err := telemetryapi.Open(context.Background(), registered{api.URL}, options(), (&collector{}).sink, logs.logger())
	if err != nil {
		t.Fatalf("a 202 must not fail Init: %v", err)
	}
	if session.Listener() != nil {
		t.Error("a listener is kept although nothing will be delivered")
	}
	if n := strings.Count(logs.String(), "not available here"); n != 1 {
		t.Errorf("logged %d times, want once: %s", n, logs.String())
	}
	// The listener's port is free again.
	port := <-ports
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Errorf("port %s still taken: %v", port, err)
	} else {
		ln.Close()
	}
	if err := session.Stop(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestOpenFailures(t *testing.T) {
	tests := []struct {
		name   string
		status int
		change func(*telemetryapi.Options)
		want   string
		sent   bool
	}{
		{"validation error", http.StatusBadRequest, nil, "status 400", true},
		{"server error", http.StatusInternalServerError, nil, "status 500", true},
		{"port 9001", http.StatusOK, func(o *telemetryapi.Options) { o.Port = 9001 }, "9001", false},
		{"buffering", http.StatusOK, func(o *telemetryapi.Options) { o.Buffering.TimeoutMs = 10 }, "timeoutMs", false},
		{"types", http.StatusOK, func(o *telemetryapi.Options) { o.Types = []string{"logs"} }, "logs", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newRuntimeAPI(t, tt.status, "nope", nil)
			opts := options()
			if tt.change != nil {
				tt.change(&opts)
			}
			session, err := telemetryapi.Open(context.Background(), registered{api.URL}, opts, (&collector{}).sink, (&logBuffer{}).logger())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open = %v, %v; want an error mentioning %q", session, err, tt.want)
			}
			if requests, _ := api.calls(); (len(requests) > 0) != tt.sent {
				t.Errorf("%d subscription requests", len(requests))
			}
		})
	}
}

func TestOpenRefusesATakenPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	api := newRuntimeAPI(t, http.StatusOK, "", nil)
	opts := options()
	opts.Port = taken.Addr().(*net.TCPAddr).Port
	if opts.Port < 1024 {
		t.Skipf("the system gave port %d", opts.Port)
	}
	if _, err := telemetryapi.Open(context.Background(), registered{api.URL}, opts, (&collector{}).sink, (&logBuffer{}).logger()); err == nil ||
		!strings.Contains(err.Error(), fmt.Sprint(opts.Port)) {
		t.Errorf("err = %v", err)
	}
}
