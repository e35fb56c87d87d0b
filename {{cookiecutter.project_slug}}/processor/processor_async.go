// Package processor is where this extension's own work lives: the one file to edit.
//
// This is the async variant. For every INVOKE the runner calls Record on the event
// loop and queues the result without blocking; Lambda gets the extension back in
// /event/next at once. A worker hands queued records to Flush in batches (by count and
// by age), and drains the queue at SHUTDOWN before the deadline. Registration, the
// queue, deadlines and error reporting are wired in internal/ and need no changes.
//
// The worker only runs while the execution environment is thawed: a batch may wait
// for the next invocation, or for SHUTDOWN, to be flushed.
package processor

import (
	"context"
	"log/slog"
	"time"

	"{{ cookiecutter.go_module }}/internal/config"
	"{{ cookiecutter.go_module }}/internal/extapi"
{%- if cookiecutter.telemetry %}
	"{{ cookiecutter.go_module }}/internal/telemetry"
{%- endif %}
)

// Processor does the extension's work. The demo logs each batch of invocation records
// as one JSON line; replace Flush with your own (send them to a metrics backend, ...).
type Processor struct {
	log         *slog.Logger
	invocations int
}

// New builds the processor during Init. An error here is reported to Lambda as an
// init error and the extension exits.
func New(cfg config.Config, log *slog.Logger) (*Processor, error) {
	return &Processor{log: log}, nil
}

{% if cookiecutter.telemetry -%}
// Item is one unit of queued work: an invocation, or a record Lambda delivered to the
// Telemetry API listener. Exactly one of the two is set.
type Item struct {
	Invocation *Record
	Telemetry  *telemetry.Record
}

// Record runs on the event loop for every INVOKE, before the extension asks for the
// next event: keep it cheap. The slow work belongs in Flush.
func (p *Processor) Record(ev extapi.Event) Item {
	p.invocations++
	rec := NewRecord(ev, p.invocations, time.Now())
	return Item{Invocation: &rec}
}

// Telemetry runs on the telemetry listener for every record Lambda delivers, before
// the record is queued: keep it cheap, and touch no state Record uses. Return false
// to leave a record out of the queue. The default keeps what handleTelemetry (in
// telemetry.go) uses and leaves out extension log lines, which include this
// extension's own.
func (p *Processor) Telemetry(rec telemetry.Record) (Item, bool) {
	if rec.Type == telemetry.TypeExtensionLog {
		return Item{}, false
	}
	return Item{Telemetry: &rec}, true
}

// Flush runs on the worker with up to BATCH_SIZE items. An error is logged and the
// batch is counted as failed; retry here if your destination needs it.
func (p *Processor) Flush(ctx context.Context, batch []Item) error {
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
{% else -%}
// Record runs on the event loop for every INVOKE, before the extension asks for the
// next event: keep it cheap. The slow work belongs in Flush.
func (p *Processor) Record(ev extapi.Event) Record {
	p.invocations++
	return NewRecord(ev, p.invocations, time.Now())
}

// Flush runs on the worker with up to BATCH_SIZE records. An error is logged and the
// batch is counted as failed; retry here if your destination needs it.
func (p *Processor) Flush(ctx context.Context, batch []Record) error {
	p.log.Info("batch", "count", len(batch), "records", batch)
	return nil
}
{% endif -%}
