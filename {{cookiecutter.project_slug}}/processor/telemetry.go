package processor

import "{{ cookiecutter.go_module }}/extension/telemetry"

// handleTelemetry is the default processing of one record from the Telemetry API:
//
//   - platform.report: one line per invocation with its status, duration, billed
//     duration, memory, and the init duration on a cold start;
//   - function: the function's log line, forwarded as one line (ship it to your log
//     backend here instead);
//   - platform.logsDropped: a warning that Lambda dropped records because the
//     extension did not keep up.
//
// Every other record is left alone. Never log once per extension record: what this
// extension logs reaches the Telemetry API as extension records, and each line would
// come back in the next batch, without end.
func (p *Processor) handleTelemetry(rec telemetry.Record) {
	switch body := rec.Body.(type) {
	case *telemetry.Report:
		m := body.Metrics
		attrs := []any{
			"request_id", body.RequestID,
			"status", body.Status,
			"duration_ms", m.DurationMs,
			"billed_duration_ms", m.BilledDurationMs,
			"memory_size_mb", m.MemorySizeMB,
			"max_memory_used_mb", m.MaxMemoryUsedMB,
		}
		if m.InitDurationMs != nil {
			attrs = append(attrs, "init_duration_ms", *m.InitDurationMs)
		}
		if body.ErrorType != "" {
			attrs = append(attrs, "error_type", body.ErrorType)
		}
		p.log.Info("invocation report", attrs...)
	case *telemetry.Log:
		if rec.Type != telemetry.TypeFunction {
			return // an extension's log line, maybe this extension's own: see above
		}
		attrs := []any{"message", body.Message, "logged_at", rec.Time}
		if body.Level != "" {
			attrs = append(attrs, "function_level", body.Level)
		}
		if body.RequestID != "" {
			attrs = append(attrs, "request_id", body.RequestID)
		}
		p.log.Info("function log", attrs...)
	case *telemetry.LogsDropped:
		p.log.Warn("Lambda dropped telemetry records", "reason", body.Reason,
			"dropped_records", body.DroppedRecords, "dropped_bytes", body.DroppedBytes)
	}
}
