// Package processor is where this extension's own work lives: the one file to edit.
// It reads one package, extension, which runs the lifecycle around it.
//
// This is the sync variant: New returns the Processor itself as the handler, and
// Invoke runs before the extension asks Lambda for the next event, so its time is
// billed as the function's PostRuntimeExtensionsDuration and delays the next
// invocation. Keep it short. (To switch to async, return
// extension.NewBatcher(x, record, flush) instead: see the README.)
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

// Processor does the extension's work. The demo logs one JSON record per invocation,
// or, with {{ cookiecutter.__env_prefix }}SINK_URL set, ships it there inline and publishes the
// count as a CloudWatch metric (EMF); replace it with your own (ship metrics, refresh
// a cache, audit requests, ...).
type Processor struct {
	log         *slog.Logger
	invocations int
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
	return &Processor{
		log:     x.Log,
		sink:    extension.NewSink(x),
		metrics: x.EMF(x.Name, map[string]string{"FunctionName": x.FunctionName}),
	}, nil
}

// Invoke runs for every invocation of the function; ctx ends shortly before the
// invocation's deadline. An error is logged and counted as failed.
func (p *Processor) Invoke(ctx context.Context, ev extension.Event) error {
	p.invocations++
	rec := NewRecord(ev, p.invocations, time.Now())
	if p.sink == nil {
		p.log.Info("invocation", "record", rec)
		return nil
	}
	if err := p.sink.Send(ctx, []any{rec}); err != nil {
		return err
	}
	return p.metrics.Emit(extension.Metric{Name: "RecordsShipped", Unit: "Count", Value: 1})
}
{%- if cookiecutter.telemetry %}

// Telemetry receives the Telemetry API's batches, on the listener's goroutine,
// concurrently with Invoke: guard any state the two share.
func (p *Processor) Telemetry(ctx context.Context, batch []telemetry.Record) error {
	for _, rec := range batch {
		p.handleTelemetry(rec)
	}
	return nil
}
{%- endif %}

// Shutdown runs once when the execution environment shuts down; ctx ends before
// Lambda's deadline.
func (p *Processor) Shutdown(ctx context.Context, ev extension.Event) error {
	p.log.Info("processor stopped", "invocations", p.invocations)
	return nil
}
