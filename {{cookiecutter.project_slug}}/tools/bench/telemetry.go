package main

import (
	"bytes"
	"context"
	"encoding/json"
{%- if cookiecutter.telemetry %}
	"errors"
{%- endif %}
	"fmt"
	"io"
{%- if cookiecutter.telemetry %}
	"log/slog"
	"net/http"
{%- endif %}
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
{%- if cookiecutter.telemetry %}

	"{{ cookiecutter.go_module }}/extension/internal/config"
{%- if cookiecutter.processing == "async" %}
	"{{ cookiecutter.go_module }}/extension/internal/queue"
{%- endif %}
	"{{ cookiecutter.go_module }}/internal/telemetry"
	"{{ cookiecutter.go_module }}/processor"
{%- endif %}
)

// Telemetry is the listener throughput test's figures, or why there are none.
//
// Each round runs in a child process (the bench with -telemetry-session): the project's
// telemetry listener, wired to the project's processor as cmd/ wires them (async: through
// the queue), takes -telemetry-records records in batches of -telemetry-batch, POSTed
// one batch at a time on loopback as Lambda delivers them.
type Telemetry struct {
	Available   bool   `json:"available"`
	Reason      string `json:"reason,omitempty"`
	Description string `json:"description,omitempty"`
	Batch       int    `json:"batch"`
	// RecordsPerSec is records taken by the listener (and, in sync, processed) per
	// second of delivery, per round.
	RecordsPerSec Summary `json:"records_per_s"`
	// ProcessedPerSec is records the processor finished per second from the first
	// delivery to the end of processing (async: the queue drained), per round.
	ProcessedPerSec Summary `json:"processed_per_s"`
	// Counts over all rounds.
	RecordsSent  int    `json:"records_sent"`
	RecordsTaken uint64 `json:"records_taken"`
	Dropped      uint64 `json:"dropped"`   // async: refused by the full queue
	Unflushed    uint64 `json:"unflushed"` // async: still queued when the drain gave up
}

// telemetryRequest is what the bench sends a telemetry session on stdin.
type telemetryRequest struct {
	Records int    `json:"records"`
	Batch   int    `json:"batch"`
	Log     string `json:"log"` // file for the processor's log lines
}

// telemetryResult is what a telemetry session answers on stdout.
type telemetryResult struct {
	Taken     uint64        `json:"taken"`
	Delivery  time.Duration `json:"delivery"`  // first POST to last answer
	Processed uint64        `json:"processed"` // records the processor finished
	Done      time.Duration `json:"done"`      // first POST to processing done
	Dropped   uint64        `json:"dropped"`
	Unflushed uint64        `json:"unflushed"`
}

func benchTelemetry(ctx context.Context, o options, logDir string, say func(string, ...any)) (Telemetry, error) {
	t := Telemetry{
		Available:   telemetryAvailable,
		Description: "the project's telemetry listener and processor taking batches POSTed one at a time on loopback",
		Batch:       o.telBatch,
	}
	if !t.Available {
		t.Reason = "n/a in this variant: no telemetry listener (internal/telemetry is absent: telemetry=false)"
		return t, nil
	}
	var rate, processed []float64
	for r := range o.rounds {
		say("telemetry round %d/%d: %d records in batches of %d", r+1, o.rounds, o.telRecords, o.telBatch)
		res, err := runTelemetrySession(ctx, telemetryRequest{
			Records: o.telRecords,
			Batch:   o.telBatch,
			Log:     filepath.Join(logDir, fmt.Sprintf("telemetry-round%d.log", r+1)),
		})
		if err != nil {
			return t, err
		}
		rate = append(rate, float64(res.Taken)/res.Delivery.Seconds())
		processed = append(processed, float64(res.Processed)/res.Done.Seconds())
		t.RecordsSent += o.telRecords
		t.RecordsTaken += res.Taken
		t.Dropped += res.Dropped
		t.Unflushed += res.Unflushed
	}
	t.RecordsPerSec = summarize(rate)
	t.ProcessedPerSec = summarize(processed)
	return t, nil
}

