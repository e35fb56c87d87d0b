// Command work is a bench-only extension built on the project's extension package,
// with a handler whose work is a sleep (BENCH_WORK, default 50ms, per invocation).
// `make bench` runs it under the emulator to show what that work adds to every
// invocation, the PostRuntimeExtensionsDuration a function is billed for; the
// end-to-end tests (tools/e2e) run it as an extension whose behaviour does not
// depend on the processor you write.
//
//   - BENCH_MODE=sync (the default): a Handler that sleeps inline in Invoke, before
//     the next /event/next.
{%- if cookiecutter.processing == "async" %}
//   - BENCH_MODE=async: an extension.Batcher (sized by the same settings as the
//     extension: QUEUE_SIZE, BATCH_SIZE, FLUSH_INTERVAL) whose flush sleeps
//     BENCH_WORK per invocation record in the batch and logs a debug line "flushed".
{%- endif %}
{%- if cookiecutter.telemetry %}
//   - BENCH_TELEMETRY=1: the handler also implements extension.TelemetryHandler, so
//     the extension subscribes to the Telemetry API. Sync takes each batch and does
//     nothing with it{% if cookiecutter.processing == "async" %}; async queues every record with the invocations' (no sleep
//     for them){% endif %}.
{%- endif %}
//
// What happened to the work is the extension's own "records" line, logged at exit.
// It is never part of the layer.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"{{ cookiecutter.go_module }}/extension"
{%- if cookiecutter.telemetry %}
	"{{ cookiecutter.go_module }}/extension/telemetry"
{%- endif %}
)

func main() {
	os.Exit(extension.Run(newHandler))
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
{%- if cookiecutter.telemetry %}
	withTelemetry := os.Getenv("BENCH_TELEMETRY") == "1"
{%- endif %}
	// With SINK_URL set, the work also ships what it handled there.
	sink := extension.NewSink(x)
	switch mode := os.Getenv("BENCH_MODE"); mode {
	case "", "sync":
		h := extension.InvokeFunc(func(ctx context.Context, ev extension.Event) error {
			if err := sleep(ctx, work); err != nil || sink == nil {
				return err
			}
			return sink.Send(ctx, []any{invocation(ev)})
		})
{%- if cookiecutter.telemetry %}
		if withTelemetry {
			return syncTelemetry{h}, nil
		}
{%- endif %}
		return h, nil
{%- if cookiecutter.processing == "async" %}
	case "async":
		b := extension.NewBatcher(x, func(ev extension.Event) item { return item{invocation: true, payload: invocation(ev)} },
			func(ctx context.Context, batch []item) error {
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
{%- if cookiecutter.telemetry %}
		if withTelemetry {
			return b.WithTelemetry(func(rec telemetry.Record) (item, bool) { return item{payload: rec}, true }), nil
		}
{%- endif %}
		return b, nil
{%- endif %}
	default:
		return nil, fmt.Errorf("BENCH_MODE %q is not available in this variant", mode)
	}
}
{%- if cookiecutter.processing == "async" %}

// item is one queued record: an invocation's, or (with BENCH_TELEMETRY) a Telemetry
// API record's; payload is what ships to the sink.
type item struct {
	invocation bool
	payload    any
}
{%- endif %}
{%- if cookiecutter.telemetry %}

// syncTelemetry is the sync handler with the telemetry capability: it takes every
// batch as it comes.
type syncTelemetry struct{ extension.InvokeFunc }

func (syncTelemetry) Telemetry(context.Context, []telemetry.Record) error { return nil }
{%- endif %}

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
