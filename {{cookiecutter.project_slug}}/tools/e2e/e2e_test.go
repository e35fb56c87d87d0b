package emulator

// End-to-end tests: build the real extension (cmd/{{ cookiecutter.extension_name }}) for
// this machine, with the race detector when the tests run with -race, and run it under
// the emulator for the normal lifecycle and every fault mode.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/extension/internal/config"
)

const (
	extensionName    = "{{ cookiecutter.extension_name }}"
	extensionPackage = "{{ cookiecutter.go_module }}/cmd/{{ cookiecutter.extension_name }}"
	// promptExit is how soon the extension must exit after a fatal fault ("within a
	// second or two").
	promptExit = 2 * time.Second
	// raceExitEnv stops a binary built with -race from sleeping 1s at exit (its
	// default), which would count against the shutdown deadline.
	raceExitEnv = "GORACE=atexit_sleep_ms=0"
)

var build struct {
	once   sync.Once
	dir    string
	path   string
	output string
	err    error
}

// extensionBinary builds the extension once per test run into a directory of its own,
// under its own name: the name Lambda (and the emulator) requires it to register with.
func extensionBinary(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			build.err = err
			return
		}
		if build.dir, build.err = os.MkdirTemp("", "emulator-e2e-"); build.err != nil {
			return
		}
		build.path = filepath.Join(build.dir, extensionName)
		if build.err = touchSources(goTool); build.err != nil {
			return
		}
		args := []string{"build", "-o", build.path}
		if raceEnabled {
			args = append(args, "-race")
		}
		out, err := exec.Command(goTool, append(args, extensionPackage)...).CombinedOutput()
		build.output, build.err = string(out), err
	})
	if build.err != nil {
		t.Fatalf("building %s: %v\n%s", extensionPackage, build.err, build.output)
	}
	return build.path
}

// touchSources stats every source file the extension is built from. go test caches a
// result until the test binary, or a file or environment variable the test used,
// changes; the extension is built by a child process the cache cannot see, so without
// this an edit to processor.go would not rerun these tests.
func touchSources(goTool string) error {
	out, err := exec.Command(goTool, "list", "-deps", "-json", extensionPackage).Output()
	if err != nil {
		return fmt.Errorf("go list %s: %w", extensionPackage, err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var pkg struct {
			Dir      string
			Standard bool
			GoFiles  []string
			Module   *struct{ GoMod string }
		}
		if err := dec.Decode(&pkg); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("go list %s: %w", extensionPackage, err)
		}
		if pkg.Standard {
			continue
		}
		for _, f := range pkg.GoFiles {
			os.Stat(filepath.Join(pkg.Dir, f))
		}
		if pkg.Module != nil && pkg.Module.GoMod != "" {
			os.Stat(pkg.Module.GoMod)
		}
	}
}

func cleanupBuilds() {
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
}

// logLine is one JSON log line of the extension.
type logLine map[string]any

func parseLogs(out string) []logLine {
	var lines []logLine
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			lines = append(lines, l)
		}
	}
	return lines
}

// find returns the first log line with message msg.
func find(lines []logLine, msg string) (logLine, bool) {
	for _, l := range lines {
		if l["msg"] == msg {
			return l, true
		}
	}
	return nil, false
}

func count(lines []logLine, msg string) int {
	n := 0
	for _, l := range lines {
		if l["msg"] == msg {
			n++
		}
	}
	return n
}

type e2eCase struct {
	name  string
	cfg   Config
	env   map[string]string // the extension's settings, without the prefix
	check func(t *testing.T, r *Report, logs []logLine)
}

