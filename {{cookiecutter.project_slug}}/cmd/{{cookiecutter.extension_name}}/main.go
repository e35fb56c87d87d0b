// Command {{ cookiecutter.extension_name }} is an AWS Lambda extension. This file only wires the
// parts together; the extension's own work lives in processor/processor.go.
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
{%- if cookiecutter.telemetry %}
	"strings"
{%- endif %}
	"syscall"

	"{{ cookiecutter.go_module }}/internal/config"
	"{{ cookiecutter.go_module }}/internal/extapi"
{%- if cookiecutter.processing == "async" %}
	"{{ cookiecutter.go_module }}/internal/queue"
{%- endif %}
	"{{ cookiecutter.go_module }}/internal/runner"
{%- if cookiecutter.telemetry %}
	"{{ cookiecutter.go_module }}/internal/telemetry"
{%- endif %}
	"{{ cookiecutter.go_module }}/processor"
)

func main() {
	os.Exit(run())
}

func run() int {
	// SIGINT and SIGTERM end local runs cleanly; in Lambda, SHUTDOWN ends the process.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg, cfgErr := config.Load(os.LookupEnv)
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))

	return runner.Main(ctx, runner.Options{
		// Lambda matches the registered name against the file in /opt/extensions.
		Name:           filepath.Base(os.Args[0]),
		RuntimeAPI:     os.Getenv("AWS_LAMBDA_RUNTIME_API"),
		Log:            log,
		ShutdownMargin: cfg.ShutdownMargin,
		Setup: func(ctx context.Context, client *extapi.Client, reg extapi.Registration) (runner.Handler, error) {
			if cfgErr != nil {
				return nil, runner.ConfigError(cfgErr)
			}
			proc, err := processor.New(cfg, log)
			if err != nil {
				return nil, err
			}
{%- if cookiecutter.processing == "async" %}
			q, err := queue.New(queue.Options{
				Capacity:      cfg.QueueSize,
				BatchSize:     cfg.BatchSize,
				FlushInterval: cfg.FlushInterval,
			}, proc.Flush, log)
			if err != nil {
				return nil, err
			}
			q.Start(context.WithoutCancel(ctx))
{%- if cookiecutter.telemetry %}
			handler := queue.NewHandler(q, proc.Record, log)
			// Telemetry records go through the same queue as invocations.
			session, err := telemetry.Open(ctx, client, telemetryOptions(cfg), func(_ context.Context, batch []telemetry.Record) error {
				for _, rec := range batch {
					if item, ok := proc.Telemetry(rec); ok {
						handler.Offer(item, "telemetry_type", rec.Type)
					}
				}
				return nil
			}, log)
			if err != nil {
				return nil, err
			}
			return telemetry.NewHandler(handler, session), nil
{%- else %}
			return queue.NewHandler(q, proc.Record, log), nil
{%- endif %}
{%- elif cookiecutter.telemetry %}
			// Telemetry batches reach the processor on the listener's goroutine.
			session, err := telemetry.Open(ctx, client, telemetryOptions(cfg), proc.Telemetry, log)
			if err != nil {
				return nil, err
			}
			return telemetry.NewHandler(proc, session), nil
{%- else %}
			return proc, nil
{%- endif %}
		},
	})
}
{%- if cookiecutter.telemetry %}

// telemetryOptions turns the configuration into the Telemetry API subscription.
func telemetryOptions(cfg config.Config) telemetry.Options {
	return telemetry.Options{
		Types: strings.Split(cfg.TelemetryTypes, ","),
		Buffering: telemetry.Buffering{
			MaxItems:  cfg.TelemetryMaxItems,
			MaxBytes:  cfg.TelemetryMaxBytes,
			TimeoutMs: cfg.TelemetryTimeoutMs,
		},
		Port: cfg.TelemetryPort,
	}
}
{%- endif %}
