package e2e

// End-to-end tests of the telemetry option. The extension subscribes when its
// handler implements extension.TelemetryHandler (the demo processor does; yours may
// not): for the real extension the tests check that what the emulator saw and what
// the extension logged agree, and that a subscription, when there is one, is valid
// and every delivery is answered 200. The work extension (tools/bench/work with
// BENCH_TELEMETRY=1) must subscribe, and its records line shows the Batcher's
// accounting of what it was given.

import (
	"math/bits"
	"strings"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/tools/internal/emulator"
)

// perInvoke is what the emulator delivers per invocation with the default two
// function lines: platform.start, 2 x function, platform.runtimeDone, platform.report.
const perInvoke = 5

// atInit is what it delivers of Init, with the first invocation: initStart,
// extension, initRuntimeDone, initReport and telemetrySubscription.
const atInit = 5

func number(l logLine, key string) int {
	v, _ := l[key].(float64)
	return int(v)
}

// delivered checks a run from both sides and reports whether the extension
// subscribed. The emulator's side: at most one subscription, valid (an invalid one is
// a rule violation, which runE2E reports), to sandbox.localdomain with the timeoutMs
// asked for; when records is not negative, that many delivered and every batch
// answered 200. The extension's side: its "subscribed to telemetry" and "telemetry
// listener stopped" lines agree with that.
func delivered(t *testing.T, r *emulator.Report, logs []logLine, records int) bool {
	t.Helper()
	tel := r.Telemetry
	_, said := find(logs, "subscribed to telemetry")
	if tel.Subscriptions > 1 || said != tel.Subscribed {
		t.Errorf("%d subscriptions, subscribed %v; the extension logged 'subscribed to telemetry': %v", tel.Subscriptions, tel.Subscribed, said)
	}
	stopped, ok := find(logs, "telemetry listener stopped")
	if ok != tel.Subscribed {
		t.Errorf("'telemetry listener stopped' line: %v, want one iff subscribed (%v)", ok, tel.Subscribed)
	}
	if !tel.Subscribed {
		if tel.Records != 0 {
			t.Errorf("%d records delivered without a subscription", tel.Records)
		}
		return false
	}
	if !strings.HasPrefix(tel.Destination, "http://sandbox.localdomain:") || tel.TimeoutMs != 25 {
		t.Errorf("destination %q, timeoutMs %d; want sandbox.localdomain, 25", tel.Destination, tel.TimeoutMs)
	}
	if len(tel.Types) == 0 {
		t.Errorf("subscribed to no types")
	}
	if tel.Accepted != tel.Records || tel.Refused != 0 {
		t.Errorf("%d records sent, %d taken, %d batches refused (%q); want every batch answered 200", tel.Records, tel.Accepted, tel.Refused, tel.Errors)
	}
	if number(stopped, "records") != tel.Accepted || number(stopped, "refused") != 0 {
		t.Errorf("listener stop line %v, want %d records, none refused", stopped, tel.Accepted)
	}
	if records >= 0 && strings.Join(tel.Types, ",") == "platform,function,extension" && tel.Records != records {
		t.Errorf("%d records delivered, want %d", tel.Records, records)
	}
	return true
}

// subscribed is delivered for the work extension, which must subscribe to every type.
func subscribed(t *testing.T, r *emulator.Report, logs []logLine, records int) {
	t.Helper()
	if !delivered(t, r, logs, records) {
		t.Fatal("the work extension (a TelemetryHandler) did not subscribe")
	}
	if got := strings.Join(r.Telemetry.Types, ","); got != "platform,function,extension" {
		t.Errorf("subscribed to %s, want platform,function,extension", got)
	}
}

// dropLines checks that drops are logged on the 1st, 2nd, 4th... only, the last line
// naming the count so far, and that the lines agree with the records line.
func dropLines(t *testing.T, logs []logLine, dropped int) {
	t.Helper()
	lines, last := 0, 0
	for _, l := range logs {
		if l["msg"] == "queue full, record dropped" {
			lines++
			last = number(l, "dropped_total")
		}
	}
	want := bits.Len(uint(dropped))
	if lines != want || (want > 0 && last != 1<<(want-1)) {
		t.Errorf("%d drop lines, last at %d; want %d for %d drops", lines, last, want, dropped)
	}
}

var workTelemetry = []string{"BENCH_MODE={{ cookiecutter.processing }}", "BENCH_WORK=0", "BENCH_TELEMETRY=1"}

