package queue_test

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/extension/internal/queue"
)

var benchLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// BenchmarkEnqueueDequeue pushes every record through the queue and its worker to a
// flush that does nothing: the queue's own cost per record, enqueue to flush. A full
// queue is retried, so nothing is dropped and every record is flushed.
func BenchmarkEnqueueDequeue(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts queue.Options
	}{
		{"capacity=1024/batch=64", queue.Options{Capacity: 1024, BatchSize: 64, FlushInterval: time.Second}},
		{"capacity=1024/batch=1", queue.Options{Capacity: 1024, BatchSize: 1, FlushInterval: time.Second}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var flushed atomic.Int64
			q, err := queue.New(tc.opts, func(_ context.Context, batch []int) error {
				flushed.Add(int64(len(batch)))
				return nil
			}, benchLog)
			if err != nil {
				b.Fatal(err)
			}
			q.Start(context.Background())
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for !q.Offer(i) {
					runtime.Gosched()
				}
			}
			stats := q.Drain(context.Background())
			b.StopTimer()
			if got := flushed.Load(); got != int64(b.N) || stats.Unflushed != 0 {
				b.Fatalf("flushed %d of %d records (stats %+v)", got, b.N, stats)
			}
		})
	}
}

// BenchmarkOfferFull is what a burst costs the event loop once the queue is full: the
// record is dropped and counted, never waited for.
func BenchmarkOfferFull(b *testing.B) {
	q, err := queue.New(queue.Options{Capacity: 1, BatchSize: 1, FlushInterval: time.Second},
		func(context.Context, []int) error { return nil }, benchLog)
	if err != nil {
		b.Fatal(err)
	}
	q.Offer(0) // no worker: the queue stays full
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if q.Offer(i) {
			b.Fatal("offer to a full queue succeeded")
		}
	}
	b.StopTimer()
	if got := q.Stats().Dropped; got != uint64(b.N) {
		b.Fatalf("dropped %d, want %d", got, b.N)
	}
}
