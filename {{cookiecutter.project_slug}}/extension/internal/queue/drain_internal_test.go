package queue

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// A SHUTDOWN deadline shorter than the extension's margin gives Drain a context that
// has already ended. The records the worker has taken into its unfinished batch must
// still count as unflushed, or the extension would report 0 records lost.
func TestDrainWithEndedContextCountsTheWorkersBatch(t *testing.T) {
	flush := func(context.Context, []int) error { return nil }
	q, err := New(Options{Capacity: 10, BatchSize: 8, FlushInterval: time.Hour}, flush, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	q.Start(context.Background())
	for i := range 3 {
		q.Offer(i)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(q.items) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the worker never took the 3 records into its batch")
		}
		time.Sleep(time.Millisecond) // polling with a deadline, not waiting out a race
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if stats := q.Drain(ctx); stats != (Stats{Offered: 3, Unflushed: 3}) {
		t.Errorf("stats = %+v, want 3 unflushed", stats)
	}
}
