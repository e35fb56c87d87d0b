package emulator

// End-to-end tests of the telemetry option: the real extension subscribes to the
// emulated Telemetry API, takes what it delivers and processes it.

import (
{%- if cookiecutter.processing == "async" %}
	"math/bits"
{%- endif %}
	"slices"
	"strings"
	"testing"
	"time"
)

// perInvoke is what the emulator delivers per invocation with the default two
// function lines: platform.start, 2 x function, platform.runtimeDone, platform.report.
const perInvoke = 5

// atInit is what it delivers of Init, with the first invocation: initStart,
// extension, initRuntimeDone, initReport and telemetrySubscription.
const atInit = 5

// index returns the position of the first log line with message msg, or -1.
func index(lines []logLine, msg string) int {
	return slices.IndexFunc(lines, func(l logLine) bool { return l["msg"] == msg })
}

// lastIndex returns the position of the last log line with message msg, or -1.
func lastIndex(lines []logLine, msg string) int {
	for i := len(lines) - 1; i >= 0; i-- {
		if lines[i]["msg"] == msg {
			return i
		}
	}
	return -1
}

func number(l logLine, key string) int {
	v, _ := l[key].(float64)
	return int(v)
}

// delivered checks the emulator's side: one subscription, every batch taken.
func delivered(t *testing.T, r *Report, records int) {
	t.Helper()
	tel := r.Telemetry
	if !tel.Subscribed || tel.Subscriptions != 1 || strings.Join(tel.Types, ",") != "platform,function,extension" {
		t.Errorf("subscription: %+v", tel)
	}
	if !strings.HasPrefix(tel.Destination, "http://sandbox.localdomain:") || tel.TimeoutMs != 25 {
		t.Errorf("destination %q, timeoutMs %d", tel.Destination, tel.TimeoutMs)
	}
	if tel.Records != records || tel.Accepted != records || tel.Refused != 0 {
		t.Errorf("%d records sent, %d taken, %d batches refused (%q); want %d sent and taken", tel.Records, tel.Accepted, tel.Refused, tel.Errors, records)
	}
}

// listenerTook checks the extension's side: the listener's stop line counts them all.
func listenerTook(t *testing.T, logs []logLine, records int) {
	t.Helper()
	l, ok := find(logs, "telemetry listener stopped")
	if !ok || number(l, "records") != records || number(l, "refused") != 0 {
		t.Errorf("listener stop line %v, want %d records, none refused", l, records)
	}
	if _, ok := find(logs, "subscribed to telemetry"); !ok {
		t.Error("no 'subscribed to telemetry' line")
	}
}

// reports checks one 'invocation report' line per invocation, in order, with the
// init duration on the cold start only.
func reports(t *testing.T, r *Report, logs []logLine) {
	t.Helper()
	var ids []string
	for _, l := range logs {
		if l["msg"] != "invocation report" {
			continue
		}
		ids = append(ids, l["request_id"].(string))
		_, cold := l["init_duration_ms"]
		if first := len(ids) == 1; cold != first || l["status"] != "success" || l["memory_size_mb"] != float64(128) || l["billed_duration_ms"] == nil {
			t.Errorf("report line %v (cold start: %v)", l, first)
		}
	}
	var want []string
	for _, inv := range r.Invokes {
		want = append(want, inv.RequestID)
	}
	if !slices.Equal(ids, want) {
		t.Errorf("report lines for %v, want %v", ids, want)
	}
}

