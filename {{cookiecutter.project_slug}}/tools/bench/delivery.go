package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"{{ cookiecutter.go_module }}/extension"
	"{{ cookiecutter.go_module }}/tools/internal/emulator"
)

// Delivery is the delivery benchmark: the extension as rendered (the demo processor
// ships to the emulator's sink) under each flush policy, with and without freeze.
type Delivery struct {
	Description  string        `json:"description"`
	Invokes      int           `json:"invokes"`
	SpacingMs    float64       `json:"spacing_ms"`
	FunctionMs   float64       `json:"function_ms"`
	LinesPerCall int           `json:"lines_per_invoke"`
	SinkMs       float64       `json:"sink_latency_ms"`
	Rows         []DeliveryRow `json:"rows"`
	// Drain is the SHUTDOWN drain of a full queue (async; nil in sync bakes or with
	// -delivery-drain 0).
	Drain *DeliveryDrain `json:"drain,omitempty"`
}

// DeliveryDrain is one INVOKE queueing -delivery-drain records (the work extension's
// BENCH_RECORDS, default settings but QUEUE_SIZE, FLUSH=continuous so nothing goes
// at the end of the invocation), then SHUTDOWN with its 2 s, the sink answering after
// -sink-latency: what the drain delivered, in how many POSTs and how long.
type DeliveryDrain struct {
	Queued    int     `json:"queued"`       // records that reached the sink after SHUTDOWN, or were not delivered
	Posts     int     `json:"posts"`        // requests the sink received after SHUTDOWN
	DrainMs   float64 `json:"drain_ms"`     // SHUTDOWN delivered to the process's exit
	Offered   uint64  `json:"offered"`      // the records line's counts
	Delivered uint64  `json:"delivered"`    // flushed
	Failed    uint64  `json:"failed"`       // in a flush that returned an error
	Unflushed uint64  `json:"unflushed"`    // still queued at the exit
	SinkTook  int     `json:"sink_records"` // records the sink answered 2xx
}

// DeliveryRow is one policy, frozen between invocations or not.
type DeliveryRow struct {
	Policy string `json:"policy"`
	Freeze bool   `json:"freeze"`
	// PostRuntime is INVOKE-to-next less the function's run time, what Lambda bills
	// as PostRuntimeExtensionsDuration, per invocation.
	PostRuntimeP50Ms float64 `json:"post_runtime_p50_ms"`
	PostRuntimeP99Ms float64 `json:"post_runtime_p99_ms"`
	// Delay is a record's arrival at the sink less its creation (telemetry records'
	// time); 0 with no timestamped records (telemetry off, the bare extension).
	DelayP50Ms float64 `json:"delay_p50_ms"`
	DelayP99Ms float64 `json:"delay_p99_ms"`
	Offered    uint64  `json:"offered"`
	Delivered  uint64  `json:"delivered"`
	Failed     uint64  `json:"failed"`
	Dropped    uint64  `json:"dropped"`
	Unflushed  uint64  `json:"unflushed"`
}

// deliveryPolicies are the policies this variant has; "bare" is the reference
// extension without any work.
func deliveryPolicies() []string {
{%- if cookiecutter.processing == "sync" %}
	return []string{"bare", "inline"} // the sync variant works inline: no policy
{%- else %}
	return []string{"bare", "end", "periodic:1s", "continuous", "adaptive"}
{%- endif %}
}

