// Package telemetry parses the records that Lambda's Telemetry API delivers to the
// extension: platform events (platform.start, platform.runtimeDone, platform.report
// with duration and memory, init and restore phases, platform.logsDropped...), the
// function's log lines and the extensions' log lines. A Handler that implements
// extension.TelemetryHandler receives them in batches.
package telemetry
