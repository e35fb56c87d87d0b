package queue_test

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/internal/extapi"
	"{{ cookiecutter.go_module }}/internal/queue"
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

// BenchmarkHandlerInvoke is the async variant's whole INVOKE on the event loop: build the
// record and offer it to a queue with room, then return. The worker's side is in
// BenchmarkEnqueueDequeue; here a fresh queue replaces a full one, untimed, so every
// offer is accepted.
func BenchmarkHandlerInvoke(b *testing.B) {
	type record struct {
		RequestID string
		At        time.Time
	}
	const capacity = 1024
	newHandler := func() *queue.Handler[record] {
		q, err := queue.New(queue.Options{Capacity: capacity, BatchSize: 64, FlushInterval: time.Second},
			func(context.Context, []record) error { return nil }, benchLog)
		if err != nil {
			b.Fatal(err)
		}
		return queue.NewHandler(q, func(ev extapi.Event) record {
			return record{RequestID: ev.RequestID, At: time.Now()}
		}, benchLog)
	}
	ev := extapi.Event{EventType: extapi.Invoke, RequestID: "3da1f2dc-3222-475e-9205-e2e6c6318895"}
	ctx := context.Background()
	h := newHandler()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%capacity == 0 && i > 0 {
			b.StopTimer()
			h = newHandler()
			b.StartTimer()
		}
		if err := h.Invoke(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
}
