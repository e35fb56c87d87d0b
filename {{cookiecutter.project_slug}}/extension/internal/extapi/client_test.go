package extapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/extension/internal/extapi"
	"{{ cookiecutter.go_module }}/extension/internal/extapi/extapitest"
)

func registered(t *testing.T) (*extapitest.Server, *extapi.Client) {
	t.Helper()
	srv := extapitest.New(t)
	c := extapi.New(srv.Addr(), "my-ext")
	if _, err := c.Register(context.Background(), "INVOKE", "SHUTDOWN"); err != nil {
		t.Fatalf("register: %v", err)
	}
	return srv, c
}

func TestRegisterSendsNameFeatureAndEvents(t *testing.T) {
	srv := extapitest.New(t)
	c := extapi.New(srv.Addr(), "my-ext")
	reg, err := c.Register(context.Background(), "INVOKE", "SHUTDOWN")
	if err != nil {
		t.Fatal(err)
	}
	want := extapi.Registration{ExtensionID: extapitest.ID, FunctionName: "fn", FunctionVersion: "$LATEST", Handler: "h", AccountID: "123456789012"}
	if reg != want {
		t.Errorf("registration = %+v, want %+v", reg, want)
	}
	if c.ID() != extapitest.ID {
		t.Errorf("ID() = %q", c.ID())
	}
	req := srv.Requests()[0]
	if req.Method != http.MethodPost || req.Path != "/2020-01-01/extension/register" {
		t.Errorf("request = %s %s", req.Method, req.Path)
	}
	if got := req.Header.Get("Lambda-Extension-Name"); got != "my-ext" {
		t.Errorf("Lambda-Extension-Name = %q", got)
	}
	if got := req.Header.Get("Lambda-Extension-Accept-Feature"); got != "accountId" {
		t.Errorf("Lambda-Extension-Accept-Feature = %q", got)
	}
	var body struct{ Events []string }
	if err := json.Unmarshal(req.Body, &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Events) != 2 || body.Events[0] != "INVOKE" || body.Events[1] != "SHUTDOWN" {
		t.Errorf("events = %v", body.Events)
	}
}

func TestRegisterFailures(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusForbidden, http.StatusInternalServerError} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			srv := extapitest.New(t)
			srv.Force("/register", status, `{"errorType":"Extension.RegistrationClosed"}`)
			_, err := extapi.New(srv.Addr(), "my-ext").Register(context.Background(), "INVOKE")
			var se *extapi.StatusError
			if !errors.As(err, &se) || se.Status != status || se.Op != "register" {
				t.Fatalf("err = %v, want register StatusError %d", err, status)
			}
		})
	}
}

func TestNextDecodesEvents(t *testing.T) {
	tests := []struct {
		name string
		body string
		want extapi.Event
	}{
		{
			name: "invoke",
			body: `{"eventType":"INVOKE","deadlineMs":1700000000123,"requestId":"r1","invokedFunctionArn":"arn:aws:lambda:us-east-1:1:function:f","tracing":{"type":"X-Amzn-Trace-Id","value":"Root=1-abc"}}`,
			want: extapi.Event{EventType: "INVOKE", DeadlineMs: 1700000000123, RequestID: "r1", InvokedFunctionArn: "arn:aws:lambda:us-east-1:1:function:f", Tracing: extapi.Tracing{Type: "X-Amzn-Trace-Id", Value: "Root=1-abc"}},
		},
		{
			name: "shutdown with unknown fields",
			body: `{"eventType":"SHUTDOWN","shutdownReason":"spindown","deadlineMs":42,"brandNew":{"x":1}}`,
			want: extapi.Event{EventType: "SHUTDOWN", ShutdownReason: "spindown", DeadlineMs: 42},
		},
		{
			name: "unknown event type",
			body: `{"eventType":"RESTORE","deadlineMs":7}`,
			want: extapi.Event{EventType: "RESTORE", DeadlineMs: 7},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := registered(t)
			srv.PushRaw(http.StatusOK, tt.body)
			got, err := c.Next(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("event = %+v, want %+v", got, tt.want)
			}
			last := srv.Requests()[len(srv.Requests())-1]
			if last.Header.Get("Lambda-Extension-Identifier") != extapitest.ID {
				t.Errorf("next without identifier: %v", last.Header)
			}
		})
	}
}