func TestTelemetryEndToEnd(t *testing.T) {
	t.Parallel()
	fast := map[string]string{"TELEMETRY_TIMEOUT_MS": "25"}
	cases := []e2eCase{
		{
			name: "delivered and processed",
			cfg:  Config{Invokes: 3, FunctionDuration: 5 * time.Millisecond},
			env:  fast,
			check: func(t *testing.T, r *Report, logs []logLine) {
				cleanShutdown(3)(t, r, logs)
				records := atInit + 3*perInvoke
				delivered(t, r, records)
				listenerTook(t, logs, records)
				reports(t, r, logs)
				if n := count(logs, "function log"); n != 3*2 {
					t.Errorf("%d function log lines forwarded, want 6", n)
				}
{%- if cookiecutter.processing == "async" %}
				// Invocations and telemetry records share the queue.
				if l, ok := find(logs, "queue drained"); !ok || number(l, "flushed") != 3+records || number(l, "dropped") != 0 {
					t.Errorf("queue drained line %v, want %d flushed, none dropped", l, 3+records)
				}
{%- endif %}
			},
		},
		{
			name: "JSON log format",
			cfg:  Config{Invokes: 1, Telemetry: TelemetryConfig{JSONLogs: true, FunctionLines: 3}},
			env:  fast,
			check: func(t *testing.T, r *Report, logs []logLine) {
				cleanShutdown(1)(t, r, logs)
				n := 0
				for _, l := range logs {
					if l["msg"] == "function log" {
						n++
						if l["request_id"] != r.Invokes[0].RequestID || l["function_level"] != "INFO" || !strings.HasPrefix(l["message"].(string), "emulated function line") {
							t.Errorf("function log line %v", l)
						}
					}
				}
				if n != 3 {
					t.Errorf("%d function log lines, want 3", n)
				}
			},
		},
		{
			name: "emulator without telemetry (202)",
			cfg:  Config{Invokes: 2, Telemetry: TelemetryConfig{Disabled: true}},
			check: func(t *testing.T, r *Report, logs []logLine) {
				cleanShutdown(2)(t, r, logs)
				n := 0
				for _, l := range logs {
					if msg, _ := l["msg"].(string); strings.HasPrefix(msg, "telemetry API not available here") {
						n++
					}
				}
				if n != 1 || r.Telemetry.Subscriptions != 1 || r.Telemetry.Records != 0 {
					t.Errorf("%d 'not available' lines, %d subscriptions, %d records; want 1, 1, 0", n, r.Telemetry.Subscriptions, r.Telemetry.Records)
				}
			},
		},
		{
			name: "SHUTDOWN with records still queued",
			cfg:  Config{Invokes: 3},
{%- if cookiecutter.processing == "async" %}
			// Nothing is flushed before SHUTDOWN: batches of 1024 never fill, and
			// their age limit is a minute.
			env: map[string]string{"TELEMETRY_TIMEOUT_MS": "25", "FLUSH_INTERVAL": "1m", "QUEUE_SIZE": "1024", "BATCH_SIZE": "1024"},
{%- else %}
			env:  fast,
{%- endif %}
			check: func(t *testing.T, r *Report, logs []logLine) {
				cleanShutdown(3)(t, r, logs)
				records := atInit + 3*perInvoke
				listenerTook(t, logs, records)
				reports(t, r, logs)
				stopped := index(logs, "telemetry listener stopped")
{%- if cookiecutter.processing == "async" %}
				l, ok := find(logs, "queue drained")
				if !ok || number(l, "flushed") != 3+records || number(l, "unflushed") != 0 || number(l, "dropped") != 0 {
					t.Errorf("queue drained line %v, want all %d flushed at SHUTDOWN", l, 3+records)
				}
				// Processed at SHUTDOWN: after the listener stopped, before the exit.
				if first := index(logs, "invocation report"); first < stopped || lastIndex(logs, "invocation report") > index(logs, "shutdown complete") {
					t.Errorf("report lines at %d..%d, listener stopped at %d: want them drained after it", first, lastIndex(logs, "invocation report"), stopped)
				}
{%- else %}
				// Sync: processed as delivered, before SHUTDOWN.
				if last := lastIndex(logs, "invocation report"); last > stopped {
					t.Errorf("report line at %d after the listener stopped at %d", last, stopped)
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

// TestTelemetryBurst delivers, after each of two invocations, 5,000 function log
// records back to back in batches of 1,000{% if cookiecutter.processing == "async" %}: far more than the queue holds{% endif %}.
// It logs the records per second the listener took (no assertion on speed).
func TestTelemetryBurst(t *testing.T) {
	t.Parallel()
	const burst, invokes = 5000, 2
	records := atInit + invokes*perInvoke + invokes*burst
	runE2E(t, e2eCase{
		name: "burst",
		cfg:  Config{Invokes: invokes, Telemetry: TelemetryConfig{Burst: burst}},
{%- if cookiecutter.processing == "async" %}
		env:  map[string]string{"TELEMETRY_TIMEOUT_MS": "25", "QUEUE_SIZE": "64", "BATCH_SIZE": "64"},
{%- else %}
		env:  map[string]string{"TELEMETRY_TIMEOUT_MS": "25"},
{%- endif %}
		check: func(t *testing.T, r *Report, logs []logLine) {
			// The event loop was never held up: every INVOKE came back to next and
			// SHUTDOWN ended cleanly in time.
			cleanShutdown(invokes)(t, r, logs)
			delivered(t, r, records)
			listenerTook(t, logs, records)
			if r.Telemetry.BurstRecords != invokes*burst {
				t.Errorf("%d burst records taken, want %d", r.Telemetry.BurstRecords, invokes*burst)
			}
			t.Logf("listener took %d burst records in %.1f ms: %.0f records/s",
				r.Telemetry.BurstRecords, r.Telemetry.BurstMs, r.Telemetry.BurstRecordsPerSecond)
{%- if cookiecutter.processing == "async" %}
			l, ok := find(logs, "queue drained")
			if !ok {
				t.Fatal("no 'queue drained' line")
			}
			flushed, dropped := number(l, "flushed"), number(l, "dropped")
			// Every invocation and every record taken is accounted for exactly once.
			if total := flushed + dropped + number(l, "failed") + number(l, "unflushed"); total != invokes+records {
				t.Errorf("flushed %d + dropped %d + failed + unflushed = %d, want %d", flushed, dropped, total, invokes+records)
			}
			if dropped == 0 {
				t.Errorf("nothing dropped: the burst did not overflow the 64-record queue")
			}
			// Drops are logged on the 1st, 2nd, 4th... only, the last one naming the
			// count so far.
			lines, last := 0, 0
			for _, dl := range logs {
				if dl["msg"] == "queue full, record dropped" {
					lines++
					last = number(dl, "dropped_total")
				}
			}
			if want := bits.Len(uint(dropped)); lines != want || last != 1<<(want-1) {
				t.Errorf("%d drop lines, last at %d; want %d, last at %d, for %d drops", lines, last, want, 1<<(want-1), dropped)
			}
			t.Logf("queue of 64: %d flushed, %d dropped", flushed, dropped)
{%- else %}
			// Sync: every record is processed before the listener answers.
			if n := count(logs, "function log"); n != invokes*(burst+2) {
				t.Errorf("%d function log lines, want %d", n, invokes*(burst+2))
			}
{%- endif %}
		},
	})
}
