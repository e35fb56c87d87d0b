// Command {{ cookiecutter.extension_name }} is an AWS Lambda extension. This file only wires the
// parts together; the extension's own work lives in processor/processor.go.
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"{{ cookiecutter.go_module }}/internal/config"
	"{{ cookiecutter.go_module }}/internal/extapi"
{%- if cookiecutter.processing == "async" %}
	"{{ cookiecutter.go_module }}/internal/queue"
{%- endif %}
	"{{ cookiecutter.go_module }}/internal/runner"
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
			return queue.NewHandler(q, proc.Record, log), nil
{%- else %}
			return proc, nil
{%- endif %}
		},
	})
}
