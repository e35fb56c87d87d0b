package extension

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/extension/internal/extapi"
	"{{ cookiecutter.go_module }}/extension/internal/extapi/extapitest"
)

// registeredEvents reads the events of the /register request.
func registeredEvents(t *testing.T, r *result) []string {
	t.Helper()
	req, ok := r.lastRequest("/register")
	if !ok {
		t.Fatal("no /register")
	}
	var body struct{ Events []string }
	if err := json.Unmarshal(req.Body, &body); err != nil {
		t.Fatal(err)
	}
	return body.Events
}

// On Lambda Managed Instances the extension registers for SHUTDOWN only (Lambda
// refuses INVOKE there) and says once what that changes; elsewhere it asks for both.
func TestLMIRegistersForShutdownOnly(t *testing.T) {
	for _, tt := range []struct {
		initType string
		want     []string
		lmi      bool
	}{
		{"lambda-managed-instances", []string{"SHUTDOWN"}, true},
		{"on-demand", []string{"INVOKE", "SHUTDOWN"}, false},
		{"", []string{"INVOKE", "SHUTDOWN"}, false},
	} {
		t.Run(tt.initType, func(t *testing.T) {
			srv := extapitest.New(t)
			srv.Push(extapi.Event{EventType: "SHUTDOWN", DeadlineMs: time.Now().Add(2 * time.Second).UnixMilli()})
			var sawLMI bool
			env := map[string]string{"AWS_LAMBDA_INITIALIZATION_TYPE": tt.initType}
			_, wait := start(t, context.Background(), srv, env, func(x *Extension) (Handler, error) {
				sawLMI = x.LMI()
				return &recorder{}, nil
			})
			r := wait()
			if r.code != 0 {
				t.Fatalf("code %d; logs:\n%s", r.code, r.logText())
			}
			if got := registeredEvents(t, r); !slices.Equal(got, tt.want) {
				t.Errorf("registered for %v, want %v", got, tt.want)
			}
			if sawLMI != tt.lmi {
				t.Errorf("x.LMI() = %v, want %v", sawLMI, tt.lmi)
			}
			if n := strings.Count(r.logText(), "Lambda Managed Instances"); n != map[bool]int{true: 1, false: 0}[tt.lmi] {
				t.Errorf("%d lines about Lambda Managed Instances:\n%s", n, r.logText())
			}
		})
	}
}

// afterRecorder records the order of Invoke and AfterInvoke.
type afterRecorder struct {
	recorder
	calls []string
}

func (a *afterRecorder) Invoke(ctx context.Context, ev Event) error {
	a.calls = append(a.calls, "invoke "+ev.RequestID)
	return a.recorder.Invoke(ctx, ev)
}

func (a *afterRecorder) AfterInvoke(ctx context.Context, ev Event) error {
	deadline, _ := ctx.Deadline()
	a.calls = append(a.calls, "after "+ev.RequestID+" "+map[bool]string{true: "with deadline", false: "no deadline"}[!deadline.IsZero()])
	return nil
}

// The loop calls AfterInvoke, under Invoke's context, before the next /event/next.
func TestAfterInvokeRunsBeforeTheNextEvent(t *testing.T) {
	srv := extapitest.New(t)
	srv.Push(extapi.Event{EventType: "INVOKE", RequestID: "r1", DeadlineMs: time.Now().Add(time.Minute).UnixMilli()})
	srv.Push(extapi.Event{EventType: "SHUTDOWN"})
	h := &afterRecorder{}
	_, wait := start(t, context.Background(), srv, nil, handlerOf(h))
	if r := wait(); r.code != 0 {
		t.Fatalf("code %d", r.code)
	}
	if got := strings.Join(h.calls, ", "); got != "invoke r1, after r1 with deadline" {
		t.Errorf("calls = %s", got)
	}
}
