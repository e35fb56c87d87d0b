package main

import (
	"context"

	"{{ cookiecutter.go_module }}/extension"
	"{{ cookiecutter.go_module }}/extension/telemetry"
)

// syncTelemetry is the sync handler with the telemetry capability: it takes every
// batch as it comes.
type syncTelemetry struct{ syncHandler }

func (syncTelemetry) Telemetry(context.Context, []telemetry.Record) error { return nil }

func (h syncHandler) withTelemetry() extension.Handler { return syncTelemetry{h} }
