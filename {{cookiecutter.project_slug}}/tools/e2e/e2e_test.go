// Package e2e holds the end-to-end tests: they build the real extension
// (cmd/{{ cookiecutter.extension_name }}) for this machine, with the race detector when the tests run with
// -race, and run it under the emulator for the normal lifecycle and every fault mode.
//
// They check the lifecycle only: what the emulated Lambda saw (register, next, the
// error reports, the exit and its timing) and the extension package's own log lines
// ("registered", "initialised", "shutdown complete", "records"). Nothing here depends
// on what processor/ does, so they keep passing while you replace the demo. Where a
// check needs a handler whose behaviour is known (the Batcher's accounting, the
// freeze), it runs tools/bench/work, built on the same extension package.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/extension"
	"{{ cookiecutter.go_module }}/tools/internal/emulator"
)

const (
	extensionName = "{{ cookiecutter.extension_name }}"
	// workName is the file name of tools/bench/work's binary, the name it registers with.
	workName = "bench-work"
	// promptExit is how soon the extension must exit after a fatal fault ("within a
	// second or two").
	promptExit = 2 * time.Second
	// raceExitEnv stops a binary built with -race from sleeping 1s at exit (its
	// default), which would count against the shutdown deadline.
	raceExitEnv = "GORACE=atexit_sleep_ms=0"
)

// buildDir holds the binaries the tests build, once per run.
var buildDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// target is one binary to build: a main package of a module.
type target struct {
	name   string // file name: the name it registers with
	dir    string // module directory, relative to this package
	pkg    string // package, relative to dir
	noRace bool   // built without the race detector, for memory figures
	once   sync.Once
	path   string
	output string
	err    error
}

var (
	extensionTarget = &target{name: extensionName, dir: filepath.Join("..", ".."), pkg: "./cmd/" + extensionName}
	workTarget      = &target{name: workName, dir: "..", pkg: "./bench/work"}
)

// binary builds t once per test run into a directory of its own, under its own name:
// the name Lambda (and the emulator) requires it to register with.
func (t *target) binary(tb testing.TB) string {
	tb.Helper()
	t.once.Do(func() {
		variant := ""
		if t.noRace {
			variant = "norace-"
		}
		t.path = filepath.Join(buildDir, variant+t.name, t.name)
		if t.err = touchSources(t.dir, t.pkg); t.err != nil {
			return
		}
		args := []string{"build", "-o", t.path}
		if raceEnabled && !t.noRace {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, t.pkg)...)
		cmd.Dir = t.dir
		out, err := cmd.CombinedOutput()
		t.output, t.err = string(out), err
	})
	if t.err != nil {
		tb.Fatalf("building %s: %v\n%s", t.pkg, t.err, t.output)
	}
	return t.path
}