func benchDelivery(ctx context.Context, o options, extBin, bareBin, workBin, logDir string, say func(string, ...any)) (Delivery, error) {
	d := Delivery{
		Description:  "the extension as rendered shipping to a local HTTP sink under the emulator: added post-runtime time per invocation, delay from a record's creation to the sink, and what happened to every record with a 2s SHUTDOWN",
		Invokes:      o.deliveryInvokes,
		SpacingMs:    ms(o.deliverySpacing),
		FunctionMs:   ms(o.deliveryFunction),
		LinesPerCall: o.deliveryLines,
		SinkMs:       ms(o.sinkLatency),
	}
	for _, freeze := range []bool{false, true} {
		for _, policy := range deliveryPolicies() {
			say("delivery: %s, freeze %v, %d invokes", policy, freeze, o.deliveryInvokes)
			row, err := deliveryRun(ctx, o, extBin, bareBin, logDir, policy, freeze)
			if err != nil {
				return d, err
			}
			d.Rows = append(d.Rows, row)
		}
	}
{%- if cookiecutter.processing == "async" %}
	if o.deliveryDrain > 0 {
		say("delivery: %d records queued at SHUTDOWN", o.deliveryDrain)
		drain, err := deliveryDrain(ctx, o, workBin, logDir)
		if err != nil {
			return d, err
		}
		d.Drain = &drain
	}
{%- else %}
	_ = workBin // the drain run needs a queue: async bakes only
{%- endif %}
	return d, nil
}
{%- if cookiecutter.processing == "async" %}

// deliveryDrain runs the drain of DeliveryDrain.
func deliveryDrain(ctx context.Context, o options, workBin, logDir string) (DeliveryDrain, error) {
	var d DeliveryDrain
	logPath := filepath.Join(logDir, "delivery-drain.log")
	log, err := os.Create(logPath)
	if err != nil {
		return d, err
	}
	defer log.Close()
	rep, err := emulator.Run(ctx, emulator.Config{
		Binary:  workBin,
		Invokes: 1,
		Output:  log,
		Env: []string{
			"BENCH_MODE=async", "BENCH_WORK=0", "BENCH_RECORDS=" + strconv.Itoa(o.deliveryDrain),
			extension.Prefix + "QUEUE_SIZE=" + strconv.Itoa(o.deliveryDrain+o.deliveryDrain/2),
			extension.Prefix + "FLUSH=continuous",
			extension.Prefix + "FLUSH_INTERVAL=1m",
		},
		Sink: emulator.SinkConfig{Env: extension.Prefix + "SINK_URL", Latency: o.sinkLatency},
	})
	if err != nil {
		return d, err
	}
	if rep.Outcome != emulator.OutcomeClean || len(rep.Violations) > 0 || rep.Shutdown == nil {
		return d, fmt.Errorf("delivery drain: outcome %s, violations %q (extension output: %s)", rep.Outcome, rep.Violations, logPath)
	}
	log.Sync()
	st, err := readRecords(logPath)
	if err != nil {
		return d, fmt.Errorf("delivery drain: %w", err)
	}
	d.Offered, d.Delivered, d.Failed, d.Unflushed = st.Offered, st.Flushed, st.Failed, st.Unflushed
	d.SinkTook = rep.Sink.Records
	before := 0
	for _, e := range rep.Timeline {
		if e.What != "sink" {
			continue
		}
		if e.At >= rep.Shutdown.At {
			d.Posts++
			continue
		}
		var n int
		if _, err := fmt.Sscanf(e.Detail, "%d records", &n); err == nil {
			before += n
		}
	}
	d.Queued = int(st.Offered) - before
	d.DrainMs = ms(rep.Shutdown.Duration)
	return d, nil
}
{%- endif %}

