package extension

import (
	"context"
	"errors"
	"fmt"
	"time"

	"{{ cookiecutter.go_module }}/extension/internal/config"
	"{{ cookiecutter.go_module }}/extension/internal/flush"
	"{{ cookiecutter.go_module }}/extension/internal/queue"
)

// Defaults of the batching settings.
const (
	defaultQueueSize     = 1024
	defaultBatchSize     = 64
	defaultDrainBatch    = 1000
	defaultFlushInterval = time.Second
	defaultFlushPolicy   = "adaptive"
	defaultFlushWait     = 200 * time.Millisecond
	maxFlushWait         = 10 * time.Second
	defaultAdaptiveGap   = time.Second
	defaultAdaptiveAfter = 5
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
//
// SHUTDOWN (and the drain after a fatal loop error) sizes its batches to the time
// left: when more than PREFIX_BATCH_SIZE records are queued, it takes larger batches,
// planned from the measured duration of the flushes so far so that the queue goes out
// in half the time left, growing at most fourfold a flush, up to
// PREFIX_DRAIN_BATCH_SIZE records (default 1000; a value below PREFIX_BATCH_SIZE
// counts as PREFIX_BATCH_SIZE, which keeps the drain's batches at that size). The
// flush function then gets more than PREFIX_BATCH_SIZE records at once: set
// PREFIX_DRAIN_BATCH_SIZE to what one request to the sink may carry.
//
// When the batches go out is PREFIX_FLUSH, the flush policy: "end" flushes what
// the invocation produced before the extension asks for the next event (with
// telemetry, after waiting up to PREFIX_FLUSH_WAIT for the request's
// platform.runtimeDone); "periodic:<duration>" flushes in the background at that
// interval, and before the next event when an interval passed during a freeze;
// "continuous" flushes in the background as soon as a batch is ready; "adaptive"
// (the default) is "end" until PREFIX_FLUSH_ADAPTIVE_AFTER gaps in a row between
// invocations were at most PREFIX_FLUSH_ADAPTIVE_GAP, then "continuous" until a
// longer gap. On Lambda Managed Instances, which sends no INVOKE, "end" and
// "adaptive" fall back to "continuous".
type Batcher[T any] struct {
	x      *Extension
	record func(Event) T
	queue  *queue.Queue[T]

	policy   flush.Policy
	interval time.Duration // a background flush is due at an INVOKE after this long
	wait     time.Duration // PREFIX_FLUSH_WAIT
	adaptive flush.AdaptiveState
	atEnd    bool // this invocation flushes in AfterInvoke; the event loop's only
	overdue  bool // periodic: an interval passed before this INVOKE; the loop's only
	// runtimeDone waits until Lambda reported the request's platform.runtimeDone or
	// ctx ends; nil without telemetry.
	runtimeDone func(ctx context.Context, requestID string)
}

// NewBatcher returns a Batcher that calls record on every INVOKE and flushFn with
// each batch. flushFn owns the slice; an error counts the batch as failed. record
// runs on the event loop, before the next event: keep it quick.
func NewBatcher[T any](x *Extension, record func(Event) T, flushFn func(ctx context.Context, batch []T) error) *Batcher[T] {
	opts := queue.Options{
		Capacity:      x.env.Int("QUEUE_SIZE", defaultQueueSize, 1, 1_000_000),
		BatchSize:     x.env.Int("BATCH_SIZE", defaultBatchSize, 1, 1_000_000),
		FlushInterval: x.env.Duration("FLUSH_INTERVAL", defaultFlushInterval, time.Millisecond, time.Minute),
		// At least BatchSize in effect: the queue takes the larger of the two.
		DrainBatchSize: x.env.Int("DRAIN_BATCH_SIZE", defaultDrainBatch, 1, 1_000_000),
	}
	if opts.BatchSize > opts.Capacity {
		x.env.Fail("BATCH_SIZE", fmt.Sprintf("must not exceed %sQUEUE_SIZE (%d), got %d", Prefix, opts.Capacity, opts.BatchSize))
		opts.BatchSize = min(defaultBatchSize, opts.Capacity)
	}
	b := &Batcher[T]{x: x, record: record}
	b.readPolicy(x.env)
	if b.policy.Kind == flush.Periodic {
		opts.FlushInterval = b.policy.Interval
	}
	b.interval = opts.FlushInterval
	q, err := queue.New(opts, flushFn, x.Log)
	if err != nil {
		panic(err) // unreachable: every option was range-checked above
	}
	q.Start(x.ctx)
	b.queue = q
	return b
}

// readPolicy reads the flush policy's settings.
func (b *Batcher[T]) readPolicy(env *config.Reader) {
	raw := env.String("FLUSH", defaultFlushPolicy)
	policy, err := flush.Parse(raw)
	if err != nil {
		env.Fail("FLUSH", fmt.Sprintf("must be %s, got %s", flush.Usage, config.Quote(raw)))
		policy, _ = flush.Parse(defaultFlushPolicy)
	}
	b.wait = env.Duration("FLUSH_WAIT", defaultFlushWait, 0, maxFlushWait)
	b.adaptive = flush.AdaptiveState{
		Gap:   env.Duration("FLUSH_ADAPTIVE_GAP", defaultAdaptiveGap, time.Millisecond, time.Hour),
		After: env.Int("FLUSH_ADAPTIVE_AFTER", defaultAdaptiveAfter, 1, 1_000_000),
	}
	if b.x.lmi && !policy.Background() {
		b.x.Log.Info("flush policy falls back on Lambda Managed Instances: no INVOKE to flush after",
			"configured", policy.String(), "policy", "continuous")
		policy = flush.Policy{Kind: flush.Continuous}
	}
	b.policy = policy
}

// Invoke queues the event's record, and decides whether AfterInvoke flushes it.
func (b *Batcher[T]) Invoke(_ context.Context, ev Event) error {
	now := time.Now()
	switch b.policy.Kind {
	case flush.End:
		b.atEnd = true
	case flush.Adaptive:
		background, switched := b.adaptive.Observe(now)
		b.atEnd = !background
		if switched {
			flushAt := "end"
			if background {
				flushAt = "background"
			}
			b.x.Log.Debug("adaptive flush switched", "flush_at", flushAt)
		}
	default:
		b.atEnd = false
	}
	b.overdue = false
	if !b.atEnd && now.Sub(b.queue.LastFlush()) >= b.interval {
		// An interval passed, most likely while the environment was frozen (a frozen
		// process's timers fire late). periodic flushes what waited before the next
		// event, so it cannot wait through another freeze; the others in the
		// background.
		if b.policy.Kind == flush.Periodic {
			b.overdue = true
		} else {
			b.queue.Kick()
		}
	}
	b.Offer(b.record(ev), "request_id", ev.RequestID)
	return nil
}

// AfterInvoke runs after Invoke, before the extension asks for the next event.
// When this invocation flushes at the end, it waits for the request's
// platform.runtimeDone (telemetry only, up to PREFIX_FLUSH_WAIT) so the function's
// log lines join the batch, then flushes everything queued until ctx ends.
func (b *Batcher[T]) AfterInvoke(ctx context.Context, ev Event) error {
	if b.overdue {
		return b.flushNow(ctx, "overdue periodic flush")
	}
	if !b.atEnd {
		return nil
	}
	if b.runtimeDone != nil && b.wait > 0 && ev.RequestID != "" {
		wctx, cancel := context.WithTimeout(ctx, b.wait)
		b.runtimeDone(wctx, ev.RequestID)
		cancel()
	}
	return b.flushNow(ctx, "end-of-invocation flush")
}

// flushNow flushes everything queued until ctx ends.
func (b *Batcher[T]) flushNow(ctx context.Context, what string) error {
	if err := b.queue.Flush(ctx); err != nil && !errors.Is(err, queue.ErrStopped) {
		return fmt.Errorf("%s: %w", what, err)
	}
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
