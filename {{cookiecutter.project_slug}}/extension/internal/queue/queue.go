// Package queue is the async variant's machinery: a bounded queue that never blocks the
// event loop, and one worker that hands records to a flush function in batches, by
// count and by age. Flush and Kick ask the worker to flush what is queued now (the
// flush policies' end-of-invocation and after-a-freeze flushes). On SHUTDOWN, Drain
// flushes what fits before the deadline.
//
// Drain sizes its batches to the time left. It starts at BatchSize; when the queue
// holds more than that and its context has a deadline, it plans before every flush
// from the last flush's measured duration (the worker's, then its own): the number of
// flushes of that duration that fit in half the time left, and the batch that takes
// everything queued in that many. The batch it takes is that size, but never smaller
// than the one before (a drain's batches only grow), at most four times the last
// measured flush's (so the estimate catches up with what bigger batches cost) and at
// most DrainBatchSize (one request body stays reasonable). Half the time left keeps
// the other half for a retry or a slower answer. Without a deadline, a measurement or
// more queued than BatchSize, Drain takes BatchSize. With BatchSize 64, a sink that
// answers in 20 ms and 10,000 records queued at a 2 s SHUTDOWN that is some 30 to 45
// flushes of a few hundred records instead of 157 of 64, which would not fit.
package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// FlushFunc receives a batch of records. It owns the slice.
type FlushFunc[T any] func(ctx context.Context, batch []T) error

// Options size the queue and its batches.
type Options struct {
	Capacity      int           // records held at most; Offer drops beyond it
	BatchSize     int           // records per flush at most
	FlushInterval time.Duration // longest time a record waits for its batch to fill
	// DrainBatchSize caps the larger batches Drain takes to meet its deadline (see
	// the package doc); 0 or at most BatchSize: Drain's batches stay at BatchSize.
	DrainBatchSize int
}

// Stats counts what happened to the records offered:
// Offered = Flushed + Failed + Dropped + Unflushed at every moment.
type Stats struct {
	Offered   uint64 // passed to Offer
	Flushed   uint64 // handed to a flush that returned nil
	Failed    uint64 // handed to a flush that returned an error
	Dropped   uint64 // refused by Offer because the queue was full
	Unflushed uint64 // the rest: queued, in the worker's batch, or in a flush still running
}

// Queue is a bounded queue with one batching worker. Offer may be called from any
// goroutine; Start and Drain once each.
type Queue[T any] struct {
	opts    Options
	flush   FlushFunc[T]
	log     *slog.Logger
	items   chan T
	stop    chan struct{}
	done    chan struct{}
	reqs    chan request
	pending []T // the worker's unfinished batch, handed to Drain after done
	started atomic.Bool
	// lastFlush is the wall-clock time (Unix ns) the last flush ended, or Start.
	lastFlush atomic.Int64
	// took is how long the last flush of tookSize records ran, for Drain's plan;
	// written by whoever runs send (the worker, then Drain once the worker stopped).
	took     time.Duration
	tookSize int
	now      func() time.Time // time.Now; tests give a clock of their own

	offered, flushed, failed, dropped atomic.Uint64
}

// request asks the worker to flush its batch and what is queued: under ctx (the
// worker's own when nil), closing done (if not nil) when finished.
type request struct {
	ctx  context.Context
	done chan struct{}
}

// ErrStopped is returned by Flush once Drain has stopped the worker.
var ErrStopped = errors.New("queue: worker stopped")

// New returns a queue; call Start to run its worker.
func New[T any](opts Options, flush FlushFunc[T], log *slog.Logger) (*Queue[T], error) {
	if opts.Capacity < 1 || opts.BatchSize < 1 || opts.BatchSize > opts.Capacity || opts.FlushInterval <= 0 || opts.DrainBatchSize < 0 {
		return nil, fmt.Errorf("queue: invalid options %+v", opts)
	}
	return &Queue[T]{
		opts:  opts,
		flush: flush,
		log:   log,
		items: make(chan T, opts.Capacity),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
		reqs:  make(chan request, 1),
		now:   time.Now,
	}, nil
}

// Start runs the worker. Its flushes get ctx, which should outlive the event loop.
func (q *Queue[T]) Start(ctx context.Context) {
	q.started.Store(true)
	q.lastFlush.Store(time.Now().UnixNano())
	go q.work(ctx)
}

