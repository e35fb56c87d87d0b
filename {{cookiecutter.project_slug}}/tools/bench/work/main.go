// Command work is a bench-only extension built on the project's extension package,
// with a handler whose work is a sleep (BENCH_WORK, default 50ms, per invocation).
// `make bench` runs it under the emulator to show what that work adds to every
// invocation, the PostRuntimeExtensionsDuration a function is billed for; the
// end-to-end tests (tools/e2e) run it as an extension whose behaviour does not
// depend on the processor you write.
//
//   - BENCH_MODE=sync (the default): a Handler that sleeps inline in Invoke, before
//     the next /event/next.
//   - BENCH_MODE=async (async bakes, async.go): an extension.Batcher (sized by the
//     same settings as the extension: QUEUE_SIZE, BATCH_SIZE, FLUSH_INTERVAL) whose
//     flush sleeps BENCH_WORK per invocation record in the batch and logs a debug
//     line "flushed". BENCH_RECORDS (default 1) is how many records it queues per
//     INVOKE: the invocation's and BENCH_RECORDS-1 more (no sleep for them), so one
//     INVOKE can fill the queue for a SHUTDOWN to drain.
//   - SINK_URL (the extension's setting): each mode also ships what it handled to
//     the sink, as a processor would (extension.NewSink).
//   - BENCH_TELEMETRY=1 (telemetry bakes, telemetry.go): the handler also implements
//     extension.TelemetryHandler, so the extension subscribes to the Telemetry API.
//     Sync takes each batch and does nothing with it; async queues every record with
//     the invocations' (no sleep for them).
//
// What happened to the work is the extension's own "records" line, logged at exit.
// It is never part of the layer.
package main

import (
	"context"
	"fmt"
	"os"
{%- if cookiecutter.processing == "async" %}
	"strconv"
{%- endif %}
	"time"

	"{{ cookiecutter.go_module }}/extension"
)

func main() {
	os.Exit(extension.Run(newHandler))
}

// modes builds the handler of each BENCH_MODE this bake has; async.go adds "async".
// With SINK_URL set (sink not nil), the work also ships what it handled there.
var modes = map[string]func(x *extension.Extension, work time.Duration, sink *extension.Sink) extension.Handler{
	"sync": newSync,
}

// telemetryCapable is a mode's handler that can gain the telemetry capability
// (telemetry.go gives the handlers that method in telemetry bakes).
type telemetryCapable interface {
	withTelemetry() extension.Handler
}

// newHandler reads the BENCH_* variables (not settings of the extension: they have no
// prefix) and returns the handler of the mode.
func newHandler(x *extension.Extension) (extension.Handler, error) {
	work := 50 * time.Millisecond
	if value := os.Getenv("BENCH_WORK"); value != "" {
		d, err := time.ParseDuration(value)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("BENCH_WORK must be a duration such as 50ms, got %q", value)
		}
		work = d
	}
{%- if cookiecutter.processing == "async" %}
	if value := os.Getenv("BENCH_RECORDS"); value != "" {
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 || n > 1_000_000 {
			return nil, fmt.Errorf("BENCH_RECORDS must be a number from 1 to 1000000, got %q", value)
		}
		recordsPerInvoke = n
	}
{%- endif %}
	mode := os.Getenv("BENCH_MODE")
	if mode == "" {
		mode = "sync"
	}
	newMode, ok := modes[mode]
	if !ok {
		return nil, fmt.Errorf("BENCH_MODE %q is not available in this variant", mode)
	}
	h := newMode(x, work, extension.NewSink(x))
	if os.Getenv("BENCH_TELEMETRY") == "1" {
		// In a bake without telemetry the handler stays as it is, so that one test
		// setup serves every bake.
		if capable, ok := h.(telemetryCapable); ok {
			h = capable.withTelemetry()
		} else {
			x.Log.Info("BENCH_TELEMETRY=1 ignored: this bake has no telemetry")
		}
	}
	return h, nil
}

// syncHandler sleeps inline in Invoke.
type syncHandler struct{ extension.InvokeFunc }

func newSync(_ *extension.Extension, work time.Duration, sink *extension.Sink) extension.Handler {
	return syncHandler{func(ctx context.Context, ev extension.Event) error {
		if err := sleep(ctx, work); err != nil || sink == nil {
			return err
		}
		return sink.Send(ctx, []any{invocation(ev)})
	}}
}

// invocation is what ships to the sink for an INVOKE.
func invocation(ev extension.Event) map[string]string {
	return map[string]string{"request_id": ev.RequestID}
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