func TestTelemetryEndToEnd(t *testing.T) {
	t.Parallel()
	fast := map[string]string{"TELEMETRY_TIMEOUT_MS": "25"}
	records := atInit + 3*perInvoke
	cases := []e2eCase{
		{
			name: "delivered and answered",
			cfg:  emulator.Config{Invokes: 3, FunctionDuration: 5 * time.Millisecond},
			env:  fast,
			check: func(t *testing.T, r *emulator.Report, logs []logLine) {
				cleanShutdown(3)(t, r, logs)
				delivered(t, r, logs, records)
			},
		},
		{
			name: "JSON log format",
			cfg:  emulator.Config{Invokes: 1, Telemetry: emulator.TelemetryConfig{JSONLogs: true, FunctionLines: 3}},
			env:  fast,
			check: func(t *testing.T, r *emulator.Report, logs []logLine) {
				cleanShutdown(1)(t, r, logs)
				delivered(t, r, logs, atInit+perInvoke+1)
			},
		},
		{
			name: "emulator without telemetry (202)",
			cfg:  emulator.Config{Invokes: 2, Telemetry: emulator.TelemetryConfig{Disabled: true}},
			check: func(t *testing.T, r *emulator.Report, logs []logLine) {
				cleanShutdown(2)(t, r, logs)
				notAvailable(t, r, logs, false)
			},
		},
		{
			name:   "work extension: delivered and accounted for",
			target: workTarget,
			cfg:    emulator.Config{Invokes: 3, FunctionDuration: 5 * time.Millisecond},
			env:    fast,
			vars:   workTelemetry,
			check: func(t *testing.T, r *emulator.Report, logs []logLine) {
				cleanShutdown(3)(t, r, logs)
				subscribed(t, r, logs, records)
{%- if cookiecutter.processing == "async" %}
				// Invocations and telemetry records share the queue.
				if rec, ok := recordsLine(t, logs); ok && (rec.Offered != 3+records || rec.Flushed != rec.Offered) {
					t.Errorf("records line %+v, want %d offered and flushed", rec, 3+records)
				}
{%- endif %}
			},
		},
		{
			name:   "work extension: emulator without telemetry (202)",
			target: workTarget,
			cfg:    emulator.Config{Invokes: 2, Telemetry: emulator.TelemetryConfig{Disabled: true}},
			vars:   workTelemetry,
			check: func(t *testing.T, r *emulator.Report, logs []logLine) {
				cleanShutdown(2)(t, r, logs)
				notAvailable(t, r, logs, true)
			},
		},
{%- if cookiecutter.processing == "async" %}
		{
			name:   "work extension: SHUTDOWN with records still queued",
			target: workTarget,
			cfg:    emulator.Config{Invokes: 3},
			// Nothing is flushed before SHUTDOWN: batches of 1024 never fill, and
			// their age limit is a minute. The listener stops first, the drain then
			// flushes everything it took.
			env:  map[string]string{"TELEMETRY_TIMEOUT_MS": "25", "FLUSH_INTERVAL": "1m", "QUEUE_SIZE": "1024", "BATCH_SIZE": "1024"},
			vars: workTelemetry,
			check: func(t *testing.T, r *emulator.Report, logs []logLine) {
				cleanShutdown(3)(t, r, logs)
				subscribed(t, r, logs, records)
				if rec, ok := recordsLine(t, logs); ok && (rec.Offered != 3+records || rec.Flushed != rec.Offered) {
					t.Errorf("records line %+v, want all %d flushed at SHUTDOWN", rec, 3+records)
				}
			},
		},
{%- endif %}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runE2E(t, tc)
		})
	}
}

// notAvailable: a subscription answered 202 ("not supported here", as the Runtime
// Interface Emulator answers) is logged once and the extension goes on. must says the
// handler is a TelemetryHandler, so the subscription had to be attempted.
func notAvailable(t *testing.T, r *emulator.Report, logs []logLine, must bool) {
	t.Helper()
	n := 0
	for _, l := range logs {
		if msg, _ := l["msg"].(string); strings.HasPrefix(msg, "telemetry API not available here") {
			n++
		}
	}
	tried := r.Telemetry.Subscriptions
	if (must && tried != 1) || tried > 1 || n != tried || r.Telemetry.Records != 0 {
		t.Errorf("%d 'not available' lines, %d subscriptions, %d records; want as many lines as subscriptions (1 for a TelemetryHandler), no records", n, tried, r.Telemetry.Records)
	}
}

// TestTelemetryBurst delivers, after each of two invocations, 5,000 function log
// records back to back in batches of 1,000: far more than a 64-record queue holds.
// It logs the records per second the listener took (no assertion on speed).
func TestTelemetryBurst(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("a load test of 10,000 records per extension, seconds under -race: run by make test-all (no -short)")
	}
	const burst, invokes = 5000, 2
	records := atInit + invokes*perInvoke + invokes*burst
	for _, tc := range []e2eCase{
		{name: "extension", env: map[string]string{"TELEMETRY_TIMEOUT_MS": "25", "QUEUE_SIZE": "64", "BATCH_SIZE": "64"}},
		{name: "work extension", target: workTarget, vars: workTelemetry, env: map[string]string{"TELEMETRY_TIMEOUT_MS": "25", "QUEUE_SIZE": "64", "BATCH_SIZE": "64"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.cfg = emulator.Config{Invokes: invokes, Telemetry: emulator.TelemetryConfig{Burst: burst}}
			work := tc.target == workTarget
			tc.check = func(t *testing.T, r *emulator.Report, logs []logLine) {
				// The event loop was never held up: every INVOKE came back to next and
				// SHUTDOWN ended cleanly in time.
				cleanShutdown(invokes)(t, r, logs)
				if work {
					subscribed(t, r, logs, records)
				} else if !delivered(t, r, logs, records) {
					return
				}
				if r.Telemetry.BurstRecords != invokes*burst {
					t.Errorf("%d burst records taken, want %d", r.Telemetry.BurstRecords, invokes*burst)
				}
				t.Logf("listener took %d burst records in %.1f ms: %.0f records/s",
					r.Telemetry.BurstRecords, r.Telemetry.BurstMs, r.Telemetry.BurstRecordsPerSecond)
				rec, ok := recordsLine(t, logs)
				if !ok {
					return
				}
				dropLines(t, logs, rec.Dropped)
{%- if cookiecutter.processing == "async" %}
				if work {
					// Every invocation and every record taken is accounted for exactly once.
					if rec.Offered != invokes+records {
						t.Errorf("records line %+v, want %d offered", rec, invokes+records)
					}
					if rec.Dropped == 0 {
						t.Errorf("nothing dropped: the burst did not overflow the 64-record queue")
					}
				}
{%- endif %}
				t.Logf("records line: %+v", rec)
			}
			runE2E(t, tc)
		})
	}
}