func deliveryRun(ctx context.Context, o options, extBin, bareBin, logDir, policy string, freeze bool) (DeliveryRow, error) {
	row := DeliveryRow{Policy: policy, Freeze: freeze}
	logPath := filepath.Join(logDir, fmt.Sprintf("delivery-%s-freeze%v.log", sanitize(policy), freeze))
	log, err := os.Create(logPath)
	if err != nil {
		return row, err
	}
	defer log.Close()
	cfg := emulator.Config{
		Binary:           extBin,
		Invokes:          o.deliveryInvokes,
		Spacing:          o.deliverySpacing,
		FunctionDuration: o.deliveryFunction,
		Freeze:           freeze,
		Output:           log,
		Env: []string{
			extension.Prefix + "TELEMETRY_PORT=0",
			extension.Prefix + "TELEMETRY_TIMEOUT_MS=25",
			extension.Prefix + "QUEUE_SIZE=100000",
			extension.Prefix + "BATCH_SIZE=1000",
		},
		Telemetry: emulator.TelemetryConfig{FunctionLines: o.deliveryLines},
		Sink:      emulator.SinkConfig{Env: extension.Prefix + "SINK_URL", Latency: o.sinkLatency},
	}
	if policy == "bare" {
		cfg.Binary = bareBin
		cfg.Sink = emulator.SinkConfig{}
	} else if policy != "inline" {
		cfg.Env = append(cfg.Env, extension.Prefix+"FLUSH="+policy)
	}
	rep, err := emulator.Run(ctx, cfg)
	if err != nil {
		return row, err
	}
	if rep.Outcome != emulator.OutcomeClean || len(rep.Violations) > 0 {
		return row, fmt.Errorf("delivery %s: outcome %s, violations %q (extension output: %s)", policy, rep.Outcome, rep.Violations, logPath)
	}
	var post []time.Duration
	for _, inv := range rep.Invokes {
		post = append(post, max(inv.Extension-o.deliveryFunction, 0))
	}
	row.PostRuntimeP50Ms, row.PostRuntimeP99Ms = ms(percentile(post, 50)), ms(percentile(post, 99))
	row.DelayP50Ms, row.DelayP99Ms = ms(percentile(rep.Sink.Delays, 50)), ms(percentile(rep.Sink.Delays, 99))
	if policy != "bare" {
		log.Sync()
		st, err := readRecords(logPath)
		if err != nil {
			return row, fmt.Errorf("delivery %s: %w", policy, err)
		}
		row.Offered, row.Delivered, row.Failed, row.Dropped, row.Unflushed = st.Offered, st.Flushed, st.Failed, st.Dropped, st.Unflushed
	}
	return row, nil
}

func sanitize(s string) string {
	out := []byte(s)
	for i, c := range out {
		if c == ':' || c == '/' {
			out[i] = '-'
		}
	}
	return string(out)
}

// writeDeliveryTable prints the delivery benchmark.
func writeDeliveryTable(out io.Writer, d Delivery) {
	if len(d.Rows) == 0 {
		return
	}
	fmt.Fprintf(out, "\ndelivery: %d invokes %sms apart, function %sms, %d log lines each, sink %sms, SHUTDOWN 2s:\n",
		d.Invokes, strconv.FormatFloat(d.SpacingMs, 'f', -1, 64), strconv.FormatFloat(d.FunctionMs, 'f', -1, 64), d.LinesPerCall, strconv.FormatFloat(d.SinkMs, 'f', -1, 64))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "policy\tfreeze\tpost-runtime p50\tp99\tdelay p50\tp99\toffered\tdelivered\tfailed\tdropped\tunflushed\t")
	for _, r := range d.Rows {
		fmt.Fprintf(tw, "%s\t%v\t%.2f ms\t%.2f ms\t%.1f ms\t%.1f ms\t%d\t%d\t%d\t%d\t%d\t\n", r.Policy, r.Freeze,
			r.PostRuntimeP50Ms, r.PostRuntimeP99Ms, r.DelayP50Ms, r.DelayP99Ms, r.Offered, r.Delivered, r.Failed, r.Dropped, r.Unflushed)
	}
	tw.Flush()
	if dr := d.Drain; dr != nil {
		fmt.Fprintf(out, "drain: %d records queued at SHUTDOWN (default BATCH_SIZE, sink %sms): %d delivered, %d failed, %d unflushed, in %d POSTs, SHUTDOWN to exit %.0f ms\n",
			dr.Queued, strconv.FormatFloat(d.SinkMs, 'f', -1, 64), dr.Delivered, dr.Failed, dr.Unflushed, dr.Posts, dr.DrainMs)
	}
}
