package queue_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/extension/internal/queue"
)

const maxWait = 10 * time.Second

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// sink records flushed batches and can hold the worker inside a flush.
type sink struct {
	mu      sync.Mutex
	batches [][]int
	entered chan struct{} // receives once per flush call, if set
	release chan struct{} // a flush waits on it (or ctx), if set
	err     error
}

func (s *sink) flush(ctx context.Context, batch []int) error {
	if s.entered != nil {
		s.entered <- struct{}{}
	}
	if s.release != nil {
		select {
		case <-s.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, batch)
	return s.err
}

func (s *sink) sizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sizes []int
	for _, b := range s.batches {
		sizes = append(sizes, len(b))
	}
	return sizes
}

func newQueue(t *testing.T, opts queue.Options, s *sink) *queue.Queue[int] {
	t.Helper()
	q, err := queue.New(opts, s.flush, discard)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestInvalidOptions(t *testing.T) {
	for _, opts := range []queue.Options{
		{Capacity: 0, BatchSize: 1, FlushInterval: time.Second},
		{Capacity: 4, BatchSize: 5, FlushInterval: time.Second},
		{Capacity: 4, BatchSize: 0, FlushInterval: time.Second},
		{Capacity: 4, BatchSize: 2, FlushInterval: 0},
	} {
		if _, err := queue.New(opts, (&sink{}).flush, discard); err == nil {
			t.Errorf("New(%+v) accepted", opts)
		}
	}
}

func TestBatchesByCountThenDrain(t *testing.T) {
	s := &sink{entered: make(chan struct{}, 16)}
	q := newQueue(t, queue.Options{Capacity: 10, BatchSize: 3, FlushInterval: time.Hour}, s)
	q.Start(context.Background())
	for i := range 7 {
		if !q.Offer(i) {
			t.Fatalf("offer %d refused", i)
		}
	}
	for range 2 { // two full batches of 3 flush without waiting for the hour
		select {
		case <-s.entered:
		case <-time.After(maxWait):
			t.Fatal("full batches were not flushed")
		}
	}
	stats := q.Drain(context.Background())
	if got := s.sizes(); !slices.Equal(got, []int{3, 3, 1}) {
		t.Errorf("batch sizes = %v, want [3 3 1]", got)
	}
	if stats != (queue.Stats{Offered: 7, Flushed: 7}) {
		t.Errorf("stats = %+v", stats)
	}
	var all []int
	for _, b := range s.batches {
		all = append(all, b...)
	}
	if !slices.Equal(all, []int{0, 1, 2, 3, 4, 5, 6}) {
		t.Errorf("records = %v, want them all, in order", all)
	}
}

func TestBatchesByAge(t *testing.T) {
	s := &sink{entered: make(chan struct{}, 4)}
	q := newQueue(t, queue.Options{Capacity: 100, BatchSize: 100, FlushInterval: 10 * time.Millisecond}, s)
	q.Start(context.Background())
	q.Offer(1)
	q.Offer(2)
	select {
	case <-s.entered:
	case <-time.After(maxWait):
		t.Fatal("a partial batch was never flushed by age")
	}
	q.Drain(context.Background())
	if got := s.sizes(); !slices.Equal(got, []int{2}) {
		t.Errorf("batch sizes = %v, want [2]", got)
	}
}

func TestFullQueueDropsWithoutBlocking(t *testing.T) {
	s := &sink{entered: make(chan struct{}, 16), release: make(chan struct{})}
	q := newQueue(t, queue.Options{Capacity: 4, BatchSize: 1, FlushInterval: time.Hour}, s)
	q.Start(context.Background())
	q.Offer(0)
	<-s.entered // the worker now holds record 0 inside a flush that waits for release

	accepted := 0
	for i := 1; i <= 9; i++ {
		if q.Offer(i) {
			accepted++
		}
	}
	if accepted != 4 || q.Stats().Dropped != 5 {
		t.Fatalf("accepted %d, dropped %d; want 4 and 5", accepted, q.Stats().Dropped)
	}
	close(s.release)
	stats := q.Drain(context.Background())
	if stats != (queue.Stats{Offered: 10, Flushed: 5, Dropped: 5}) {
		t.Errorf("stats = %+v", stats)
	}
}

func TestDrainStopsAtDeadline(t *testing.T) {
	s := &sink{entered: make(chan struct{}, 16), release: make(chan struct{})}
	q := newQueue(t, queue.Options{Capacity: 10, BatchSize: 2, FlushInterval: time.Hour}, s)
	q.Start(context.Background())
	for i := range 6 {
		q.Offer(i)
	}
	<-s.entered // the worker is stuck flushing the first batch of 2
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	stats := q.Drain(ctx)
	// The 2 records inside the stuck flush are neither flushed nor failed: they
	// count as unflushed with the 4 still queued, so no record is in no count.
	if stats != (queue.Stats{Offered: 6, Unflushed: 6}) {
		t.Errorf("stats = %+v, want all 6 unflushed", stats)
	}
	close(s.release)
}

func TestDrainCountsWhatTheDeadlineLeft(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var sizes []int
	// The second flush is cut by the deadline (here: a cancel during it).
	flush := func(fctx context.Context, batch []int) error {
		sizes = append(sizes, len(batch))
		if len(sizes) == 2 {
			cancel()
			return fctx.Err()
		}
		return nil
	}
	q, err := queue.New(queue.Options{Capacity: 10, BatchSize: 2, FlushInterval: time.Hour}, flush, discard)
	if err != nil {
		t.Fatal(err)
	}
	// No worker: Drain alone flushes, so the order of events is fixed.
	for i := range 7 {
		q.Offer(i)
	}
	stats := q.Drain(ctx)
	if stats != (queue.Stats{Offered: 7, Flushed: 2, Failed: 2, Unflushed: 3}) {
		t.Errorf("stats = %+v, want 2 flushed, 2 failed (cut by the deadline), 3 unflushed", stats)
	}
	if !slices.Equal(sizes, []int{2, 2}) {
		t.Errorf("flushed batch sizes = %v, want [2 2]", sizes)
	}
}

func TestDrainWithoutStartDoesNotWaitForTheDeadline(t *testing.T) {
	s := &sink{}
	q := newQueue(t, queue.Options{Capacity: 10, BatchSize: 4, FlushInterval: time.Hour}, s)
	for i := range 5 {
		q.Offer(i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	done := make(chan queue.Stats, 1)
	go func() { done <- q.Drain(ctx) }()
	select {
	case stats := <-done:
		if stats != (queue.Stats{Offered: 5, Flushed: 5}) || !slices.Equal(s.sizes(), []int{4, 1}) {
			t.Errorf("stats = %+v, batches %v", stats, s.sizes())
		}
	case <-time.After(maxWait):
		t.Fatal("Drain of a queue whose worker never started waited for its deadline")
	}
}

func TestFlushErrorsAreCounted(t *testing.T) {
	s := &sink{err: errors.New("destination down")}
	q := newQueue(t, queue.Options{Capacity: 10, BatchSize: 5, FlushInterval: time.Hour}, s)
	q.Start(context.Background())
	for i := range 3 {
		q.Offer(i)
	}
	if stats := q.Drain(context.Background()); stats != (queue.Stats{Offered: 3, Failed: 3}) {
		t.Errorf("stats = %+v", stats)
	}
}