func runE2E(t *testing.T, tc e2eCase) {
	t.Helper()
	out := &syncBuffer{}
	cfg := tc.cfg
	cfg.Binary = extensionBinary(t)
	cfg.Output = out
	cfg.Env = append(cfg.Env, raceExitEnv)
{%- if cookiecutter.telemetry %}
	// The tests run extensions in parallel: each telemetry listener takes a free port.
	cfg.Env = append(cfg.Env, config.Prefix+"TELEMETRY_PORT=0")
{%- endif %}
	for k, v := range tc.env {
		cfg.Env = append(cfg.Env, config.Prefix+k+"="+v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !r.OK() {
		t.Errorf("rule violations: %q", r.Violations)
	}
	if r.RegisterCalls > 0 && r.Registered && r.RegisteredName != extensionName {
		t.Errorf("registered as %q, want %q", r.RegisteredName, extensionName)
	}
	if r.AbandonedNexts != 0 {
		t.Errorf("the extension gave up on %d waiting /event/next calls", r.AbandonedNexts)
	}
	tc.check(t, r, parseLogs(out.String()))
	if t.Failed() {
		var b strings.Builder
		r.WriteTimeline(&b)
		t.Logf("timeline:\n%s\nextension output:\n%s", b.String(), out.String())
	}
}

// cleanShutdown: every INVOKE came back to next, SHUTDOWN ended in exit 0 before the
// deadline and the extension said so.
func cleanShutdown(invokes int) func(t *testing.T, r *Report, logs []logLine) {
	return func(t *testing.T, r *Report, logs []logLine) {
		t.Helper()
		if r.Outcome != OutcomeClean || r.ExitCode != 0 {
			t.Errorf("outcome %s, exit code %d; want clean, 0", r.Outcome, r.ExitCode)
		}
		if len(r.Invokes) != invokes {
			t.Errorf("%d invokes sent, want %d", len(r.Invokes), invokes)
		}
		for _, inv := range r.Invokes {
			if !inv.BackInNext {
				t.Errorf("invoke %s: extension not back in next", inv.RequestID)
			}
		}
		if r.Shutdown == nil || !r.Shutdown.BeforeDeadline {
			t.Errorf("shutdown %+v: want an exit before the deadline", r.Shutdown)
		}
		if l, ok := find(logs, "shutdown complete"); !ok || l["reason"] != r.ShutdownReason {
			t.Errorf("no 'shutdown complete' line with reason %q (got %v)", r.ShutdownReason, l)
		}
	}
}

// fatal: a non-zero exit soon after the fault, with a log line saying why.
func fatal(msg string, report string) func(t *testing.T, r *Report, logs []logLine) {
	return func(t *testing.T, r *Report, logs []logLine) {
		t.Helper()
		if r.ExitCode == 0 || r.Killed {
			t.Errorf("exit code %d (killed %v), want a non-zero exit of its own", r.ExitCode, r.Killed)
		}
		if r.FaultAt == nil || r.ExitAfterFault() > promptExit {
			t.Errorf("exited %v after the fault, want within %v", r.ExitAfterFault(), promptExit)
		}
		if l, ok := find(logs, msg); !ok || l["level"] != "ERROR" || l["error"] == "" {
			t.Errorf("no ERROR line %q with the error in the logs", msg)
		}
		var ops []string
		for _, e := range r.ErrorReports {
			ops = append(ops, e.Op)
		}
		if got := strings.Join(ops, ","); got != report {
			t.Errorf("error reports %q, want %q", got, report)
		}
	}
}

// exitError: the fatal path of the event loop, reported to /exit/error with errorType.
func exitError(errorType string) func(t *testing.T, r *Report, logs []logLine) {
	return func(t *testing.T, r *Report, logs []logLine) {
		t.Helper()
		fatal("event loop failed", "exit/error")(t, r, logs)
		if r.Outcome != OutcomeExitError || r.ErrorReports[0].Type != errorType {
			t.Errorf("outcome %s, reports %+v", r.Outcome, r.ErrorReports)
		}
	}
}

func TestExtensionEndToEnd(t *testing.T) {
	t.Parallel()
	cases := []e2eCase{
		{
			name:  "normal lifecycle",
			cfg:   Config{Invokes: 5, Spacing: 5 * time.Millisecond, FunctionDuration: 5 * time.Millisecond},
			check: cleanShutdown(5),
		},
		{
			name:  "register refused with 403",
			cfg:   Config{Invokes: 1, Fault: FaultRegister403},
			check: fatal("register failed", ""),
		},
		{
			name:  "register fails with 500",
			cfg:   Config{Invokes: 1, Fault: FaultRegister500},
			check: fatal("register failed", ""),
		},
		{
			name:  "next answers 500",
			cfg:   Config{Invokes: 2, Fault: FaultNext500},
			check: exitError("Extension.RuntimeError"),
		},
		{
			name:  "malformed event",
			cfg:   Config{Invokes: 2, Fault: FaultMalformedEvent},
			check: exitError("Extension.MalformedEvent"),
		},
		{
			name: "API gone mid-run",
			cfg:  Config{Invokes: 3, Fault: FaultAPIGone},
			check: func(t *testing.T, r *Report, logs []logLine) {
				fatal("event loop failed", "")(t, r, logs)
				// No busy loop: one failure, one attempt to report it, then exit.
				if n := count(logs, "event loop failed"); n != 1 {
					t.Errorf("%d 'event loop failed' lines, want 1", n)
				}
				if n := count(logs, "could not report error to Lambda"); n != 1 {
					t.Errorf("%d 'could not report error' lines, want 1", n)
				}
			},
		},
		{
			name:  "unknown shutdown reason",
			cfg:   Config{Invokes: 2, Fault: FaultUnknownShutdownReason},
			check: cleanShutdown(2),
		},
		{
			name: "shutdown deadline too short for pending work",
			// (Telemetry records would share the queue: the count below is of invocations.)
			cfg: Config{Invokes: 5, Fault: FaultTightDeadline{% if cookiecutter.telemetry %}, Telemetry: TelemetryConfig{Disabled: true}{% endif %}},
			// Records wait in the queue for a minute: at SHUTDOWN they are all pending.
			env: map[string]string{"FLUSH_INTERVAL": "1m"},
			check: func(t *testing.T, r *Report, logs []logLine) {
				if r.ExitCode != 0 || r.Shutdown == nil || !r.Shutdown.BeforeDeadline || r.Shutdown.Deadline != DefaultTightDeadline {
					t.Errorf("exit code %d, shutdown %+v: want exit 0 before the %v deadline", r.ExitCode, r.Shutdown, DefaultTightDeadline)
				}
{%- if cookiecutter.processing == "async" %}
				l, ok := find(logs, "queue drained before deadline with records left")
				if !ok || l["unflushed"] != float64(5) || l["flushed"] != float64(0) {
					t.Errorf("want a line reporting 5 unflushed, 0 flushed records; got %v", l)
				}
{%- else %}
				if n := count(logs, "invocation"); n != 5 {
					t.Errorf("%d 'invocation' lines, want 5: sync work is done before next", n)
				}
{%- endif %}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runE2E(t, tc)
		})
	}
}

// TestExtensionWaitsOnAHeldNext holds the first /event/next for 35 seconds, longer than
// any client timeout a careless HTTP client would have. It runs in parallel with the
// other tests; -short skips it.
func TestExtensionWaitsOnAHeldNext(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("holds /event/next for 35s; skipped with -short")
	}
	runE2E(t, e2eCase{
		name: "held next",
		cfg:  Config{Invokes: 2, Fault: FaultHeldNext, Hold: DefaultHold},
		check: func(t *testing.T, r *Report, logs []logLine) {
			cleanShutdown(2)(t, r, logs)
			// Same request: register, the held next, one per invoke.
			if r.NextCalls != 3 {
				t.Errorf("%d /event/next calls, want 3 (the held one answered, no retries)", r.NextCalls)
			}
			if len(r.Invokes) == 0 || r.Invokes[0].At < DefaultHold {
				t.Errorf("first INVOKE at %v, want after the %v hold", r.Invokes, DefaultHold)
			}
		},
	})
}
{%- if cookiecutter.processing == "async" %}

// TestFreezeStopsBackgroundWork runs the async extension with an idle gap between two
// invokes and batches flushed by age (100ms). Running, it flushes in the gap; frozen by
// the emulator, as Lambda freezes an idle environment, it logs nothing at all in it.
func TestFreezeStopsBackgroundWork(t *testing.T) {
	t.Parallel()
	for _, freeze := range []bool{false, true} {
		t.Run(fmt.Sprintf("freeze=%v", freeze), func(t *testing.T) {
			t.Parallel()
			runE2E(t, e2eCase{
				cfg: Config{Invokes: 2, Spacing: 600 * time.Millisecond, Freeze: freeze},
				env: map[string]string{"FLUSH_INTERVAL": "100ms"},
				check: func(t *testing.T, r *Report, logs []logLine) {
					cleanShutdown(2)(t, r, logs)
					if len(r.Invokes) != 2 {
						return
					}
					begin := r.Started
					gapFrom := begin.Add(r.Invokes[0].At + r.Invokes[0].Extension)
					gapTo := begin.Add(r.Invokes[1].At)
					if !freeze {
						if n := countBetween(t, logs, "batch", gapFrom, gapTo); n == 0 {
							t.Errorf("no batch flushed by age in the idle gap: the control run shows nothing")
						}
						return
					}
					if len(r.Frozen) != 1 {
						t.Fatalf("frozen windows %+v, want one (the gap between the invokes)", r.Frozen)
					}
					// 50ms after SIGSTOP the process is surely stopped, whatever the load.
					from, to := begin.Add(r.Frozen[0].From+50*time.Millisecond), begin.Add(r.Frozen[0].To)
					if n := countBetween(t, logs, "", from, to); n != 0 {
						t.Errorf("%d log lines written while the extension was frozen", n)
					}
					if n := count(logs, "batch"); n == 0 {
						t.Errorf("the records were never flushed after the thaw")
					}
				},
			})
		})
	}
}

// countBetween counts the log lines (with message msg, or any when msg is "") whose
// time lies in [from, to].
func countBetween(t *testing.T, logs []logLine, msg string, from, to time.Time) int {
	t.Helper()
	n := 0
	for _, l := range logs {
		if msg != "" && l["msg"] != msg {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(l["time"]))
		if err != nil {
			t.Fatalf("log line without a time: %v", l)
		}
		if !at.Before(from) && !at.After(to) {
			n++
		}
	}
	return n
}
{%- endif %}
