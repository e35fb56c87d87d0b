// Package processor is where this extension's own work lives: the one file to edit.
// It reads one package, extension, which runs the lifecycle around it.
//
// This is the async variant: New returns an extension.Batcher around two functions.
// For every INVOKE, Record runs on the event loop and its result is queued without
// blocking; Lambda gets the extension back in /event/next at once. A worker hands
// queued records to Flush in batches (by count and by age), and the queue is drained
// at SHUTDOWN before the deadline. (To switch to sync, return a handler whose Invoke
// does the work inline: see the README.)
//
// The worker only runs while the execution environment is thawed: a batch may wait
// for the next invocation, or for SHUTDOWN, to be flushed.
//
// Maintainer: {{ cookiecutter.author }}
package processor

import (
	"context"
	"log/slog"
	"time"

	"{{ cookiecutter.go_module }}/extension"
{%- if cookiecutter.telemetry %}
	"{{ cookiecutter.go_module }}/extension/telemetry"
{%- endif %}
)

// Processor does the extension's work. The demo logs each batch of invocation records
// as one JSON line, or, with {{ cookiecutter.__env_prefix }}SINK_URL set, ships the batch there and
// publishes how many records it shipped as a CloudWatch metric (EMF); replace Flush
// with your own.
type Processor struct {
	log         *slog.Logger
	invocations int             // only Record, on the event loop, touches it
	sink        *extension.Sink // nil without {{ cookiecutter.__env_prefix }}SINK_URL
	metrics     *extension.EMF
}

// New is called once, after the extension registered and before the first event.
// Read your settings here (x.Settings.Duration("CACHE_TTL", time.Minute) reads
// {{ cookiecutter.__env_prefix }}CACHE_TTL); a bad value is reported to Lambda for you.
// An error ends the extension's init.
func New(x *extension.Extension) (extension.Handler, error) {
{%- if cookiecutter.companion == "local-api" %}
	x.ServeLocalAPI(NewCache(x))
{%- elif cookiecutter.companion == "runtime-proxy" %}
	x.HookRuntime(NewAuditor(x))
{%- endif %}
	p := &Processor{
		log:     x.Log,
		sink:    extension.NewSink(x),
		metrics: x.EMF(x.Name, map[string]string{"FunctionName": x.FunctionName}),
	}
{%- if cookiecutter.telemetry %}
	return extension.NewBatcher(x, p.Record, p.Flush).WithTelemetry(p.Telemetry), nil
}

// Item is one queued record: an invocation's or a Telemetry API record.
type Item struct {
	Invocation *Record
	Telemetry  *telemetry.Record
}

// Record runs on the event loop for every INVOKE; keep it quick.
func (p *Processor) Record(ev extension.Event) Item {
	p.invocations++
	rec := NewRecord(ev, p.invocations, time.Now())
	return Item{Invocation: &rec}
}

// Telemetry decides which Telemetry API records join the queue. It leaves the
// extensions' own log lines out (this extension's included: forwarding them would
// feed its output back into itself).
func (p *Processor) Telemetry(rec telemetry.Record) (Item, bool) {
	if rec.Type == telemetry.TypeExtensionLog {
		return Item{}, false
	}
	return Item{Telemetry: &rec}, true
}

// Flush receives batches from the worker goroutine, and at SHUTDOWN from the drain;
// ctx ends at the flush policy's deadline (the invocation's with end, the SHUTDOWN
// deadline in the drain). An error counts the batch as failed.
func (p *Processor) Flush(ctx context.Context, batch []Item) error {
	if p.sink != nil {
		records := make([]any, 0, len(batch))
		for _, item := range batch {
			if item.Invocation != nil {
				records = append(records, item.Invocation)
			} else {
				records = append(records, item.Telemetry)
			}
		}
		return p.ship(ctx, records)
	}
	var invocations []Record
	for _, item := range batch {
		switch {
		case item.Invocation != nil:
			invocations = append(invocations, *item.Invocation)
		case item.Telemetry != nil:
			p.handleTelemetry(*item.Telemetry)
		}
	}
	if len(invocations) > 0 {
		p.log.Info("batch", "count", len(invocations), "records", invocations)
	}
	return nil
}
{%- else %}
	return extension.NewBatcher(x, p.Record, p.Flush), nil
}

// Record runs on the event loop for every INVOKE; keep it quick.
func (p *Processor) Record(ev extension.Event) Record {
	p.invocations++
	return NewRecord(ev, p.invocations, time.Now())
}

// Flush receives batches from the worker goroutine, and at SHUTDOWN from the drain;
// ctx ends at the flush policy's deadline (the invocation's with end, the SHUTDOWN
// deadline in the drain). An error counts the batch as failed.
func (p *Processor) Flush(ctx context.Context, batch []Record) error {
	if p.sink != nil {
		records := make([]any, len(batch))
		for i := range batch {
			records[i] = batch[i]
		}
		return p.ship(ctx, records)
	}
	p.log.Info("batch", "count", len(batch), "records", batch)
	return nil
}
{%- endif %}

// ship sends records to the sink and publishes how many went out: one EMF line per
// flush (per invocation with {{ cookiecutter.__env_prefix }}FLUSH=end).
func (p *Processor) ship(ctx context.Context, records []any) error {
	if err := p.sink.Send(ctx, records); err != nil {
		return err
	}
	return p.metrics.Emit(extension.Metric{Name: "RecordsShipped", Unit: "Count", Value: float64(len(records))})
}
