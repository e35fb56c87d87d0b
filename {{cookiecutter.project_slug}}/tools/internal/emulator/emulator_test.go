package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The test binary doubles as a scripted extension: run with EMULATOR_TEST_HELPER set,
// it plays the named behaviour against $AWS_LAMBDA_RUNTIME_API instead of running the
// tests. Its file name (the test binary's) is what it registers with.
const helperEnv = "EMULATOR_TEST_HELPER"

// raceExitEnv stops a test binary built with -race from sleeping 1s at exit (its
// default), which would count against the shutdown deadline.
const raceExitEnv = "GORACE=atexit_sleep_ms=0"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helper(mode))
	}
	os.Exit(m.Run())
}

// helper is a hand-written extension that follows or breaks the rules on purpose.
func helper(mode string) int {
	root := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API")
	name := filepath.Base(os.Args[0])
	call := func(method, path, id string, header map[string]string, body string) (*http.Response, []byte) {
		if !strings.HasPrefix(path, "/2022") && !strings.HasPrefix(path, "/2018") {
			path = apiPrefix + path
		}
		req, _ := http.NewRequest(method, root+path, strings.NewReader(body))
		if id != "" {
			req.Header.Set("Lambda-Extension-Identifier", id)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(3)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp, data
	}
	register := func(name string, events string) string {
		resp, _ := call("POST", "/register", "", map[string]string{"Lambda-Extension-Name": name}, `{"events":`+events+`}`)
		return resp.Header.Get("Lambda-Extension-Identifier")
	}
	id := ""
	if mode == "json-logs" {
		return jsonLogsHelper(call, register) // logs_test.go
	}
	switch mode {
	case "wrong-name":
		if register("not-"+name, `["INVOKE","SHUTDOWN"]`) == "" {
			return 1
		}
	case "bad-event":
		if register(name, `["INVOKE","LOGS"]`) == "" {
			return 1
		}
	case "next-before-register":
		call("GET", "/event/next", "", nil, "")
		return 1
	case "no-identifier":
		register(name, `["INVOKE","SHUTDOWN"]`)
		call("GET", "/event/next", "", nil, "")
		return 1
	case "exit-error", "exit-error-without-type":
		id := register(name, `["INVOKE","SHUTDOWN"]`)
		header := map[string]string{"Lambda-Extension-Function-Error-Type": "Extension.Test"}
		if mode == "exit-error-without-type" {
			header = nil
		}
		resp, _ := call("POST", "/exit/error", id, header, `{"errorMessage":"boom","errorType":"Extension.Test"}`)
		fmt.Printf("exit/error status %d\n", resp.StatusCode)
		return 1
	case "telemetry":
		id = register(name, `["INVOKE","SHUTDOWN"]`)
		resp, _ := call("PUT", "/2022-07-01/telemetry", id, nil, `{}`)
		fmt.Printf("telemetry status %d\n", resp.StatusCode)
	case "proxy", "proxy-rewrites", "proxy-changes-id":
		if err := helperProxy(mode); err != nil { // runtime_test.go
			fmt.Fprintln(os.Stderr, "helper:", err)
			return 1
		}
	case "runtime-api-call":
		resp, _ := call("GET", "/2018-06-01/runtime/invocation/next", "", nil, "")
		fmt.Printf("runtime next status %d\n", resp.StatusCode)
	}
	// The lifecycle: loop on next; "slow-invoke" works 150ms per INVOKE,
	// "ignore-shutdown" never exits.
	if id == "" {
		id = register(name, `["INVOKE","SHUTDOWN"]`)
	}
	for {
		resp, data := call("GET", "/event/next", id, nil, "")
		if resp.StatusCode != http.StatusOK {
			return 1
		}
		var ev struct{ EventType string }
		if json.Unmarshal(data, &ev) != nil {
			return 1
		}
		switch {
		case ev.EventType == "SHUTDOWN" && mode == "ignore-shutdown":
			select {}
		case ev.EventType == "SHUTDOWN":
			return 0
		case mode == "slow-invoke":
			time.Sleep(150 * time.Millisecond)
		}
	}
}

// syncBuffer is an io.Writer safe for the child's stdout and stderr copiers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func runHelper(t *testing.T, mode string, cfg Config) (*Report, string) {
	t.Helper()
	out := &syncBuffer{}
	cfg.Binary = os.Args[0]
	cfg.Env = append(cfg.Env, helperEnv+"="+mode, raceExitEnv)
	cfg.Output = out
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	report, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return report, out.String()
}

