package extension

import (
	"context"
	"log/slog"

	"{{ cookiecutter.go_module }}/extension/internal/config"
	"{{ cookiecutter.go_module }}/extension/internal/extapi"
)

// This bake has no Telemetry API code (the template's telemetry answer was no):
// no subscription is ever planned.
type telemetryPlan struct{}

func planTelemetry(Handler, *config.Reader, bool) *telemetryPlan { return nil }

func (*telemetryPlan) start(context.Context, *extapi.Client, *slog.Logger) (func(context.Context) error, error) {
	return nil, nil
}