func runTelemetrySession(ctx context.Context, req telemetryRequest) (telemetryResult, error) {
	self, err := os.Executable()
	if err != nil {
		return telemetryResult{}, fmt.Errorf("telemetry session: %w", err)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return telemetryResult{}, fmt.Errorf("telemetry session: %w", err)
	}
	cmd := exec.CommandContext(ctx, self, "-telemetry-session")
	cmd.Stdin = bytes.NewReader(body)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return telemetryResult{}, fmt.Errorf("telemetry session: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var res telemetryResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return telemetryResult{}, fmt.Errorf("telemetry session: read result: %w", err)
	}
	return res, nil
}

// telemetrySessionMain is the -telemetry-session mode.
func telemetrySessionMain(stdin io.Reader, stdout, stderr io.Writer) int {
	var req telemetryRequest
	if err := json.NewDecoder(stdin).Decode(&req); err != nil {
		fmt.Fprintf(stderr, "bench telemetry session: read request: %v\n", err)
		return 2
	}
	res, err := runTelemetry(context.Background(), req)
	if err != nil {
		fmt.Fprintf(stderr, "bench telemetry session: %v\n", err)
		return 1
	}
	if err := json.NewEncoder(stdout).Encode(res); err != nil {
		fmt.Fprintf(stderr, "bench telemetry session: write result: %v\n", err)
		return 1
	}
	return 0
}

func writeTelemetryTable(out io.Writer, r *Results) {
	t := r.Telemetry
	if !t.Available {
		fmt.Fprintf(out, "\ntelemetry listener: %s\n", t.Reason)
		return
	}
	fmt.Fprintf(out, "\ntelemetry listener: %d rounds x %d records in batches of %d, POSTed one at a time on loopback\n", r.Settings.Rounds, r.Settings.TelemetryRecords, t.Batch)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "taken/s (delivery)\tprocessed/s\ttaken/sent\tdropped (async queue)\tunflushed\ttarget")
	fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%d\t%d\t%s\n", spread(t.RecordsPerSec, fmtRate), spread(t.ProcessedPerSec, fmtRate),
		t.RecordsTaken, t.RecordsSent, t.Dropped, t.Unflushed, r.target("telemetry_records_per_s"))
	tw.Flush()
}

func fmtRate(v float64) string { return fmt.Sprintf("%.0fk", v/1000) }
{%- if cookiecutter.telemetry %}

const telemetryAvailable = true

