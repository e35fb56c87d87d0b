package queue_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/extension/internal/queue"
)

// Flush hands every record queued before it to the flush function before it returns,
// without waiting for the batch to fill or to age.
func TestFlushSendsWhatIsQueuedAndWaits(t *testing.T) {
	s := &sink{}
	q := newQueue(t, queue.Options{Capacity: 100, BatchSize: 4, FlushInterval: time.Hour}, s)
	q.Start(context.Background())
	for i := range 10 {
		q.Offer(i)
	}
	before := q.LastFlush()
	if err := q.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := s.sizes(); !slices.Equal(got, []int{4, 4, 2}) {
		t.Errorf("batch sizes = %v, want [4 4 2]", got)
	}
	if q.LastFlush().Before(before) {
		t.Errorf("LastFlush went back: %v before %v", q.LastFlush(), before)
	}
	if stats := q.Drain(context.Background()); stats != (queue.Stats{Offered: 10, Flushed: 10}) {
		t.Errorf("stats = %+v", stats)
	}
}

// A Flush whose context ends returns; the flush it started sees the end too and the
// records are counted, never lost.
func TestFlushReturnsWhenItsContextEnds(t *testing.T) {
	s := &sink{entered: make(chan struct{}, 4), release: make(chan struct{})}
	q := newQueue(t, queue.Options{Capacity: 10, BatchSize: 10, FlushInterval: time.Hour}, s)
	q.Start(context.Background())
	q.Offer(1)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- q.Flush(ctx) }()
	select {
	case <-s.entered:
	case <-time.After(maxWait):
		t.Fatal("Flush never reached the flush function")
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Flush = %v, want context.Canceled", err)
	}
	stats := q.Drain(context.Background())
	if stats != (queue.Stats{Offered: 1, Failed: 1}) {
		t.Errorf("stats = %+v, want the cut flush counted as failed", stats)
	}
}

func TestFlushAfterDrainReportsStopped(t *testing.T) {
	q := newQueue(t, queue.Options{Capacity: 10, BatchSize: 10, FlushInterval: time.Hour}, &sink{})
	q.Start(context.Background())
	q.Drain(context.Background())
	if err := q.Flush(context.Background()); !errors.Is(err, queue.ErrStopped) {
		t.Errorf("Flush = %v, want ErrStopped", err)
	}
}

// Kick flushes in the background: the caller does not wait.
func TestKickFlushesWithoutWaiting(t *testing.T) {
	s := &sink{entered: make(chan struct{}, 4)}
	q := newQueue(t, queue.Options{Capacity: 10, BatchSize: 10, FlushInterval: time.Hour}, s)
	q.Start(context.Background())
	q.Offer(1)
	q.Offer(2)
	q.Kick()
	select {
	case <-s.entered:
	case <-time.After(maxWait):
		t.Fatal("Kick never flushed")
	}
	q.Kick() // nothing queued: a no-op
	if stats := q.Drain(context.Background()); stats != (queue.Stats{Offered: 2, Flushed: 2}) {
		t.Errorf("stats = %+v", stats)
	}
	if got := s.sizes(); !slices.Equal(got, []int{2}) {
		t.Errorf("batch sizes = %v, want [2]", got)
	}
}
