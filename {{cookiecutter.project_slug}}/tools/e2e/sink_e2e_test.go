package e2e

import (
	"net/http"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/extension"
	"{{ cookiecutter.go_module }}/tools/internal/emulator"
)

// The work extension (tools/bench/work: it ships what it handled to SINK_URL with
// extension.NewSink, whatever processor/ does) against the emulator's sink: what
// arrives, and the records line, in every bake.
var workSink = []string{"BENCH_MODE={{ cookiecutter.processing }}", "BENCH_WORK=0"{% if cookiecutter.telemetry %}, "BENCH_TELEMETRY=1"{% endif %}}

func TestSinkEndToEnd(t *testing.T) {
	t.Parallel()
	sinkEnv := extension.Prefix + "SINK_URL"
	base := emulator.Config{Invokes: 3, Spacing: 50 * time.Millisecond, FunctionDuration: 5 * time.Millisecond}
	with := func(c emulator.Config, s emulator.SinkConfig) emulator.Config {
		s.Env = sinkEnv
		c.Sink = s
		return c
	}
	delivered := func(t *testing.T, r *emulator.Report, logs []logLine) records {
		t.Helper()
		cleanShutdown(3)(t, r, logs)
		rec, _ := recordsLine(t, logs)
		if rec.Offered == 0 || rec.Flushed != rec.Offered {
			t.Errorf("records line %+v: want every record flushed", rec)
		}
		if r.Sink.Records != rec.Flushed {
			t.Errorf("the sink took %d records, the records line says %d flushed", r.Sink.Records, rec.Flushed)
		}
		return rec
	}
	fast := map[string]string{"TELEMETRY_TIMEOUT_MS": "25", "FLUSH_WAIT": "50ms"}
	cases := []e2eCase{
		{
			name: "gzip NDJSON",
			cfg:  with(base, emulator.SinkConfig{Latency: 20 * time.Millisecond}),
			env:  fast,
			check: func(t *testing.T, r *emulator.Report, logs []logLine) {
				delivered(t, r, logs)
				if r.Sink.Gzip != r.Sink.Requests || r.Sink.Conns != 1 {
					t.Errorf("sink %+v: want every request gzipped, on one kept-alive connection", r.Sink)
				}
			},
		},
		{
			name: "without gzip",
			cfg:  with(base, emulator.SinkConfig{}),
			env:  map[string]string{"TELEMETRY_TIMEOUT_MS": "25", "FLUSH_WAIT": "50ms", "SINK_GZIP": "false"},
			check: func(t *testing.T, r *emulator.Report, logs []logLine) {
				delivered(t, r, logs)
				if r.Sink.Gzip != 0 {
					t.Errorf("sink %+v: gzip although SINK_GZIP=false", r.Sink)
				}
			},
		},
		{
			name: "5xx and 429 retried with backoff",
			cfg:  with(base, emulator.SinkConfig{Statuses: []int{http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusOK}}),
			env:  fast,
			check: func(t *testing.T, r *emulator.Report, logs []logLine) {
				delivered(t, r, logs)
				if r.Sink.Refused != 2 {
					t.Errorf("sink %+v: want the two refusals retried", r.Sink)
				}
			},
		},
		{
			name: "Retry-After honoured",
			cfg:  with(base, emulator.SinkConfig{Statuses: []int{http.StatusTooManyRequests, http.StatusOK}, RetryAfter: "1"}),
			env:  fast,
			check: func(t *testing.T, r *emulator.Report, logs []logLine) {
				delivered(t, r, logs)
				var at []time.Duration
				for _, e := range r.Timeline {
					if e.What == "sink" {
						at = append(at, e.At)
					}
				}
				// The schedule, not a speed: the retry may not come before the server allowed it.
				if len(at) < 2 || at[1]-at[0] < time.Second {
					t.Errorf("sink requests at %v: want the retry 1s (Retry-After) after the 429 at least", at)
				}
			},
		},
		{
			name: "4xx drops the batch as failed",
			cfg:  with(base, emulator.SinkConfig{Statuses: []int{http.StatusBadRequest}}),
			env:  fast,
			check: func(t *testing.T, r *emulator.Report, logs []logLine) {
				cleanShutdown(3)(t, r, logs)
				rec, _ := recordsLine(t, logs)
				if rec.Offered == 0 || rec.Failed != rec.Offered {
					t.Errorf("records line %+v: want every record failed", rec)
				}
				if r.Sink.Refused != r.Sink.Requests {
					t.Errorf("sink %+v: a 400 must not be retried", r.Sink)
				}
			},
		},
		{
			name: "a connection dropped during a freeze",
			cfg:  with(emulator.Config{Invokes: 3, Spacing: 150 * time.Millisecond, Freeze: true, FunctionDuration: 5 * time.Millisecond}, emulator.SinkConfig{DropOnFreeze: true}),
			env:  map[string]string{"TELEMETRY_TIMEOUT_MS": "25", "FLUSH_WAIT": "50ms", "FLUSH": "end"},
			check: func(t *testing.T, r *emulator.Report, logs []logLine) {
				delivered(t, r, logs)
				if r.Sink.Dropped == 0 || r.Sink.Conns < 2 {
					t.Errorf("sink %+v: want connections dropped during the freezes and new ones opened", r.Sink)
				}
			},
		},
	}
	for _, tc := range cases {
		tc.target = workTarget
		tc.vars = workSink
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runE2E(t, tc)
		})
	}
}
