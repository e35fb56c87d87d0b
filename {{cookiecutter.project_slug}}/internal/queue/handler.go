package queue

import (
	"context"
	"log/slog"

	"{{ cookiecutter.go_module }}/internal/extapi"
)

// Handler adapts a Queue to the runner: INVOKE turns the event into a record and offers
// it without blocking, SHUTDOWN drains the queue before the deadline.
type Handler[T any] struct {
	queue  *Queue[T]
	record func(extapi.Event) T
	log    *slog.Logger
}

// NewHandler returns a runner.Handler that queues record(ev) for every INVOKE.
func NewHandler[T any](q *Queue[T], record func(extapi.Event) T, log *slog.Logger) *Handler[T] {
	return &Handler[T]{queue: q, record: record, log: log}
}

// Invoke queues the event's record without blocking (see Offer).
func (h *Handler[T]) Invoke(_ context.Context, ev extapi.Event) error {
	h.Offer(h.record(ev), "request_id", ev.RequestID)
	return nil
}

// Offer queues item without blocking, from any goroutine (the event loop, or the
// telemetry listener). A full queue drops it, and the drop is logged, with attrs, on
// the 1st, 2nd, 4th, 8th... occurrence so a burst cannot flood the logs.
func (h *Handler[T]) Offer(item T, attrs ...any) bool {
	if h.queue.Offer(item) {
		return true
	}
	if dropped := h.queue.Stats().Dropped; dropped&(dropped-1) == 0 {
		h.log.Warn("queue full, record dropped", append(attrs, "dropped_total", dropped)...)
	}
	return false
}

// Shutdown drains the queue until ctx ends and logs the final counts.
func (h *Handler[T]) Shutdown(ctx context.Context, _ extapi.Event) error {
	stats := h.queue.Drain(ctx)
	attrs := []any{
		"flushed", stats.Flushed, "failed", stats.Failed,
		"dropped", stats.Dropped, "unflushed", stats.Unflushed,
	}
	if stats.Unflushed > 0 {
		h.log.Warn("queue drained before deadline with records left", attrs...)
	} else {
		h.log.Info("queue drained", attrs...)
	}
	return nil
}
