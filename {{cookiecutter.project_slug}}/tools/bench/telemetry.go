package main

import (
	"context"
	"fmt"
	"io"
)

// Telemetry is the listener throughput test's figures, or why there are none.
type Telemetry struct {
	Available     bool    `json:"available"`
	Reason        string  `json:"reason,omitempty"`
	RecordsPerSec Summary `json:"records_per_s"`
}

func benchTelemetry(ctx context.Context, o options, say func(string, ...any)) (Telemetry, error) {
	return Telemetry{Available: false, Reason: "n/a in this variant: no telemetry listener (internal/telemetry)"}, nil
}

func writeTelemetryTable(out io.Writer, r *Results) {
	t := r.Telemetry
	if !t.Available {
		fmt.Fprintf(out, "\ntelemetry listener: %s\n", t.Reason)
		return
	}
}