func hasViolation(r *Report, substr string) bool {
	return slices.ContainsFunc(r.Violations, func(v string) bool { return strings.Contains(v, substr) })
}

func TestRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode      string
		cfg       Config
		violation string // "" for a run without violations
		outcome   Outcome
		check     func(t *testing.T, r *Report, out string)
	}{
		{
			mode: "good", cfg: Config{Invokes: 3}, outcome: OutcomeClean,
			check: func(t *testing.T, r *Report, _ string) {
				if r.RegisteredName != filepath.Base(os.Args[0]) || !slices.Equal(r.Events, []string{"INVOKE", "SHUTDOWN"}) {
					t.Errorf("registered %q for %v", r.RegisteredName, r.Events)
				}
				if len(r.Invokes) != 3 || r.NextCalls != 4 || r.AbandonedNexts != 0 {
					t.Errorf("invokes %d, next calls %d (want 4: init and one per invoke), abandoned %d", len(r.Invokes), r.NextCalls, r.AbandonedNexts)
				}
				ids := map[string]bool{}
				for _, inv := range r.Invokes {
					ids[inv.RequestID] = true
					if !inv.BackInNext {
						t.Errorf("invoke %s: not back in next", inv.RequestID)
					}
				}
				if len(ids) != 3 {
					t.Errorf("request ids not distinct: %v", ids)
				}
				if r.Shutdown == nil || !r.Shutdown.BeforeDeadline || r.ExitCode != 0 {
					t.Errorf("shutdown %+v, exit %d", r.Shutdown, r.ExitCode)
				}
			},
		},
		{mode: "wrong-name", violation: "not the executable's file name", outcome: OutcomeCrash},
		{mode: "bad-event", violation: `event "LOGS" is not INVOKE or SHUTDOWN`, outcome: OutcomeCrash},
		{mode: "next-before-register", violation: "next called before register", outcome: OutcomeCrash},
		{mode: "no-identifier", violation: "next called without Lambda-Extension-Identifier", outcome: OutcomeCrash},
		{
			mode: "exit-error", outcome: OutcomeExitError,
			check: func(t *testing.T, r *Report, out string) {
				if !strings.Contains(out, "exit/error status 202") {
					t.Errorf("exit/error not answered 202: %q", out)
				}
				if len(r.ErrorReports) != 1 || r.ErrorReports[0].Type != "Extension.Test" || r.ErrorReports[0].Message != "boom" {
					t.Errorf("error reports %+v", r.ErrorReports)
				}
			},
		},
		{mode: "exit-error-without-type", violation: "exit/error called without Lambda-Extension-Function-Error-Type", outcome: OutcomeCrash},
		{
			mode: "ignore-shutdown", cfg: Config{Invokes: 1, ShutdownDeadline: 300 * time.Millisecond},
			violation: "had not exited at the deadline", outcome: OutcomeKilled,
			check: func(t *testing.T, r *Report, _ string) {
				if !r.Killed || r.Signal == "" {
					t.Errorf("killed %v, signal %q", r.Killed, r.Signal)
				}
			},
		},
		{
			mode: "slow-invoke", cfg: Config{Invokes: 2, FunctionDuration: 10 * time.Millisecond}, outcome: OutcomeClean,
			check: func(t *testing.T, r *Report, _ string) {
				for _, inv := range r.Invokes {
					// A lower bound the helper's sleep guarantees: the measurement
					// covers INVOKE delivered -> back in next.
					if inv.Extension < 150*time.Millisecond || inv.Duration != inv.Extension {
						t.Errorf("invoke %+v: extension time below the helper's 150ms of work", inv)
					}
				}
			},
		},
		{
			mode: "slow-invoke", cfg: Config{Invokes: 1, InvokeTimeout: 50 * time.Millisecond},
			violation: "not back in /event/next by the deadline", outcome: OutcomeKilled,
		},
		{
			mode: "telemetry", cfg: Config{Invokes: 1, Telemetry: TelemetryConfig{Disabled: true}}, outcome: OutcomeClean,
			check: func(t *testing.T, r *Report, out string) {
				if !strings.Contains(out, "telemetry status 202") || r.Telemetry.Subscriptions != 1 {
					t.Errorf("subscriptions %d, output %q", r.Telemetry.Subscriptions, out)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d-invokes", tt.mode, tt.cfg.Invokes), func(t *testing.T) {
			t.Parallel()
			r, out := runHelper(t, tt.mode, tt.cfg)
			if tt.violation == "" && !r.OK() {
				t.Errorf("violations: %q", r.Violations)
			}
			if tt.violation != "" && !hasViolation(r, tt.violation) {
				t.Errorf("violations %q, want one containing %q", r.Violations, tt.violation)
			}
			if r.Outcome != tt.outcome {
				t.Errorf("outcome %q, want %q", r.Outcome, tt.outcome)
			}
			if tt.check != nil {
				tt.check(t, r, out)
			}
			if t.Failed() {
				var b strings.Builder
				r.WriteTimeline(&b)
				t.Logf("timeline:\n%s\noutput:\n%s", b.String(), out)
			}
		})
	}
}

