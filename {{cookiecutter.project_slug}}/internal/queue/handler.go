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

// Invoke queues the event's record; a full queue drops it, and the drop is logged on
// the 1st, 2nd, 4th, 8th... occurrence so a burst cannot flood the logs.
func (h *Handler[T]) Invoke(_ context.Context, ev extapi.Event) error {
	if h.queue.Offer(h.record(ev)) {
		return nil
	}
	if dropped := h.queue.Stats().Dropped; dropped&(dropped-1) == 0 {
		h.log.Warn("queue full, record dropped", "request_id", ev.RequestID, "dropped_total", dropped)
	}
	return nil
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
