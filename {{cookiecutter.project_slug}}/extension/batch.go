package extension

import (
	"context"
	"fmt"
	"time"

	"{{ cookiecutter.go_module }}/extension/internal/queue"
)

// Defaults of the batching settings.
const (
	defaultQueueSize     = 1024
	defaultBatchSize     = 64
	defaultFlushInterval = time.Second
)

// Batcher is the async Handler: on INVOKE it turns the event into a record and
// queues it, and the extension asks Lambda for the next event at once; a worker
// hands records to a flush function in batches, by count and by age, while the
// environment is thawed. SHUTDOWN flushes what is left before Lambda's deadline.
//
// The queue is bounded and never blocks the event loop: when it is full a record
// is dropped, counted, and logged (on the 1st, 2nd, 4th, 8th... drop). Its size and
// the batches are settings: PREFIX_QUEUE_SIZE (default 1024), PREFIX_BATCH_SIZE
// (default 64, at most the queue size) and PREFIX_FLUSH_INTERVAL (the longest a
// record waits for its batch to fill, default 1s).
type Batcher[T any] struct {
	x      *Extension
	record func(Event) T
	queue  *queue.Queue[T]
}

// NewBatcher returns a Batcher that calls record on every INVOKE and flush with
// each batch. flush owns the slice; an error counts the batch as failed. record
// runs on the event loop, before the next event: keep it quick.
func NewBatcher[T any](x *Extension, record func(Event) T, flush func(ctx context.Context, batch []T) error) *Batcher[T] {
	opts := queue.Options{
		Capacity:      x.env.Int("QUEUE_SIZE", defaultQueueSize, 1, 1_000_000),
		BatchSize:     x.env.Int("BATCH_SIZE", defaultBatchSize, 1, 1_000_000),
		FlushInterval: x.env.Duration("FLUSH_INTERVAL", defaultFlushInterval, time.Millisecond, time.Minute),
	}
	if opts.BatchSize > opts.Capacity {
		x.env.Fail("BATCH_SIZE", fmt.Sprintf("must not exceed %sQUEUE_SIZE (%d), got %d", Prefix, opts.Capacity, opts.BatchSize))
		opts.BatchSize = min(defaultBatchSize, opts.Capacity)
	}
	q, err := queue.New(opts, flush, x.Log)
	if err != nil {
		panic(err) // unreachable: every option was range-checked above
	}
	q.Start(x.ctx)
	return &Batcher[T]{x: x, record: record, queue: q}
}

// Invoke queues the event's record.
func (b *Batcher[T]) Invoke(_ context.Context, ev Event) error {
	b.Offer(b.record(ev), "request_id", ev.RequestID)
	return nil
}

// Offer queues one record of any origin; it reports false when the queue was full
// and the record was dropped. attrs describe the record in the drop's log line.
// It never blocks, and may be called from any goroutine.
func (b *Batcher[T]) Offer(item T, attrs ...any) bool {
	if b.queue.Offer(item) {
		return true
	}
	if dropped := b.queue.Stats().Dropped; dropped&(dropped-1) == 0 {
		b.x.Log.Warn("queue full, record dropped", append(attrs, "dropped_total", dropped)...)
	}
	return false
}

// Shutdown flushes what is queued until ctx ends.
func (b *Batcher[T]) Shutdown(ctx context.Context, _ Event) error {
	b.queue.Drain(ctx)
	return nil
}

// Records counts what happened to the records offered so far.
func (b *Batcher[T]) Records() Records { return b.records() }

func (b *Batcher[T]) records() Records {
	s := b.queue.Stats()
	return Records{Offered: s.Offered, Flushed: s.Flushed, Failed: s.Failed, Dropped: s.Dropped, Unflushed: s.Unflushed}
}
