package queue

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// fakeClock is a clock that moves only when a flush says so: Drain's plan is then
// tested against flush durations and deadlines of the test's choosing, not the
// machine's speed.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// deadlineCtx has a deadline on the fake clock, and ends when the clock passes it.
type deadlineCtx struct {
	context.Context
	clock    *fakeClock
	deadline time.Time
}

func (c deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c deadlineCtx) Err() error {
	if c.clock.t.Before(c.deadline) {
		return nil
	}
	return context.DeadlineExceeded
}

// drainRun queues n records, then drains them with the given options and a SHUTDOWN
// window on the fake clock, every flush taking perFlush plus perRecord per record
// and ending in error once the window is over (as a sink's Send does when its ctx
// ends). It returns the counts and the batch sizes.
func drainRun(t *testing.T, opts Options, n int, window, perFlush, perRecord time.Duration) (Stats, []int) {
	t.Helper()
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	deadline := clock.t.Add(window)
	var sizes []int
	flush := func(ctx context.Context, batch []int) error {
		sizes = append(sizes, len(batch))
		clock.t = clock.t.Add(perFlush + time.Duration(len(batch))*perRecord)
		if !clock.t.Before(deadline) {
			return context.DeadlineExceeded
		}
		return nil
	}
	q, err := New(opts, flush, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	q.now = clock.now
	for i := range n {
		q.Offer(i)
	}
	// No worker: Drain alone flushes, so the order of events is fixed.
	return q.Drain(deadlineCtx{Context: context.Background(), clock: clock, deadline: deadline}), sizes
}

// 10,000 records queued, BATCH_SIZE 64, a sink that answers in 20 ms, the 1.8 s
// a 2 s SHUTDOWN leaves after the margin. In batches of 64 that is 157 flushes, 3.1 s;
// the plan delivers everything in time, with batches that only grow, at most fourfold
// a flush, within the drain limit.
func TestDrainSizesItsBatchesToTheDeadline(t *testing.T) {
	opts := Options{Capacity: 20_000, BatchSize: 64, FlushInterval: time.Hour, DrainBatchSize: 1000}
	stats, sizes := drainRun(t, opts, 10_000, 1800*time.Millisecond, 20*time.Millisecond, time.Microsecond)
	if stats != (Stats{Offered: 10_000, Flushed: 10_000}) {
		t.Errorf("stats = %+v, want all 10,000 flushed", stats)
	}
	if len(sizes) == 0 || sizes[0] != 64 {
		t.Fatalf("batches %v: want the first at BATCH_SIZE, before any flush was measured", sizes)
	}
	for i := 1; i < len(sizes); i++ {
		last := i == len(sizes)-1 // the rest of the queue, however small
		if (!last && sizes[i] < sizes[i-1]) || sizes[i] > 4*sizes[i-1] || sizes[i] > 1000 {
			t.Errorf("batch %d of %d records after one of %d: want no smaller, at most 4 times and at most 1000", i, sizes[i], sizes[i-1])
		}
	}
	if len(sizes) >= 157/2 {
		t.Errorf("%d flushes: want far fewer than the 157 of BATCH_SIZE", len(sizes))
	}
	t.Logf("%d flushes: %v", len(sizes), sizes)
}

// Larger batches than BATCH_SIZE only when the time needs them: with a fast sink, a
// queue that fits in the window at BATCH_SIZE, no deadline, or a drain limit at
// BATCH_SIZE, every batch is BATCH_SIZE.
func TestDrainKeepsBatchSizeWhenItFits(t *testing.T) {
	opts := Options{Capacity: 20_000, BatchSize: 64, FlushInterval: time.Hour, DrainBatchSize: 1000}
	for _, tc := range []struct {
		name     string
		opts     Options
		n        int
		perFlush time.Duration
	}{
		{"fast sink", opts, 10_000, time.Millisecond},
		{"few records", opts, 640, 20 * time.Millisecond},
		{"limit at BATCH_SIZE", Options{Capacity: 20_000, BatchSize: 64, FlushInterval: time.Hour, DrainBatchSize: 64}, 10_000, 20 * time.Millisecond},
		{"no limit", Options{Capacity: 20_000, BatchSize: 64, FlushInterval: time.Hour}, 10_000, 20 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, sizes := drainRun(t, tc.opts, tc.n, 1800*time.Millisecond, tc.perFlush, 0)
			for i, size := range sizes[:len(sizes)-1] {
				if size != 64 {
					t.Fatalf("batch %d of %d records: want BATCH_SIZE (64); all: %v", i, size, sizes)
				}
			}
		})
	}
}

// A drain that cannot finish still accounts for every record: the batch the deadline
// cuts counts as failed, what was never taken as unflushed.
func TestAPlannedDrainCutByTheDeadlineCountsEverything(t *testing.T) {
	opts := Options{Capacity: 200_000, BatchSize: 64, FlushInterval: time.Hour, DrainBatchSize: 1000}
	stats, sizes := drainRun(t, opts, 100_000, 1800*time.Millisecond, 20*time.Millisecond, 10*time.Microsecond)
	if stats.Offered != 100_000 || stats.Failed != uint64(sizes[len(sizes)-1]) || stats.Unflushed == 0 ||
		stats.Flushed+stats.Failed+stats.Unflushed != stats.Offered {
		t.Errorf("stats = %+v, batches %v: want the last batch failed, the rest of the queue unflushed", stats, sizes)
	}
}

func TestPlanDrain(t *testing.T) {
	for _, tc := range []struct {
		size, limit, queued int
		left, took          time.Duration
		tookSize, want      int
	}{
		{64, 1000, 10_000, 1600 * time.Millisecond, 20 * time.Millisecond, 64, 250},  // 40 flushes fit in 0.8 s
		{64, 1000, 10_000, 1600 * time.Millisecond, 20 * time.Millisecond, 16, 64},   // 4 × 16 is below size: size
		{64, 1000, 10_000, 100 * time.Millisecond, 20 * time.Millisecond, 256, 1000}, // 2 flushes fit: the limit
		{300, 1000, 1000, 1600 * time.Millisecond, 20 * time.Millisecond, 300, 300},  // never smaller than the last
		{64, 1000, 10_000, -time.Second, 20 * time.Millisecond, 64, 256},             // past the deadline: one flush fits
	} {
		if got := planDrain(tc.size, tc.limit, tc.queued, tc.left, tc.took, tc.tookSize); got != tc.want {
			t.Errorf("planDrain(%+v) = %d, want %d", tc, got, tc.want)
		}
	}
}
