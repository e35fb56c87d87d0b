package extension

import (
	"context"
	"fmt"
	"log/slog"

	"{{ cookiecutter.go_module }}/extension/internal/config"
	"{{ cookiecutter.go_module }}/extension/internal/extapi"
	"{{ cookiecutter.go_module }}/extension/internal/telemetryapi"
	"{{ cookiecutter.go_module }}/extension/telemetry"
)

// TelemetryHandler is the optional capability of a Handler that wants Lambda's
// Telemetry API: platform events (invocation reports, init, drops), the function's
// log lines and the extensions' log lines. When the constructor's Handler has this
// method, Run starts a listener and subscribes before the first event.
//
// Telemetry runs on the listener's goroutine, concurrently with Invoke; an error
// answers Lambda's delivery with a 500 (Lambda then retries or drops the batch).
// At SHUTDOWN the listener takes what Lambda still delivers and stops before the
// handler's Shutdown runs, so Shutdown sees every batch.
type TelemetryHandler interface {
	Telemetry(ctx context.Context, batch []telemetry.Record) error
}

// Defaults of the telemetry settings.
const (
	defaultTelemetryPort      = 4243
	defaultTelemetryMaxItems  = telemetryapi.MinMaxItems
	defaultTelemetryMaxBytes  = telemetryapi.MinMaxBytes
	defaultTelemetryTimeoutMs = 100
)

var telemetryCategories = []string{telemetryapi.CategoryPlatform, telemetryapi.CategoryFunction, telemetryapi.CategoryExtension}

// telemetryPlan is a subscription the handler asked for, its settings read.
type telemetryPlan struct {
	handler TelemetryHandler
	opts    telemetryapi.Options
}

// planTelemetry reads the telemetry settings when h implements TelemetryHandler;
// nil otherwise. On Lambda Managed Instances (lmi) it subscribes with the schema
// that environment takes.
func planTelemetry(h Handler, env *config.Reader, lmi bool) *telemetryPlan {
	th, ok := h.(TelemetryHandler)
	if !ok {
		return nil
	}
	schema := telemetryapi.SchemaVersion
	if lmi {
		schema = telemetryapi.SchemaVersionLMI
	}
	opts := telemetryapi.Options{
		SchemaVersion: schema,
		Types:         env.List("TELEMETRY_TYPES", telemetryCategories, telemetryCategories),
		Buffering: telemetryapi.Buffering{
			MaxItems:  env.Int("TELEMETRY_MAX_ITEMS", defaultTelemetryMaxItems, telemetryapi.MinMaxItems, telemetryapi.MaxMaxItems),
			MaxBytes:  env.Int("TELEMETRY_MAX_BYTES", defaultTelemetryMaxBytes, telemetryapi.MinMaxBytes, telemetryapi.MaxMaxBytes),
			TimeoutMs: env.Int("TELEMETRY_TIMEOUT_MS", defaultTelemetryTimeoutMs, telemetryapi.MinTimeoutMs, telemetryapi.MaxTimeoutMs),
		},
		// 0 takes any free port: several extensions run at once locally and in tests.
		Port: env.Int("TELEMETRY_PORT", defaultTelemetryPort, 0, 65535),
	}
	if opts.Port != 0 {
		if err := telemetryapi.ValidatePort(opts.Port); err != nil {
			env.Fail("TELEMETRY_PORT", fmt.Sprintf("must be 0 (any free port) or from 1024 to 65535 and not %d (the Runtime API's), got %d", telemetryapi.ReservedPort, opts.Port))
			opts.Port = defaultTelemetryPort
		}
	}
	return &telemetryPlan{handler: th, opts: opts}
}

// start opens the subscription and returns what stops its listener at SHUTDOWN;
// nil, nil when no subscription was planned.
func (p *telemetryPlan) start(ctx context.Context, client *extapi.Client, log *slog.Logger) (func(context.Context) error, error) {
	if p == nil {
		return nil, nil
	}
	session, err := telemetryapi.Open(ctx, client, p.opts, p.handler.Telemetry, log)
	if err != nil {
		return nil, err
	}
	return session.Stop, nil
}