// Flush asks the worker to flush its unfinished batch and every record queued before
// the call, under ctx, and waits until that is done or ctx ends. A flush the worker
// has started when ctx ends sees ctx end too; what it has not taken stays queued.
func (q *Queue[T]) Flush(ctx context.Context) error {
	r := request{ctx: ctx, done: make(chan struct{})}
	select {
	case q.reqs <- r:
	case <-q.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-r.done:
		return nil
	case <-q.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Kick asks the worker to flush what it holds in the background, without waiting;
// a request already waiting makes it a no-op.
func (q *Queue[T]) Kick() {
	select {
	case q.reqs <- request{}:
	default:
	}
}

// LastFlush is when the last flush ended (wall clock), or when the worker started.
func (q *Queue[T]) LastFlush() time.Time { return time.Unix(0, q.lastFlush.Load()) }

// Offer queues item without blocking. It returns false, and counts a drop, when the
// queue is full.
func (q *Queue[T]) Offer(item T) bool {
	q.offered.Add(1)
	select {
	case q.items <- item:
		return true
	default:
		q.dropped.Add(1)
		return false
	}
}

// Stats returns the counts so far.
func (q *Queue[T]) Stats() Stats {
	// Offered last: every record counted in the others was offered before, so the
	// subtraction never goes below zero while the worker moves on.
	s := Stats{Flushed: q.flushed.Load(), Failed: q.failed.Load(), Dropped: q.dropped.Load()}
	s.Offered = q.offered.Load()
	s.Unflushed = s.Offered - s.Flushed - s.Failed - s.Dropped
	return s
}

func (q *Queue[T]) work(ctx context.Context) {
	defer close(q.done)
	batch := make([]T, 0, q.opts.BatchSize)
	age := time.NewTimer(q.opts.FlushInterval)
	age.Stop()
	for {
		// Stop takes priority over queued items: Drain owns them from then on.
		select {
		case <-q.stop:
			age.Stop()
			q.pending = batch
			return
		default:
		}
		select {
		case item := <-q.items:
			if len(batch) == 0 {
				age.Reset(q.opts.FlushInterval)
			}
			batch = append(batch, item)
			if len(batch) < q.opts.BatchSize {
				continue
			}
			age.Stop()
		case <-age.C:
		case r := <-q.reqs:
			age.Stop()
			if batch = q.serve(ctx, r, batch); len(batch) > 0 {
				age.Reset(q.opts.FlushInterval)
			}
			continue
		case <-q.stop:
			age.Stop()
			q.pending = batch
			return
		}
		if len(batch) > 0 {
			q.send(ctx, batch)
			batch = make([]T, 0, q.opts.BatchSize)
		}
	}
}

// serve flushes batch and the records queued now, in batches, for a request; it
// returns the new unfinished batch (what ctx's end left over).
func (q *Queue[T]) serve(ctx context.Context, r request, batch []T) []T {
	if r.ctx != nil {
		ctx = r.ctx
	}
	if r.done != nil {
		defer close(r.done)
	}
	// Only what is queued now: under a steady stream the request still ends.
	for n := len(q.items); n > 0; n-- {
		if len(batch) == q.opts.BatchSize {
			if ctx.Err() != nil {
				break
			}
			q.send(ctx, batch)
			batch = make([]T, 0, q.opts.BatchSize)
		}
		batch = append(batch, <-q.items)
	}
	if len(batch) > 0 && ctx.Err() == nil {
		q.send(ctx, batch)
		batch = make([]T, 0, q.opts.BatchSize)
	}
	return batch
}

func (q *Queue[T]) send(ctx context.Context, batch []T) {
	defer func() { q.lastFlush.Store(time.Now().UnixNano()) }()
	n := uint64(len(batch))
	began := q.now()
	err := q.flush(ctx, batch)
	q.took, q.tookSize = q.now().Sub(began), len(batch)
	if err != nil {
		q.failed.Add(n)
		q.log.Error("flush failed", "records", n, "error", err.Error())
		return
	}
	q.flushed.Add(n)
}

// Drain stops the worker and flushes everything queued, in batches sized to ctx's
// deadline (see the package doc), until ctx ends. What is left then is counted as
// Unflushed; a flush ctx cuts counts its batch as Failed. It returns the final counts.
func (q *Queue[T]) Drain(ctx context.Context) Stats {
	close(q.stop)
	if !q.started.Load() {
		close(q.done) // no worker to wait for: Drain flushes everything itself
	}
	select {
	case <-q.done:
	case <-ctx.Done():
		// The worker is stuck in a flush, or has not stopped yet: what it holds, and
		// what is still queued, counts as unflushed.
		return q.Stats()
	}
	batch, size := q.pending, q.opts.BatchSize
	for {
		if ctx.Err() != nil {
			return q.Stats()
		}
		size = q.drainSize(ctx, size, len(batch)+len(q.items))
	fill:
		for len(batch) < size {
			select {
			case item := <-q.items:
				batch = append(batch, item)
			default:
				break fill
			}
		}
		if len(batch) == 0 {
			return q.Stats()
		}
		q.send(ctx, batch)
		batch = make([]T, 0, size)
	}
}

// drainSize is the size of Drain's next batch, after one of size, with queued records
// left; see the package doc.
func (q *Queue[T]) drainSize(ctx context.Context, size, queued int) int {
	limit := max(q.opts.DrainBatchSize, q.opts.BatchSize)
	deadline, ok := ctx.Deadline()
	if !ok || size >= limit || queued <= size || q.took <= 0 || q.tookSize < 1 {
		return size
	}
	return planDrain(size, limit, queued, deadline.Sub(q.now()), q.took, q.tookSize)
}

// planDrain sizes the next batch so that queued records go out in flushes that fit in
// half the time left, at the pace of the last flush (took for tookSize records): never
// below size, at most 4·tookSize and limit.
func planDrain(size, limit, queued int, left, took time.Duration, tookSize int) int {
	fit := max(int64(left/2/took), 1) // flushes that fit in half the time left
	want := int((int64(queued) + fit - 1) / fit)
	return max(size, min(want, limit, 4*tookSize))
}