// runTelemetry wires the listener to the processor the way cmd/ does, delivers the
// records and waits until the processor has them all (or the queue dropped them).
func runTelemetry(ctx context.Context, req telemetryRequest) (telemetryResult, error) {
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return telemetryResult{}, err
	}
	logFile, err := os.Create(req.Log)
	if err != nil {
		return telemetryResult{}, err
	}
	defer logFile.Close()
	log := slog.New(slog.NewJSONHandler(logFile, &slog.HandlerOptions{Level: cfg.LogLevel}))
	proc, err := processor.New(cfg, log)
	if err != nil {
		return telemetryResult{}, err
	}
{%- if cookiecutter.processing == "async" %}
	q, err := queue.New(queue.Options{
		Capacity:      cfg.QueueSize,
		BatchSize:     cfg.BatchSize,
		FlushInterval: cfg.FlushInterval,
	}, proc.Flush, log)
	if err != nil {
		return telemetryResult{}, err
	}
	q.Start(ctx)
	handler := queue.NewHandler(q, proc.Record, log)
	kept := uint64(0) // records the processor keeps; only the listener's goroutine writes it
	sink := func(_ context.Context, batch []telemetry.Record) error {
		for _, rec := range batch {
			if item, ok := proc.Telemetry(rec); ok {
				kept++
				handler.Offer(item, "telemetry_type", rec.Type)
			}
		}
		return nil
	}
{%- else %}
	sink := proc.Telemetry
{%- endif %}
	l, err := telemetry.Listen(ctx, telemetry.ListenOptions{
		MaxBodyBytes: telemetry.MaxBodyBytes(cfg.TelemetryMaxBytes),
		// sandbox.localdomain only resolves in Lambda: listen on loopback at once.
		LookupHost: func(context.Context, string) ([]string, error) {
			return nil, errors.New("bench: listening on loopback")
		},
	}, sink, log)
	if err != nil {
		return telemetryResult{}, err
	}
	url := "http://" + l.Addr().String() + telemetry.ListenPath
	batches := telemetryBatches(req.Records, req.Batch)

	client := &http.Client{}
	started := time.Now()
	for _, body := range batches {
		resp, err := client.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			return telemetryResult{}, fmt.Errorf("deliver: %w", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return telemetryResult{}, fmt.Errorf("deliver: listener answered %d", resp.StatusCode)
		}
	}
	res := telemetryResult{Delivery: time.Since(started)}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := l.Stop(sctx); err != nil {
		return telemetryResult{}, err
	}
	res.Taken = l.Stats().Records
{%- if cookiecutter.processing == "async" %}
	stats := q.Drain(sctx)
	res.Dropped, res.Unflushed = stats.Dropped, stats.Unflushed
	res.Processed = stats.Flushed
	if kept < res.Taken {
		// Records the processor chose not to queue (extension log lines) were
		// handled too: count them as processed.
		res.Processed += res.Taken - kept
	}
{%- else %}
	res.Processed = res.Taken
{%- endif %}
	res.Done = time.Since(started)
	return res, nil
}

// telemetryBatches builds the JSON bodies Lambda would POST: per invocation a
// platform.start, six function log lines, one extension log line, a
// platform.runtimeDone and a platform.report, repeated up to records.
func telemetryBatches(records, batch int) [][]byte {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var bodies [][]byte
	var buf bytes.Buffer
	n := 0
	for i := 0; i < records; i++ {
		if n == 0 {
			buf.Reset()
			buf.WriteByte('[')
		} else {
			buf.WriteByte(',')
		}
		invocation := i / 10
		requestID := fmt.Sprintf("6f0e1b36-2c4f-4c7b-9f7a-%012d", invocation)
		when := at.Add(time.Duration(i) * time.Millisecond).Format(time.RFC3339Nano)
		var rec string
		switch i % 10 {
		case 0:
			rec = fmt.Sprintf(`{"time":%q,"type":"platform.start","record":{"requestId":%q,"version":"$LATEST"}}`, when, requestID)
		case 7:
			rec = fmt.Sprintf(`{"time":%q,"type":"extension","record":"{\"level\":\"INFO\",\"msg\":\"batch\",\"count\":1}"}`, when)
		case 8:
			rec = fmt.Sprintf(`{"time":%q,"type":"platform.runtimeDone","record":{"requestId":%q,"status":"success","metrics":{"durationMs":12.5,"producedBytes":120}}}`, when, requestID)
		case 9:
			rec = fmt.Sprintf(`{"time":%q,"type":"platform.report","record":{"requestId":%q,"status":"success","metrics":{"durationMs":13.2,"billedDurationMs":14,"memorySizeMB":128,"maxMemoryUsedMB":61}}}`, when, requestID)
		default:
			rec = fmt.Sprintf(`{"time":%q,"type":"function","record":"%s\tINFO\torder %d shipped to warehouse eu-west-1, carrier acme, 3 parcels\n"}`, when, when, i)
		}
		buf.WriteString(rec)
		n++
		if n == batch || i == records-1 {
			buf.WriteByte(']')
			bodies = append(bodies, bytes.Clone(buf.Bytes()))
			n = 0
		}
	}
	return bodies
}
{%- else %}

const telemetryAvailable = false

func runTelemetry(context.Context, telemetryRequest) (telemetryResult, error) {
	return telemetryResult{}, fmt.Errorf("this project has no telemetry listener")
}
{%- endif %}
