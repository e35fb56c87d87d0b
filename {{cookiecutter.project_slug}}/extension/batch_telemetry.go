package extension

import (
	"context"
	"sync"

	"{{ cookiecutter.go_module }}/extension/telemetry"
)

// WithTelemetry returns a Handler that also queues Telemetry API records into b:
// into turns each record into an item, or reports false to leave it out. Dropped
// records are counted and logged like the invocations' records. The "end" flush
// waits for the request's platform.runtimeDone (PREFIX_FLUSH_WAIT at most), so the
// function's log lines are in its batch.
func (b *Batcher[T]) WithTelemetry(into func(telemetry.Record) (T, bool)) Handler {
	t := &telemetryBatcher[T]{Batcher: b, into: into}
	b.runtimeDone = t.done.wait
	return t
}

type telemetryBatcher[T any] struct {
	*Batcher[T]
	into func(telemetry.Record) (T, bool)
	done runtimeDoneSeen
}

// Telemetry queues the batch's records; it never blocks on a full queue. A
// platform.runtimeDone is announced after the whole batch is queued.
func (t *telemetryBatcher[T]) Telemetry(_ context.Context, batch []telemetry.Record) error {
	for _, rec := range batch {
		if item, ok := t.into(rec); ok {
			t.Offer(item, "telemetry_type", rec.Type)
		}
	}
	for _, rec := range batch {
		if done, ok := rec.Body.(*telemetry.RuntimeDone); ok && done.RequestID != "" {
			t.done.saw(done.RequestID)
		}
	}
	return nil
}

// maxRuntimeDoneSeen bounds how many request ids nobody waited for are remembered.
const maxRuntimeDoneSeen = 64

// runtimeDoneSeen tells waiters when the platform.runtimeDone of their request
// arrived, whether before or after they started waiting.
type runtimeDoneSeen struct {
	mu    sync.Mutex
	chans map[string]chan struct{} // closed once the request's runtimeDone arrived
	order []string                 // ids seen, oldest first, to forget the oldest
}

func (s *runtimeDoneSeen) chanOf(requestID string) chan struct{} {
	if s.chans == nil {
		s.chans = make(map[string]chan struct{})
	}
	c, ok := s.chans[requestID]
	if !ok {
		c = make(chan struct{})
		s.chans[requestID] = c
	}
	return c
}

func (s *runtimeDoneSeen) saw(requestID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chanOf(requestID)
	select {
	case <-c:
		return // a duplicate
	default:
		close(c)
	}
	s.order = append(s.order, requestID)
	if len(s.order) > maxRuntimeDoneSeen {
		delete(s.chans, s.order[0])
		s.order = s.order[1:]
	}
}

// wait returns once requestID's runtimeDone arrived or ctx ended.
func (s *runtimeDoneSeen) wait(ctx context.Context, requestID string) {
	s.mu.Lock()
	c := s.chanOf(requestID)
	s.mu.Unlock()
	select {
	case <-c:
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.chans[requestID] == c {
		select {
		case <-c: // stays in order; forgotten with the oldest
		default:
			delete(s.chans, requestID) // never arrived: forget the waiter's channel
		}
	}
}
