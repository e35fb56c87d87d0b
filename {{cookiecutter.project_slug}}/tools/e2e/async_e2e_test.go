package e2e

// End-to-end tests of the async variant's Batcher, through tools/bench/work's async
// mode: its accounting and what a freeze does to background work.

import (
	"fmt"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/tools/internal/emulator"
)

func TestAsyncWorkExtension(t *testing.T) {
	t.Parallel()
	for _, tc := range []e2eCase{
		{
			name:   "work extension: every invocation accounted for (async)",
			target: workTarget,
			cfg:    emulator.Config{Invokes: 5, Spacing: 5 * time.Millisecond},
			vars:   []string{"BENCH_MODE=async", "BENCH_WORK=1ms"},
			check:  accounted(5),
		},
		{
			name:   "work extension: queued records left unflushed by a tight deadline",
			target: workTarget,
			cfg:    emulator.Config{Invokes: 5, Fault: emulator.FaultTightDeadline},
			env:    map[string]string{"FLUSH": "continuous", "FLUSH_INTERVAL": "1m"}, // nothing flushed before SHUTDOWN
			vars:   []string{"BENCH_MODE=async", "BENCH_WORK=0"},
			check:  tightDeadline(5, 5),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runE2E(t, tc)
		})
	}
}

// TestFreezeStopsBackgroundWork runs the work extension's Batcher with an idle gap
// between two invokes and batches flushed by age (100ms); its flush logs a debug line.
// Running, it flushes in the gap; frozen by the emulator, as Lambda freezes an idle
// environment, it logs nothing at all in it.
func TestFreezeStopsBackgroundWork(t *testing.T) {
	t.Parallel()
	for _, freeze := range []bool{false, true} {
		t.Run(fmt.Sprintf("freeze=%v", freeze), func(t *testing.T) {
			t.Parallel()
			runE2E(t, e2eCase{
				target: workTarget,
				cfg:    emulator.Config{Invokes: 2, Spacing: 600 * time.Millisecond, Freeze: freeze},
				env:    map[string]string{"FLUSH": "continuous", "FLUSH_INTERVAL": "100ms", "LOG_LEVEL": "debug"},
				vars:   []string{"BENCH_MODE=async", "BENCH_WORK=0"},
				check: func(t *testing.T, r *emulator.Report, logs []logLine) {
					accounted(2)(t, r, logs)
					if len(r.Invokes) != 2 {
						return
					}
					begin := r.Started
					gapFrom := begin.Add(r.Invokes[0].At + r.Invokes[0].Extension)
					gapTo := begin.Add(r.Invokes[1].At)
					if !freeze {
						if n := countBetween(t, logs, "flushed", gapFrom, gapTo); n == 0 {
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
