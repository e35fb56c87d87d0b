package e2e

import (
	"fmt"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/extension"
	"{{ cookiecutter.go_module }}/tools/internal/emulator"
)

// The flush policies under the emulator, with the work extension (its flush logs a
// debug "flushed" line with the invocations in the batch) and the environment
// frozen between invocations as Lambda freezes it.

// flushedBy sums the invocations in the "flushed" lines logged up to at.
func flushedBy(t *testing.T, logs []logLine, at time.Time) int {
	t.Helper()
	return sumFlushed(t, logs, at, "invocations")
}

// sumFlushed sums the field (records or invocations) of the "flushed" lines logged
// up to at.
func sumFlushed(t *testing.T, logs []logLine, at time.Time, field string) int {
	t.Helper()
	n := 0
	for _, l := range logs {
		if l["msg"] != "flushed" {
			continue
		}
		when, err := time.Parse(time.RFC3339Nano, fmt.Sprint(l["time"]))
		if err != nil {
			t.Fatalf("log line without a time: %v", l)
		}
		if !when.After(at) {
			v, _ := l[field].(float64)
			n += int(v)
		}
	}
	return n
}

// backInNext is when the extension called next after invocation i.
func backInNext(r *emulator.Report, i int) time.Time {
	return r.Started.Add(r.Invokes[i].At + r.Invokes[i].Extension)
}

func deliveryCase(policy string, cfg emulator.Config, env map[string]string, check func(t *testing.T, r *emulator.Report, logs []logLine)) e2eCase {
	all := map[string]string{"FLUSH": policy, "FLUSH_INTERVAL": "1m", "LOG_LEVEL": "debug"}
	for k, v := range env {
		all[k] = v
	}
	return e2eCase{
		name:   policy,
		target: workTarget,
		cfg:    cfg,
		env:    all,
		vars:   []string{"BENCH_MODE=async", "BENCH_WORK=0"},
		check: func(t *testing.T, r *emulator.Report, logs []logLine) {
			accounted(cfg.Invokes)(t, r, logs)
			if len(r.Invokes) == cfg.Invokes {
				check(t, r, logs)
			}
		},
	}
}

func TestFlushPoliciesEndToEnd(t *testing.T) {
	t.Parallel()
	frozen := emulator.Config{Invokes: 4, Spacing: 150 * time.Millisecond, Freeze: true, FunctionDuration: 5 * time.Millisecond}
	cases := []e2eCase{
		// end: every invocation's record is out before the extension is back in next,
		// so none waits through a freeze.
		deliveryCase("end", frozen, nil, func(t *testing.T, r *emulator.Report, logs []logLine) {
			for i := range r.Invokes {
				if got := flushedBy(t, logs, backInNext(r, i)); got != i+1 {
					t.Errorf("invocation %d: %d records flushed when back in next, want %d", i+1, got, i+1)
				}
			}
		}),
		// periodic: the interval (100ms) passes during each freeze (150ms), so what
		// the previous invocation left is out before the next one is back in next.
		deliveryCase("periodic:100ms", frozen, nil, func(t *testing.T, r *emulator.Report, logs []logLine) {
			for i := 1; i < len(r.Invokes); i++ {
				if got := flushedBy(t, logs, backInNext(r, i)); got < i {
					t.Errorf("invocation %d: %d records flushed when back in next, want at least %d", i+1, got, i)
				}
			}
		}),
		// continuous: the loop never waits; SHUTDOWN drains what the freezes held.
		deliveryCase("continuous", frozen, nil, func(*testing.T, *emulator.Report, []logLine) {}),
		// adaptive: end for the first invocations, then the background once three gaps
		// in a row were short.
		deliveryCase("adaptive", emulator.Config{Invokes: 8, Spacing: 10 * time.Millisecond},
			map[string]string{"FLUSH_ADAPTIVE_GAP": "1s", "FLUSH_ADAPTIVE_AFTER": "3"},
			func(t *testing.T, r *emulator.Report, logs []logLine) {
				for i := range 3 {
					if got := flushedBy(t, logs, backInNext(r, i)); got != i+1 {
						t.Errorf("invocation %d: %d records flushed when back in next, want %d", i+1, got, i+1)
					}
				}
				if l, ok := find(logs, "adaptive flush switched"); !ok || l["flush_at"] != "background" {
					t.Errorf("no switch to the background: %v", l)
				}
			}),
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runE2E(t, tc)
		})
	}
}

// TestDrainOf10000QueuedRecords queues 10,000 records in one INVOKE (the work
// extension's BENCH_RECORDS) with the default BATCH_SIZE (64) and a sink that answers
// after 20 ms; SHUTDOWN comes at once, with its 2 s. In batches of 64 that is 157
// POSTs, 3 s: the drain sizes its batches to the time left, and every record arrives.
func TestDrainOf10000QueuedRecords(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("10,000 records drained at SHUTDOWN: run by make test-all (no -short)")
	}
	const queued = 10_000
	runE2E(t, e2eCase{
		target: workTarget,
		cfg: emulator.Config{Invokes: 1, Sink: emulator.SinkConfig{
			Env: extension.Prefix + "SINK_URL", Latency: 20 * time.Millisecond,
		}},
		// continuous: nothing flushes at the end of the invocation, so the records wait
		// in the queue for SHUTDOWN (but for the worker's first batches).
		env:  map[string]string{"QUEUE_SIZE": "20000", "FLUSH": "continuous", "FLUSH_INTERVAL": "1m", "LOG_LEVEL": "debug"},
		vars: []string{"BENCH_MODE=async", "BENCH_WORK=0", fmt.Sprintf("BENCH_RECORDS=%d", queued)},
		check: func(t *testing.T, r *emulator.Report, logs []logLine) {
			cleanShutdown(1)(t, r, logs)
			rec, _ := recordsLine(t, logs)
			if rec.Offered != queued || rec.Flushed != queued || rec.Unflushed != 0 {
				t.Errorf("records line %+v: want all %d flushed, 0 unflushed", rec, queued)
			}
			if r.Sink.Records != queued {
				t.Errorf("the sink took %d records, want %d", r.Sink.Records, queued)
			}
			if r.Shutdown == nil {
				return
			}
			shutdownAt := r.Started.Add(r.Shutdown.At)
			atShutdown := queued - sumFlushed(t, logs, shutdownAt, "records")
			posts := 0
			for _, e := range r.Timeline {
				if e.What == "sink" && e.At >= r.Shutdown.At {
					posts++
				}
			}
			t.Logf("%d records queued at SHUTDOWN went in %d POSTs; SHUTDOWN to exit %s", atShutdown, posts, r.Shutdown.Duration.Round(time.Millisecond))
			if atShutdown < queued*9/10 {
				t.Errorf("only %d records left for SHUTDOWN: the test did not load the drain", atShutdown)
			}
			if batches := (atShutdown + 63) / 64; posts >= batches {
				t.Errorf("%d POSTs for the %d records queued at SHUTDOWN: want fewer than the %d batches of 64", posts, atShutdown, batches)
			}
		},
	})
}