func TestSummaryJSON(t *testing.T) {
	t.Parallel()
	r, _ := runHelper(t, "good", Config{Invokes: 2})
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Extension string `json:"extension"`
		OK        bool   `json:"ok"`
		Outcome   string `json:"outcome"`
		Invokes   []struct {
			RequestID  string `json:"request_id"`
			BackInNext bool   `json:"back_in_next"`
		} `json:"invokes"`
		Shutdown struct {
			Reason     string  `json:"reason"`
			DeadlineMs float64 `json:"deadline_ms"`
		} `json:"shutdown"`
		ExitCode int `json:"exit_code"`
		Timeline []struct {
			What string `json:"what"`
		} `json:"timeline"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("%v in %s", err, data)
	}
	if got.Extension != filepath.Base(os.Args[0]) || !got.OK || got.Outcome != "clean" || len(got.Invokes) != 2 ||
		got.Invokes[0].RequestID != r.Invokes[0].RequestID || got.Shutdown.Reason != "spindown" ||
		got.Shutdown.DeadlineMs != 2000 || got.ExitCode != 0 || len(got.Timeline) != len(r.Timeline) {
		t.Errorf("summary %s", data)
	}
}

func TestRunRefusesAMissingBinary(t *testing.T) {
	t.Parallel()
	if _, err := Run(context.Background(), Config{Binary: filepath.Join(t.TempDir(), "nothing")}); err == nil {
		t.Error("Run with a missing binary returned no error")
	}
}

// HoldShutdown keeps the environment up after the invocations until it is closed;
// a run whose hold is never closed ends (here by its context) without a SHUTDOWN.
func TestHoldShutdown(t *testing.T) {
	t.Parallel()
	shutdowns := func(r *Report) int {
		n := 0
		for _, e := range r.Timeline {
			if e.What == "SHUTDOWN" {
				n++
			}
		}
		return n
	}
	t.Run("released", func(t *testing.T) {
		t.Parallel()
		hold := make(chan struct{})
		close(hold)
		r, _ := runHelper(t, "good", Config{Invokes: 1, HoldShutdown: hold})
		if shutdowns(r) != 1 || r.ExitCode != 0 {
			t.Errorf("%d SHUTDOWN events, exit %d: want one, and exit 0", shutdowns(r), r.ExitCode)
		}
	})
	t.Run("held", func(t *testing.T) {
		t.Parallel()
		back := make(chan struct{}, 1)
		cfg := Config{Invokes: 1, HoldShutdown: make(chan struct{}), Binary: os.Args[0], Output: io.Discard,
			Env: []string{helperEnv + "=good", raceExitEnv},
			OnEvent: func(e Entry) {
				if e.What == "back in next" {
					back <- struct{}{}
				}
			}}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		go func() {
			<-back
			cancel()
		}()
		r, err := Run(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if shutdowns(r) != 0 {
			t.Errorf("SHUTDOWN sent although HoldShutdown was never closed")
		}
	})
}
