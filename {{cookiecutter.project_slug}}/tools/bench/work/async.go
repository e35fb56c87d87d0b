package main

import (
	"context"
	"time"

	"{{ cookiecutter.go_module }}/extension"
)

func init() { modes["async"] = newAsync }

// recordsPerInvoke is BENCH_RECORDS (read in main.go): the records the async mode
// queues per INVOKE.
var recordsPerInvoke = 1

// item is one queued record: an invocation's, or (with BENCH_TELEMETRY) a Telemetry
// API record's; payload is what ships to the sink.
type item struct {
	invocation bool
	payload    any
}

// asyncHandler is the Batcher of the async mode; it counts records for the records
// line as the Batcher does.
type asyncHandler struct{ *extension.Batcher[item] }

func newAsync(x *extension.Extension, work time.Duration, sink *extension.Sink) extension.Handler {
	var b *extension.Batcher[item]
	record := func(ev extension.Event) item {
		// BENCH_RECORDS: the extra records go to the queue before the invocation's.
		for i := 1; i < recordsPerInvoke; i++ {
			b.Offer(item{payload: map[string]any{"request_id": ev.RequestID, "extra": i}})
		}
		return item{invocation: true, payload: invocation(ev)}
	}
	b = extension.NewBatcher(x, record, func(ctx context.Context, batch []item) error {
		n := 0
		payloads := make([]any, 0, len(batch))
		for _, it := range batch {
			if it.invocation {
				n++
			}
			payloads = append(payloads, it.payload)
		}
		if err := sleep(ctx, work*time.Duration(n)); err != nil {
			return err
		}
		if sink != nil {
			if err := sink.Send(ctx, payloads); err != nil {
				return err
			}
		}
		x.Log.Debug("flushed", "records", len(batch), "invocations", n)
		return nil
	})
	return asyncHandler{b}
}
