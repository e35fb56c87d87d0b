// Package processor is where this extension's own work lives: the one file to edit.
//
// The runner calls Invoke for every invocation of the function and Shutdown once when
// the execution environment shuts down. Registration, the event loop, deadlines and
// error reporting are wired in internal/ and need no changes.
//
// This is the sync variant: Invoke runs before the extension asks Lambda for the next
// event, so its time is billed as the function's PostRuntimeExtensionsDuration and
// delays the next invocation. Keep it short.
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

// Processor does the extension's work. The demo logs one JSON record per invocation;
// replace it with your own (ship metrics, refresh a cache, audit requests, ...).
type Processor struct {
	log         *slog.Logger
	invocations int
}

// New builds the processor during Init. An error here is reported to Lambda as an
// init error and the extension exits.
func New(cfg config.Config, log *slog.Logger) (*Processor, error) {
	return &Processor{log: log}, nil
}

// Invoke handles one INVOKE event. ctx ends shortly before the invocation's deadline.
func (p *Processor) Invoke(ctx context.Context, ev extapi.Event) error {
	p.invocations++
	p.log.Info("invocation", "record", NewRecord(ev, p.invocations, time.Now()))
	return nil
}

{% if cookiecutter.telemetry -%}
// Telemetry receives each batch Lambda delivers to the Telemetry API listener, one
// batch at a time, before the listener answers Lambda. It runs on the listener's
// goroutine, possibly while Invoke runs: guard any state both touch. Keep it short:
// Lambda drops records when the listener is slow (platform.logsDropped). By
// SHUTDOWN the listener has stopped, so Shutdown runs after the last batch.
func (p *Processor) Telemetry(ctx context.Context, batch []telemetry.Record) error {
	for _, rec := range batch {
		p.handleTelemetry(rec)
	}
	return nil
}

{% endif -%}
// Shutdown runs once at SHUTDOWN; ctx ends shortly before Lambda's deadline.
func (p *Processor) Shutdown(ctx context.Context, ev extapi.Event) error {
	p.log.Info("processor stopped", "invocations", p.invocations)
	return nil
}