func TestNextErrors(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		body      string
		malformed bool
	}{
		{"not json", http.StatusOK, `{"eventType":`, true},
		{"no event type", http.StatusOK, `{"deadlineMs":1}`, true},
		{"array", http.StatusOK, `[1,2]`, true},
		{"forbidden", http.StatusForbidden, `{"errorType":"Extension.UnknownExtensionIdentifier"}`, false},
		{"server error", http.StatusInternalServerError, `oops`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := registered(t)
			srv.PushRaw(tt.status, tt.body)
			_, err := c.Next(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, extapi.ErrMalformedEvent); got != tt.malformed {
				t.Errorf("errors.Is(err, ErrMalformedEvent) = %v for %v", got, err)
			}
			var se *extapi.StatusError
			if !tt.malformed && (!errors.As(err, &se) || se.Status != tt.status) {
				t.Errorf("err = %v, want StatusError %d", err, tt.status)
			}
		})
	}
}

func TestNextIsCancelledByContextOnly(t *testing.T) {
	_, c := registered(t)
	ctx, cancel := context.WithCancel(context.Background())
	result := make(chan error, 1)
	go func() {
		_, err := c.Next(ctx)
		result <- err
	}()
	cancel()
	select {
	case err := <-result:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("next ignored the cancelled context")
	}
}

func TestErrorEndpoints(t *testing.T) {
	calls := map[string]func(*extapi.Client, context.Context, string, error) error{
		"init/error": (*extapi.Client).InitError,
		"exit/error": (*extapi.Client).ExitError,
	}
	for path, call := range calls {
		t.Run(path+" accepted", func(t *testing.T) {
			srv, c := registered(t)
			if err := call(c, context.Background(), "Extension.ConfigInvalid", errors.New("bad value")); err != nil {
				t.Fatalf("202 treated as failure: %v", err)
			}
			req := srv.Requests()[len(srv.Requests())-1]
			if req.Path != "/2020-01-01/extension/"+path {
				t.Errorf("path = %s", req.Path)
			}
			if req.Header.Get("Lambda-Extension-Function-Error-Type") != "Extension.ConfigInvalid" ||
				req.Header.Get("Lambda-Extension-Identifier") != extapitest.ID {
				t.Errorf("headers = %v", req.Header)
			}
			var body struct {
				ErrorMessage string   `json:"errorMessage"`
				ErrorType    string   `json:"errorType"`
				StackTrace   []string `json:"stackTrace"`
			}
			if err := json.Unmarshal(req.Body, &body); err != nil || body.ErrorMessage != "bad value" || body.ErrorType != "Extension.ConfigInvalid" || body.StackTrace == nil {
				t.Errorf("body = %s (%v)", req.Body, err)
			}
		})
		t.Run(path+" refused", func(t *testing.T) {
			srv, c := registered(t)
			srv.Force("/"+path, http.StatusBadRequest, `{"errorType":"InvalidRequest"}`)
			var se *extapi.StatusError
			if err := call(c, context.Background(), "Extension.X", nil); !errors.As(err, &se) || se.Status != http.StatusBadRequest {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func TestDeadline(t *testing.T) {
	if !(extapi.Event{}).Deadline().IsZero() {
		t.Error("no deadlineMs must give the zero time")
	}
	if got := (extapi.Event{DeadlineMs: 1500}).Deadline(); !got.Equal(time.UnixMilli(1500)) {
		t.Errorf("Deadline() = %v", got)
	}
}
