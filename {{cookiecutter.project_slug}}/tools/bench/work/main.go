// Command work is a bench-only extension: the project's own runner{% if cookiecutter.processing == "async" %} and queue{% endif %}
// around a processor whose work is a sleep (BENCH_WORK, default 50ms, per invocation).
// `make bench` runs it under the emulator to show what that work adds to every
// invocation, the PostRuntimeExtensionsDuration a function is billed for:
//
//   - BENCH_MODE=sync: the work runs inline in Invoke, before the next /event/next.
{%- if cookiecutter.processing == "async" %}
//   - BENCH_MODE=async: Invoke offers a record to the project's queue (sized by the same
//     environment settings as the extension) and the worker sleeps BENCH_WORK per
//     record in each batch.
{%- endif %}
//
// When BENCH_STATS_FILE is set, the counts of work done are written there as JSON at
// SHUTDOWN. It is never part of the layer.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"{{ cookiecutter.go_module }}/extension/internal/config"
	"{{ cookiecutter.go_module }}/extension/internal/extapi"
{%- if cookiecutter.processing == "async" %}
	"{{ cookiecutter.go_module }}/extension/internal/queue"
{%- endif %}
	"{{ cookiecutter.go_module }}/internal/runner"
)

// Stats is what BENCH_STATS_FILE receives.
type Stats struct {
	Mode       string `json:"mode"`
	Invokes    uint64 `json:"invokes"`
	Worked     uint64 `json:"worked"`     // invocations whose work was done
	Dropped    uint64 `json:"dropped"`    // async: refused by the full queue
	Unfinished uint64 `json:"unfinished"` // async: queued or in a flush when the process exits
}

func main() {
	os.Exit(run())
}

func run() int {
	cfg, cfgErr := config.Load(os.LookupEnv)
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	work := 50 * time.Millisecond
	if value := os.Getenv("BENCH_WORK"); value != "" {
		d, err := time.ParseDuration(value)
		if err != nil || d < 0 {
			log.Error("BENCH_WORK must be a duration such as 50ms", "value", value)
			return 2
		}
		work = d
	}
	mode := os.Getenv("BENCH_MODE")
	statsFile := os.Getenv("BENCH_STATS_FILE")

	return runner.Main(context.Background(), runner.Options{
		Name:           filepath.Base(os.Args[0]),
		RuntimeAPI:     os.Getenv("AWS_LAMBDA_RUNTIME_API"),
		Log:            log,
		ShutdownMargin: cfg.ShutdownMargin,
		Setup: func(ctx context.Context, _ *extapi.Client, _ extapi.Registration) (runner.Handler, error) {
			if cfgErr != nil {
				return nil, runner.ConfigError(cfgErr)
			}
			h := &handler{stats: Stats{Mode: mode}, file: statsFile}
			switch mode {
			case "sync":
				h.invoke = func(ctx context.Context, _ extapi.Event) error {
					if err := sleep(ctx, work); err != nil {
						return err
					}
					h.worked.Add(1)
					return nil
				}
{%- if cookiecutter.processing == "async" %}
			case "async":
				q, err := queue.New(queue.Options{
					Capacity:      cfg.QueueSize,
					BatchSize:     cfg.BatchSize,
					FlushInterval: cfg.FlushInterval,
				}, func(ctx context.Context, batch []time.Time) error {
					if err := sleep(ctx, work*time.Duration(len(batch))); err != nil {
						return err
					}
					h.worked.Add(uint64(len(batch)))
					return nil
				}, log)
				if err != nil {
					return nil, err
				}
				q.Start(context.WithoutCancel(ctx))
				qh := queue.NewHandler(q, func(extapi.Event) time.Time { return time.Now() }, log)
				h.invoke = qh.Invoke
				h.shutdown = func(ctx context.Context) {
					h.stats.Dropped = q.Drain(ctx).Dropped
				}
{%- endif %}
			default:
				return nil, fmt.Errorf("BENCH_MODE %q is not available in this variant", mode)
			}
			return h, nil
		},
	})
}

// handler counts invocations around the mode's work.
type handler struct {
	invoke   func(ctx context.Context, ev extapi.Event) error
	shutdown func(ctx context.Context)
	worked   atomic.Uint64
	stats    Stats
	file     string
}

func (h *handler) Invoke(ctx context.Context, ev extapi.Event) error {
	h.stats.Invokes++
	return h.invoke(ctx, ev)
}

func (h *handler) Shutdown(ctx context.Context, _ extapi.Event) error {
	if h.shutdown != nil {
		h.shutdown(ctx)
	}
	if h.file == "" {
		return nil
	}
	h.stats.Worked = h.worked.Load()
	// Whatever was neither done nor dropped is lost when the process exits: still
	// queued, or in a flush that the shutdown deadline cut short.
	h.stats.Unfinished = h.stats.Invokes - h.stats.Worked - h.stats.Dropped
	data, err := json.Marshal(h.stats)
	if err != nil {
		return fmt.Errorf("write stats: %w", err)
	}
	if err := os.WriteFile(h.file, data, 0o644); err != nil {
		return fmt.Errorf("write stats: %w", err)
	}
	return nil
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
