package main

import (
	"context"
	"fmt"
	"io"
{%- if cookiecutter.telemetry %}
	"os"
	"path/filepath"
	"strconv"
	"strings"
{%- endif %}
	"text/tabwriter"
{%- if cookiecutter.telemetry %}

	"{{ cookiecutter.go_module }}/extension"
	"{{ cookiecutter.go_module }}/tools/internal/emulator"
{%- endif %}
)

// Telemetry is the listener throughput test's figures, or why there are none.
//
// Each round runs the work extension (tools/bench/work, in this variant's mode, with
// BENCH_TELEMETRY=1 so that it subscribes) under the emulator for one invocation,
// after which the emulator delivers -telemetry-records function log records in
// batches of -telemetry-batch (the subscription's maxItems), POSTed back to back on
// loopback: the extension's listener and handler, as a processor gets them, taking
// records as fast as they can.
type Telemetry struct {
	Available   bool   `json:"available"`
	Reason      string `json:"reason,omitempty"`
	Description string `json:"description,omitempty"`
	Batch       int    `json:"batch"`
	// RecordsPerSec is records the listener answered 200 for per second of
	// delivery, per round (the emulator's clock).
	RecordsPerSec Summary `json:"records_per_s"`
	// Counts over all rounds.
	RecordsSent  int    `json:"records_sent"`
	RecordsTaken uint64 `json:"records_taken"`
	// From the extension's "records" line (async: the queue's counts, invocations
	// included).
	Dropped   uint64 `json:"dropped"`   // async: refused by the full queue
	Unflushed uint64 `json:"unflushed"` // async: still queued when the drain gave up
}

func writeTelemetryTable(out io.Writer, r *Results) {
	t := r.Telemetry
	if !t.Available {
		fmt.Fprintf(out, "\ntelemetry listener: %s\n", t.Reason)
		return
	}
	fmt.Fprintf(out, "\ntelemetry listener: %d rounds x %d records in batches of %d, POSTed back to back on loopback\n", r.Settings.Rounds, r.Settings.TelemetryRecords, t.Batch)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "taken/s (delivery)\ttaken/sent\tdropped (async queue)\tunflushed\tbudget")
	fmt.Fprintf(tw, "%s\t%d/%d\t%d\t%d\t%s\n", spread(t.RecordsPerSec, fmtRate),
		t.RecordsTaken, t.RecordsSent, t.Dropped, t.Unflushed, r.budget("telemetry_records_per_s"))
	tw.Flush()
}

func fmtRate(v float64) string { return fmt.Sprintf("%.0fk", v/1000) }
{%- if cookiecutter.telemetry %}

func benchTelemetry(ctx context.Context, o options, workBin, logDir string, say func(string, ...any)) (Telemetry, error) {
	t := Telemetry{
		Available:   true,
		Description: "the work extension's telemetry listener and handler taking the emulator's batches, POSTed back to back on loopback",
		Batch:       o.telBatch,
	}
	// The work extension in this variant's mode: async queues every record.
	mode := "{{ cookiecutter.processing }}"
	var rate []float64
	for r := range o.rounds {
		say("telemetry round %d/%d: %d records in batches of %d", r+1, o.rounds, o.telRecords, o.telBatch)
		logPath := filepath.Join(logDir, fmt.Sprintf("telemetry-round%d.log", r+1))
		log, err := os.Create(logPath)
		if err != nil {
			return t, err
		}
		rep, err := emulator.Run(ctx, emulator.Config{
			Binary:  workBin,
			Invokes: 1,
			Output:  log,
			Env: []string{
				"BENCH_MODE=" + mode, "BENCH_WORK=0", "BENCH_TELEMETRY=1",
				extension.Prefix + "TELEMETRY_PORT=0",
				extension.Prefix + "TELEMETRY_TIMEOUT_MS=25",
				extension.Prefix + "TELEMETRY_MAX_ITEMS=" + strconv.Itoa(o.telBatch),
				// Batches are cut at maxItems or maxBytes: let maxItems decide.
				extension.Prefix + "TELEMETRY_MAX_BYTES=1048576",
			},
			Telemetry: emulator.TelemetryConfig{Burst: o.telRecords},
		})
		log.Close()
		if err != nil {
			return t, err
		}
		tel := rep.Telemetry
		var problems []string
		problems = append(problems, rep.Violations...)
		if rep.Outcome != emulator.OutcomeClean {
			problems = append(problems, "outcome "+string(rep.Outcome))
		}
		if !tel.Subscribed {
			problems = append(problems, "the work extension did not subscribe")
		}
		if tel.Refused > 0 {
			problems = append(problems, fmt.Sprintf("%d batches refused: %s", tel.Refused, strings.Join(tel.Errors, "; ")))
		}
		if len(problems) > 0 {
			return t, fmt.Errorf("telemetry round %d: %s (extension output: %s)", r+1, strings.Join(problems, "; "), logPath)
		}
		st, err := readRecords(logPath)
		if err != nil {
			return t, fmt.Errorf("telemetry round %d: %w", r+1, err)
		}
		rate = append(rate, tel.BurstRecordsPerSecond)
		t.RecordsSent += o.telRecords
		t.RecordsTaken += uint64(tel.BurstRecords)
		t.Dropped += st.Dropped
		t.Unflushed += st.Unflushed
	}
	t.RecordsPerSec = summarize(rate)
	return t, nil
}
{%- else %}

func benchTelemetry(context.Context, options, string, string, func(string, ...any)) (Telemetry, error) {
	return Telemetry{Reason: "n/a in this variant: no telemetry listener (telemetry=no)"}, nil
}
{%- endif %}
