package extension

import (
	"context"

	"{{ cookiecutter.go_module }}/extension/telemetry"
)

// WithTelemetry returns a Handler that also queues Telemetry API records into b:
// into turns each record into an item, or reports false to leave it out. Dropped
// records are counted and logged like the invocations' records.
func (b *Batcher[T]) WithTelemetry(into func(telemetry.Record) (T, bool)) Handler {
	return &telemetryBatcher[T]{Batcher: b, into: into}
}

type telemetryBatcher[T any] struct {
	*Batcher[T]
	into func(telemetry.Record) (T, bool)
}

// Telemetry queues the batch's records; it never blocks on a full queue.
func (t *telemetryBatcher[T]) Telemetry(_ context.Context, batch []telemetry.Record) error {
	for _, rec := range batch {
		if item, ok := t.into(rec); ok {
			t.Offer(item, "telemetry_type", rec.Type)
		}
	}
	return nil
}
