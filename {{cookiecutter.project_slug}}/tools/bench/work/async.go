package main

import (
	"context"
	"time"

	"{{ cookiecutter.go_module }}/extension"
)

func init() { modes["async"] = newAsync }

// item is one queued record: an invocation's, or (with BENCH_TELEMETRY) a Telemetry
// API record's.
type item struct{ invocation bool }

// asyncHandler is the Batcher of the async mode; it counts records for the records
// line as the Batcher does.
type asyncHandler struct{ *extension.Batcher[item] }

func newAsync(x *extension.Extension, work time.Duration) extension.Handler {
	return asyncHandler{extension.NewBatcher(x, func(extension.Event) item { return item{invocation: true} },
		func(ctx context.Context, batch []item) error {
			n := 0
			for _, it := range batch {
				if it.invocation {
					n++
				}
			}
			if err := sleep(ctx, work*time.Duration(n)); err != nil {
				return err
			}
			x.Log.Debug("flushed", "records", len(batch), "invocations", n)
			return nil
		})}
}
