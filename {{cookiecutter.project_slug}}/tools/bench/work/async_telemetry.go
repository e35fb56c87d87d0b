package main

import (
	"{{ cookiecutter.go_module }}/extension"
	"{{ cookiecutter.go_module }}/extension/telemetry"
)

// withTelemetry queues every Telemetry API record with the invocations' records.
func (h asyncHandler) withTelemetry() extension.Handler {
	return h.WithTelemetry(func(rec telemetry.Record) (item, bool) { return item{payload: rec}, true })
}