// touchSources stats every source file pkg is built from. go test caches a result
// until the test binary, or a file or environment variable the test used, changes;
// the extension is built by a child process the cache cannot see, so without this an
// edit to processor.go would not rerun these tests.
func touchSources(dir, pkg string) error {
	cmd := exec.Command("go", "list", "-deps", "-json", pkg)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("go list %s: %w", pkg, err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			Dir      string
			Standard bool
			GoFiles  []string
			Module   *struct{ GoMod string }
		}
		if err := dec.Decode(&p); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("go list %s: %w", pkg, err)
		}
		if p.Standard {
			continue
		}
		for _, f := range p.GoFiles {
			os.Stat(filepath.Join(p.Dir, f))
		}
		if p.Module != nil && p.Module.GoMod != "" {
			os.Stat(p.Module.GoMod)
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

// records is the extension's "records" line: offered = flushed + failed + dropped +
// unflushed, logged once on every exit path.
type records struct {
	Offered, Flushed, Failed, Dropped, Unflushed int
	Level                                        string
}

// recordsLine checks that there is exactly one "records" line with the five integer
// counts adding up, and returns it; every exit path logs it, also those that end
// before the handler exists (register refused, init failed).
func recordsLine(t *testing.T, logs []logLine) (records, bool) {
	t.Helper()
	var found []logLine
	for _, l := range logs {
		if l["msg"] == "records" {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Errorf("%d \"records\" lines, want exactly 1: %v", len(found), found)
		return records{}, false
	}
	l := found[0]
	field := func(key string) int {
		v, ok := l[key].(float64)
		if !ok || v < 0 || v != math.Trunc(v) {
			t.Errorf("records line: %s = %v, want a whole number", key, l[key])
		}
		return int(v)
	}
	r := records{
		Offered: field("offered"), Flushed: field("flushed"), Failed: field("failed"),
		Dropped: field("dropped"), Unflushed: field("unflushed"),
	}
	r.Level, _ = l["level"].(string)
	if sum := r.Flushed + r.Failed + r.Dropped + r.Unflushed; sum != r.Offered {
		t.Errorf("records line %v: flushed+failed+dropped+unflushed = %d, want offered %d", l, sum, r.Offered)
	}
	if want := "INFO"; r.Failed+r.Dropped+r.Unflushed > 0 {
		if want = "WARN"; r.Level != want {
			t.Errorf("records line at level %s, want %s when records were lost", r.Level, want)
		}
	}
	return r, true
}

type e2eCase struct {
	name   string
	target *target // nil: the extension
	cfg    emulator.Config
	env    map[string]string // the extension's settings, without the prefix
	vars   []string          // other KEY=VALUE variables (BENCH_* for the work binary)
	check  func(t *testing.T, r *emulator.Report, logs []logLine)
}

func runE2E(t *testing.T, tc e2eCase) {
	t.Helper()
	tgt := tc.target
	if tgt == nil {
		tgt = extensionTarget
	}
	out := &syncBuffer{}
	cfg := tc.cfg
	cfg.Binary = tgt.binary(t)
	cfg.Output = out
	cfg.Env = append(cfg.Env, raceExitEnv)
	// The tests run extensions in parallel: each telemetry listener (in bakes with
	// telemetry) takes a free port.
	cfg.Env = append(cfg.Env, extension.Prefix+"TELEMETRY_PORT=0")
	for k, v := range tc.env {
		cfg.Env = append(cfg.Env, extension.Prefix+k+"="+v)
	}
	cfg.Env = append(cfg.Env, tc.vars...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := emulator.Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	logs := parseLogs(out.String())
	if !r.OK() {
		t.Errorf("rule violations: %q", r.Violations)
	}
	if r.RegisterCalls != 1 {
		t.Errorf("%d register calls, want 1", r.RegisterCalls)
	}
	if r.Registered {
		if r.RegisteredName != tgt.name {
			t.Errorf("registered as %q, want the file name %q", r.RegisteredName, tgt.name)
		}
		if !strings.Contains(r.AcceptFeature, "accountId") {
			t.Errorf("Lambda-Extension-Accept-Feature %q, want accountId", r.AcceptFeature)
		}
		wantEvents := []string{"INVOKE", "SHUTDOWN"}
		if cfg.LMI {
			wantEvents = wantEvents[1:] // Lambda Managed Instances refuse INVOKE
		}
		if !slices.Equal(r.Events, wantEvents) {
			t.Errorf("registered for %q, want %q", r.Events, wantEvents)
		}
		l, ok := find(logs, "registered")
		if version, _ := l["version"].(string); !ok || l["name"] != tgt.name || version == "" {
			t.Errorf("'registered' line %v: want name %q and a version", l, tgt.name)
		}
	}
	// A client timeout on /event/next would show as a next the extension gave up on.
	if r.AbandonedNexts != 0 {
		t.Errorf("the extension gave up on %d waiting /event/next calls", r.AbandonedNexts)
	}
	recordsLine(t, logs)
	tc.check(t, r, logs)
	if t.Failed() {
		var b strings.Builder
		r.WriteTimeline(&b)
		t.Logf("timeline:\n%s\nextension output:\n%s", b.String(), out.String())
	}
}

// cleanShutdown: init completed, every INVOKE came back to next, SHUTDOWN ended in
// exit 0 before the deadline and the extension said so; every invocation is in the
// records line.
func cleanShutdown(invokes int) func(t *testing.T, r *emulator.Report, logs []logLine) {
	return func(t *testing.T, r *emulator.Report, logs []logLine) {
		t.Helper()
		if r.Outcome != emulator.OutcomeClean || r.ExitCode != 0 {
			t.Errorf("outcome %s, exit code %d; want clean, 0", r.Outcome, r.ExitCode)
		}
		if len(r.ErrorReports) != 0 {
			t.Errorf("error reports %+v, want none", r.ErrorReports)
		}
		if _, ok := find(logs, "initialised"); !ok {
			t.Error("no 'initialised' line")
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
		if rec, ok := recordsLine(t, logs); ok && rec.Offered < invokes {
			t.Errorf("records line offered %d, want every one of the %d invocations counted", rec.Offered, invokes)
		}
	}
}

// fatal: a non-zero exit soon after the fault, with an ERROR line msg saying why,
// and the error reports report (comma-separated ops).
func fatal(msg string, report string) func(t *testing.T, r *emulator.Report, logs []logLine) {
	return func(t *testing.T, r *emulator.Report, logs []logLine) {
		t.Helper()
		if r.ExitCode == 0 || r.Killed {
			t.Errorf("exit code %d (killed %v), want a non-zero exit of its own", r.ExitCode, r.Killed)
		}
		if r.FaultAt != nil && r.ExitAfterFault() > promptExit {
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

// faultFatal is fatal for a fault the emulator applied: it must have been applied.
func faultFatal(msg, report string) func(t *testing.T, r *emulator.Report, logs []logLine) {
	return func(t *testing.T, r *emulator.Report, logs []logLine) {
		t.Helper()
		if r.FaultAt == nil {
			t.Error("the fault was never applied")
		}
		fatal(msg, report)(t, r, logs)
	}
}

// exitError: the fatal path of the event loop, reported to /exit/error with errorType.
func exitError(errorType string) func(t *testing.T, r *emulator.Report, logs []logLine) {
	return func(t *testing.T, r *emulator.Report, logs []logLine) {
		t.Helper()
		faultFatal("event loop failed", "exit/error")(t, r, logs)
		if r.Outcome != emulator.OutcomeExitError || len(r.ErrorReports) == 0 || r.ErrorReports[0].Type != errorType {
			t.Errorf("outcome %s, reports %+v; want exit-error %s", r.Outcome, r.ErrorReports, errorType)
		}
		if _, ok := find(logs, "initialised"); !ok {
			t.Error("no 'initialised' line before the fault")
		}
	}
}

func TestExtensionEndToEnd(t *testing.T) {
	t.Parallel()
	cases := []e2eCase{
		{
			name:  "normal lifecycle",
			cfg:   emulator.Config{Invokes: 5, Spacing: 5 * time.Millisecond, FunctionDuration: 5 * time.Millisecond},
			check: cleanShutdown(5),
		},
		{
			name:  "register refused with 403",
			cfg:   emulator.Config{Invokes: 1, Fault: emulator.FaultRegister403},
			check: faultFatal("register failed", ""),
		},
		{
			name:  "register fails with 500",
			cfg:   emulator.Config{Invokes: 1, Fault: emulator.FaultRegister500},
			check: faultFatal("register failed", ""),
		},
		{
			name: "bad built-in setting",
			cfg:  emulator.Config{Invokes: 1},
			env:  map[string]string{"LOG_LEVEL": "chatty"},
			check: func(t *testing.T, r *emulator.Report, logs []logLine) {
				fatal("init failed", "init/error")(t, r, logs)
				if r.Outcome != emulator.OutcomeInitError || len(r.ErrorReports) == 0 ||
					r.ErrorReports[0].Type != "Extension.ConfigInvalid" || !strings.Contains(r.ErrorReports[0].Message, extension.Prefix+"LOG_LEVEL") {
					t.Errorf("outcome %s, reports %+v; want init-error Extension.ConfigInvalid naming %sLOG_LEVEL", r.Outcome, r.ErrorReports, extension.Prefix)
				}
				if r.InitDone || len(r.Invokes) != 0 {
					t.Errorf("init done %v, %d invokes: want neither after init/error", r.InitDone, len(r.Invokes))
				}
			},
		},
		{
			name:  "next answers 500",
			cfg:   emulator.Config{Invokes: 2, Fault: emulator.FaultNext500},
			check: exitError("Extension.RuntimeError"),
		},
		{
			name:  "malformed event",
			cfg:   emulator.Config{Invokes: 2, Fault: emulator.FaultMalformedEvent},
			check: exitError("Extension.MalformedEvent"),
		},
		{
			name: "API gone mid-run",
			cfg:  emulator.Config{Invokes: 3, Fault: emulator.FaultAPIGone},
			check: func(t *testing.T, r *emulator.Report, logs []logLine) {
				faultFatal("event loop failed", "")(t, r, logs)
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
			cfg:   emulator.Config{Invokes: 2, Fault: emulator.FaultUnknownShutdownReason},
			check: cleanShutdown(2),
		},
		{
			name: "shutdown deadline too short for pending work",
			cfg:  emulator.Config{Invokes: 5, Fault: emulator.FaultTightDeadline},
			// An async processor's records wait in the queue for a minute: at SHUTDOWN
			// they are all pending.
			env:   map[string]string{"FLUSH_INTERVAL": "1m"},
			check: tightDeadline(5, -1),
		},
		{
			name:   "work extension: every invocation accounted for (sync)",
			target: workTarget,
			cfg:    emulator.Config{Invokes: 5, Spacing: 5 * time.Millisecond},
			vars:   []string{"BENCH_MODE=sync", "BENCH_WORK=1ms"},
			check:  accounted(5),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runE2E(t, tc)
		})
	}
}

// tightDeadline: exit 0 before a SHUTDOWN deadline shorter than the shutdown margin,
// every invocation in the records line; unflushed >= 0 wants exactly that many
// records reported unflushed and none flushed.
func tightDeadline(invokes, unflushed int) func(t *testing.T, r *emulator.Report, logs []logLine) {
	return func(t *testing.T, r *emulator.Report, logs []logLine) {
		t.Helper()
		if r.ExitCode != 0 || r.Shutdown == nil || !r.Shutdown.BeforeDeadline || r.Shutdown.Deadline != emulator.DefaultTightDeadline {
			t.Errorf("exit code %d, shutdown %+v: want exit 0 before the %v deadline", r.ExitCode, r.Shutdown, emulator.DefaultTightDeadline)
		}
		if count(logs, "shutdown complete")+count(logs, "shutdown incomplete") != 1 {
			t.Error("want one 'shutdown complete' or 'shutdown incomplete' line")
		}
		rec, ok := recordsLine(t, logs)
		if !ok {
			return
		}
		if rec.Offered < invokes {
			t.Errorf("records line offered %d, want every one of the %d invocations counted", rec.Offered, invokes)
		}
		if unflushed >= 0 && (rec.Unflushed != unflushed || rec.Flushed != 0) {
			t.Errorf("records line %+v: want %d unflushed, none flushed", rec, unflushed)
		}
	}
}

// accounted: a clean run of the work extension, every invocation offered and flushed.
func accounted(invokes int) func(t *testing.T, r *emulator.Report, logs []logLine) {
	return func(t *testing.T, r *emulator.Report, logs []logLine) {
		t.Helper()
		cleanShutdown(invokes)(t, r, logs)
		if rec, ok := recordsLine(t, logs); ok && (rec.Offered != invokes || rec.Flushed != invokes) {
			t.Errorf("records line %+v: want %d offered and flushed", rec, invokes)
		}
	}
}

// TestExtensionWaitsOnAHeldNext holds the first /event/next for 35 seconds, longer than
// any client timeout a careless HTTP client would have. It runs in parallel with the
// other tests; -short (make test) skips it, make test-all runs it.
func TestExtensionWaitsOnAHeldNext(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("holds /event/next for 35s: a long scenario, run by make test-all (no -short)")
	}
	runE2E(t, e2eCase{
		name: "held next",
		cfg:  emulator.Config{Invokes: 2, Fault: emulator.FaultHeldNext, Hold: emulator.DefaultHold},
		check: func(t *testing.T, r *emulator.Report, logs []logLine) {
			cleanShutdown(2)(t, r, logs)
			// Same request: the held next, then one per invoke; no retries.
			if r.NextCalls != 3 {
				t.Errorf("%d /event/next calls, want 3 (the held one answered, no retries)", r.NextCalls)
			}
			if len(r.Invokes) == 0 || r.Invokes[0].At < emulator.DefaultHold {
				t.Errorf("first INVOKE at %v, want after the %v hold", r.Invokes, emulator.DefaultHold)
			}
		},
	})
}
