package e2e

import (
	"strings"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/tools/internal/emulator"
)

// TestLMIEndToEnd plays Lambda Managed Instances with the work extension (what it
// counts does not depend on processor/): the extension registers for
// SHUTDOWN only (the emulator refuses INVOKE, as Lambda does), sees no INVOKE while
// invocations run four at once, and ends cleanly at SHUTDOWN with every record it
// was offered accounted for. With telemetry it subscribes in the 2025-01-29 schema
// (the emulator refuses any other here) and gets every request's records; without,
// it says once that per-invocation hooks do not run. TestLMIExtensionEndToEnd runs
// the extension as rendered, whatever its processor: a clean SHUTDOWN-only run.
func TestLMIEndToEnd(t *testing.T) {
	t.Parallel()
	const invocations = 8
	cfg := emulator.Config{LMI: true, LMIConcurrency: 4, Invokes: invocations, FunctionDuration: 20 * time.Millisecond}
	for _, tc := range []e2eCase{
		{
			name:   "work extension",
			target: workTarget,
			cfg:    cfg,
			env:    map[string]string{"TELEMETRY_TIMEOUT_MS": "25", "FLUSH": "end"},
			vars:   []string{"BENCH_MODE={{ cookiecutter.processing }}", "BENCH_WORK=0", "BENCH_TELEMETRY=1"},
		},
	} {
		tc.check = func(t *testing.T, r *emulator.Report, logs []logLine) {
			cleanShutdown(0)(t, r, logs)
			if r.LMIInvocations != invocations {
				t.Errorf("%d invocations played, want %d", r.LMIInvocations, invocations)
			}
			rec, ok := recordsLine(t, logs)
			if ok && rec.Offered != rec.Flushed+rec.Failed+rec.Dropped+rec.Unflushed {
				t.Errorf("records line %+v does not add up", rec)
			}
			lmiLines := 0
			for _, l := range logs {
				if msg, _ := l["msg"].(string); strings.HasPrefix(msg, "Lambda Managed Instances:") {
					lmiLines++
				}
			}
			if lmiLines != 1 {
				t.Errorf("%d init lines about Lambda Managed Instances, want 1", lmiLines)
			}
{%- if cookiecutter.telemetry %}
			if !r.Telemetry.Subscribed {
				t.Error("not subscribed to the Telemetry API")
			}
			// Every request's platform.start, lines, runtimeDone and report arrive.
			if r.Telemetry.Records == 0 || r.Telemetry.Accepted != r.Telemetry.Records {
				t.Errorf("telemetry %+v: want every record delivered taken", r.Telemetry)
			}
{%- if cookiecutter.processing == "async" %}
			if ok && (rec.Offered < invocations || rec.Flushed != rec.Offered) {
				t.Errorf("records line %+v: want every telemetry record offered and flushed", rec)
			}
{%- endif %}
{%- else %}
			if ok && rec.Offered != 0 {
				t.Errorf("records line %+v: without telemetry nothing reaches the extension on LMI", rec)
			}
{%- endif %}
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runE2E(t, tc)
		})
	}
}

func TestLMIExtensionEndToEnd(t *testing.T) {
	t.Parallel()
	runE2E(t, e2eCase{
		cfg: emulator.Config{LMI: true, Invokes: 4, FunctionDuration: 10 * time.Millisecond},
		env: map[string]string{"TELEMETRY_TIMEOUT_MS": "25"},
		check: func(t *testing.T, r *emulator.Report, logs []logLine) {
			cleanShutdown(0)(t, r, logs)
			if rec, ok := recordsLine(t, logs); ok && rec.Offered != rec.Flushed+rec.Failed+rec.Dropped+rec.Unflushed {
				t.Errorf("records line %+v does not add up", rec)
			}
		},
	})
}
