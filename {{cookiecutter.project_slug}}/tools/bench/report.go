package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Results is everything one run of the bench measured; it is written as JSON.
type Results struct {
	SchemaVersion int       `json:"schema_version"`
	Extension     string    `json:"extension"`
	Processing    string    `json:"processing"` // sync or async: whether extension.Batcher exists
	StartedAt     time.Time `json:"started_at"`
	FinishedAt    time.Time `json:"finished_at"`
	Machine       Machine   `json:"machine"`
	Settings      Settings  `json:"settings"`
	// Runtime holds the lifecycle figures of "ours" and "bare".
	Runtime map[string]Runtime `json:"runtime"`
	// Sizes holds, per architecture, the sizes of "ours" and "bare".
	Sizes     map[string]map[string]Size `json:"sizes"`
	Ratios    Ratios                     `json:"ratios"`
	Work      Work                       `json:"work"`
	Telemetry Telemetry                  `json:"telemetry"`
	Delivery  Delivery                   `json:"delivery"`
	Companion Companion                  `json:"companion"`
	Micro     []MicroResult              `json:"micro"`
	// Budgets are the figures against the project's budgets.json (budgets.go).
	Budgets BudgetReport `json:"budgets"`
}

// Machine says where the figures were taken.
type Machine struct {
	GOOS         string    `json:"goos"`
	GOARCH       string    `json:"goarch"`
	NumCPU       int       `json:"num_cpu"`
	CPUModel     string    `json:"cpu_model"`
	Kernel       string    `json:"kernel"`
	GoVersion    string    `json:"go_version"`
	LoadAvgStart []float64 `json:"load_avg_start"` // 1, 5 and 15 minutes; empty when unknown
	LoadAvgEnd   []float64 `json:"load_avg_end"`
}

// Settings are the flags of the run.
type Settings struct {
	Rounds           int      `json:"rounds"`
	Invokes          int      `json:"invokes"`
	InitSamples      int      `json:"init_samples"` // init-only runs per extension and round
	WorkMs           float64  `json:"work_ms"`
	WorkInvokes      int      `json:"work_invokes"`
	WorkRounds       int      `json:"work_rounds"`
	TelemetryRecords int      `json:"telemetry_records"`
	TelemetryBatch   int      `json:"telemetry_batch"`
	Archs            []string `json:"archs"`
	MicroBenchtime   string   `json:"micro_benchtime"` // "" when the micro-benchmarks did not run
}

// Runtime is one extension's lifecycle figures over the rounds.
type Runtime struct {
	InitMs       Summary `json:"init_ms"`        // process start -> first /event/next; per round, the median of its runs
	InvokeP50Us  Summary `json:"invoke_p50_us"`  // per round: p50 of INVOKE delivered -> back in next
	InvokeP99Us  Summary `json:"invoke_p99_us"`  // per round: p99 of the same
	PeakRSSBytes Summary `json:"peak_rss_bytes"` // -1 when the system does not say
	ShutdownMs   Summary `json:"shutdown_ms"`    // SHUTDOWN delivered -> process exit
}

// Size is one stripped linux binary and its layer zip.
type Size struct {
	BinaryBytes   int64 `json:"binary_bytes"`
	LayerZipBytes int64 `json:"layer_zip_bytes"`
}

// Ratios are ours / bare (medians); null where bare's figure is zero.
type Ratios struct {
	RuntimeRatios
	Binary   map[string]*float64 `json:"binary"`
	LayerZip map[string]*float64 `json:"layer_zip"`
	// OursQuiet are the ratios of ours at log level warn to bare.
	OursQuiet RuntimeRatios `json:"ours_quiet"`
}

// RuntimeRatios compare the lifecycle figures of two extensions.
type RuntimeRatios struct {
	Init      *float64 `json:"init"`
	InvokeP50 *float64 `json:"invoke_p50"`
	InvokeP99 *float64 `json:"invoke_p99"`
	PeakRSS   *float64 `json:"peak_rss"`
	Shutdown  *float64 `json:"shutdown"`
}

func runtimeRatios(a, b Runtime) RuntimeRatios {
	return RuntimeRatios{
		Init:      ratioOf(a.InitMs.Median, b.InitMs.Median),
		InvokeP50: ratioOf(a.InvokeP50Us.Median, b.InvokeP50Us.Median),
		InvokeP99: ratioOf(a.InvokeP99Us.Median, b.InvokeP99Us.Median),
		PeakRSS:   ratioOf(a.PeakRSSBytes.Median, b.PeakRSSBytes.Median),
		Shutdown:  ratioOf(a.ShutdownMs.Median, b.ShutdownMs.Median),
	}
}

// Work compares the variants with simulated work per invocation.
type Work struct {
	Description string               `json:"description"`
	WorkMs      float64              `json:"work_ms"`
	Invokes     int                  `json:"invokes"`
	Rounds      int                  `json:"rounds"`
	SpacingMs   float64              `json:"spacing_ms"`
	Modes       map[string]*WorkMode `json:"modes"` // "sync", "async"
	// Baseline is the bare extension under the same spacing, without work.
	Baseline Baseline `json:"baseline"`
}

// Baseline is what the bare extension adds to an invocation under the same spacing.
type Baseline struct {
	AddedP50Ms Summary `json:"added_p50_ms"`
	AddedP99Ms Summary `json:"added_p99_ms"`
}

// WorkMode is one variant's figures, or why there are none.
type WorkMode struct {
	Available  bool    `json:"available"`
	Reason     string  `json:"reason,omitempty"`
	AddedP50Ms Summary `json:"added_p50_ms"`
	AddedP99Ms Summary `json:"added_p99_ms"`
	// Counts over all rounds, from the work extension itself.
	Invokes uint64 `json:"invokes"`
	Worked  uint64 `json:"worked"`
	Dropped uint64 `json:"dropped"`
	// Unfinished were neither done nor dropped when the process exited: still queued,
	// or in a flush the shutdown deadline cut short.
	Unfinished uint64 `json:"unfinished"`
}

func newResults(o options, root string) *Results {
	r := &Results{
		SchemaVersion: 2,
		Extension:     o.ext,
		Processing:    "sync",
		StartedAt:     time.Now().UTC(),
		Machine:       machine(),
		Settings: Settings{
			Rounds: o.rounds, Invokes: o.invokes, InitSamples: o.initSamples, WorkMs: ms(o.work), WorkInvokes: o.workInvokes,
			WorkRounds: o.workRounds, TelemetryRecords: o.telRecords, TelemetryBatch: o.telBatch,
			Archs: o.archs,
		},
		Runtime: map[string]Runtime{},
		Sizes:   map[string]map[string]Size{},
		Micro:   []MicroResult{},
	}
	if o.micro {
		r.Settings.MicroBenchtime = o.microBenchtime
	}
	if hasBatcher(root) {
		r.Processing = "async"
	}
	r.Machine.LoadAvgStart = loadAvg()
	return r
}

func machine() Machine {
	m := Machine{
		GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, NumCPU: runtime.NumCPU(),
		GoVersion: runtime.Version(), LoadAvgStart: []float64{}, LoadAvgEnd: []float64{},
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// loadAvg is the 1, 5 and 15 minute load average; empty when the system does not say.
func loadAvg() []float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return []float64{}
	}
	fields := strings.Fields(string(data))
	var avg []float64
	for _, f := range fields[:min(3, len(fields))] {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return []float64{}
		}
		avg = append(avg, v)
	}
	return avg
}

func ratioOf(a, b float64) *float64 {
	r := ratio(a, b)
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return nil
	}
	return &r
}

// finish computes the ratios once every figure is in.
func (r *Results) finish() {
	r.FinishedAt = time.Now().UTC()
	r.Machine.LoadAvgEnd = loadAvg()
	bare := r.Runtime["bare"]
	r.Ratios = Ratios{
		RuntimeRatios: runtimeRatios(r.Runtime["ours"], bare),
		OursQuiet:     runtimeRatios(r.Runtime["ours_quiet"], bare),
		Binary:        map[string]*float64{},
		LayerZip:      map[string]*float64{},
	}
	for arch, sizes := range r.Sizes {
		r.Ratios.Binary[arch] = ratioOf(float64(sizes["ours"].BinaryBytes), float64(sizes["bare"].BinaryBytes))
		r.Ratios.LayerZip[arch] = ratioOf(float64(sizes["ours"].LayerZipBytes), float64(sizes["bare"].LayerZipBytes))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func writeJSON(path string, r *Results) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	return nil
}

// ---- table -------------------------------------------------------------------

func fmtMs(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.2f ms", v)
	}
}

func fmtUs(v float64) string {
	if v >= 1000 {
		return fmtMs(v / 1000)
	}
	return fmt.Sprintf("%.0f µs", v)
}

func fmtMiB(v float64) string {
	if v < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", v/(1<<20))
}

func fmtMB(v int64) string { return fmt.Sprintf("%.2f MB", float64(v)/1e6) }

func fmtRatio(r *float64) string {
	if r == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", *r)
}

// spread formats a summary as "median [min – max]" with f.
func spread(s Summary, f func(float64) string) string {
	if len(s.Samples) == 0 {
		return "n/a"
	}
	if len(s.Samples) == 1 {
		return f(s.Median)
	}
	return fmt.Sprintf("%s [%s – %s]", f(s.Median), f(s.Min), f(s.Max))
}

func fmtLoad(l []float64) string {
	if len(l) == 0 {
		return "unknown"
	}
	parts := make([]string, len(l))
	for i, v := range l {
		parts[i] = strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strings.Join(parts, " ")
}

func writeTable(out io.Writer, r *Results) error {
	m := r.Machine
	fmt.Fprintf(out, "\n== bench: %s (%s variant) vs the bare extension\n", r.Extension, r.Processing)
	fmt.Fprintf(out, "machine: %s/%s, %d CPUs (%s), kernel %s, %s\n", m.GOOS, m.GOARCH, m.NumCPU, m.CPUModel, m.Kernel, m.GoVersion)
	fmt.Fprintf(out, "load average (1/5/15 min): %s at start, %s at end\n", fmtLoad(m.LoadAvgStart), fmtLoad(m.LoadAvgEnd))
	fmt.Fprintf(out, "%d rounds x %d invokes (and %d init-only runs) of each under the emulator; median [min – max] over rounds\n\n", r.Settings.Rounds, r.Settings.Invokes, r.Settings.InitSamples)

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	ours, quiet, bare := r.Runtime["ours"], r.Runtime["ours_quiet"], r.Runtime["bare"]
	q := r.Ratios.OursQuiet
	fmt.Fprintln(tw, "figure\tours\tbare\tours/bare\tbudget\tours at LOG_LEVEL=warn\t/bare")
	fmt.Fprintf(tw, "init (start -> first next)\t%s\t%s\t%s\t%s\t%s\t%s\n", spread(ours.InitMs, fmtMs), spread(bare.InitMs, fmtMs), fmtRatio(r.Ratios.Init), r.budget("init"), spread(quiet.InitMs, fmtMs), fmtRatio(q.Init))
	fmt.Fprintf(tw, "invoke overhead p50\t%s\t%s\t%s\t%s\t%s\t%s\n", spread(ours.InvokeP50Us, fmtUs), spread(bare.InvokeP50Us, fmtUs), fmtRatio(r.Ratios.InvokeP50), r.budget("invoke_p50"), spread(quiet.InvokeP50Us, fmtUs), fmtRatio(q.InvokeP50))
	fmt.Fprintf(tw, "invoke overhead p99\t%s\t%s\t%s\t%s\t%s\t%s\n", spread(ours.InvokeP99Us, fmtUs), spread(bare.InvokeP99Us, fmtUs), fmtRatio(r.Ratios.InvokeP99), r.budget("invoke_p99"), spread(quiet.InvokeP99Us, fmtUs), fmtRatio(q.InvokeP99))
	fmt.Fprintf(tw, "peak RSS\t%s\t%s\t%s\t%s\t%s\t%s\n", spread(ours.PeakRSSBytes, fmtMiB), spread(bare.PeakRSSBytes, fmtMiB), fmtRatio(r.Ratios.PeakRSS), r.budget("peak_rss"), spread(quiet.PeakRSSBytes, fmtMiB), fmtRatio(q.PeakRSS))
	fmt.Fprintf(tw, "shutdown (SHUTDOWN -> exit)\t%s\t%s\t%s\t%s\t%s\t%s\n", spread(ours.ShutdownMs, fmtMs), spread(bare.ShutdownMs, fmtMs), fmtRatio(r.Ratios.Shutdown), r.budget("shutdown"), spread(quiet.ShutdownMs, fmtMs), fmtRatio(q.Shutdown))
	for _, arch := range sortedKeys(r.Sizes) {
		s := r.Sizes[arch]
		fmt.Fprintf(tw, "binary %s (stripped)\t%s\t%s\t%s\t%s\t\t\n", arch, fmtMB(s["ours"].BinaryBytes), fmtMB(s["bare"].BinaryBytes), fmtRatio(r.Ratios.Binary[arch]), r.budget("binary_"+arch))
		fmt.Fprintf(tw, "layer zip %s\t%s\t%s\t%s\t%s\t\t\n", arch, fmtMB(s["ours"].LayerZipBytes), fmtMB(s["bare"].LayerZipBytes), fmtRatio(r.Ratios.LayerZip[arch]), r.budget("layer_zip_"+arch))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	w := r.Work
	fmt.Fprintf(out, "\nwork: %s of simulated work per invocation, %d rounds x %d invokes %s apart;\n", fmtMs(w.WorkMs), w.Rounds, w.Invokes, fmtMs(w.SpacingMs))
	fmt.Fprintln(out, "added = INVOKE delivered -> back in next (billed as PostRuntimeExtensionsDuration)")
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "mode\tadded p50\tadded p99\tworked/invokes\tdropped\tunfinished at exit\tbudget")
	var notes []string
	fmt.Fprintf(tw, "bare, no work\t%s\t%s\t\t\t\t\n", spread(w.Baseline.AddedP50Ms, fmtMs), spread(w.Baseline.AddedP99Ms, fmtMs))
	for _, mode := range []string{"sync", "async"} {
		m := w.Modes[mode]
		target := r.budget(mode + "_added_p50")
		if m == nil || !m.Available {
			fmt.Fprintf(tw, "%s\tn/a\tn/a\t\t\t\t%s\n", mode, target)
			if m != nil {
				notes = append(notes, mode+": "+m.Reason)
			}
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%d\t%d\t%s\n", mode, spread(m.AddedP50Ms, fmtMs), spread(m.AddedP99Ms, fmtMs), m.Worked, m.Invokes, m.Dropped, m.Unfinished, target)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, note := range notes {
		fmt.Fprintln(out, note)
	}

	writeTelemetryTable(out, r)
	writeDeliveryTable(out, r.Delivery)
	writeCompanionTable(out, r)

	fmt.Fprintln(out)
	for _, line := range r.budgetSummary() {
		fmt.Fprintln(out, line)
	}

	if len(r.Micro) > 0 {
		fmt.Fprintf(out, "\nmicro-benchmarks (go test -bench, -benchtime %s):\n", r.Settings.MicroBenchtime)
		tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "benchmark\tns/op\tB/op\tallocs/op\textra\t")
		for _, b := range r.Micro {
			pkg := b.Package[strings.LastIndex(b.Package, "/")+1:]
			extra := []string{}
			if b.MBPerSec > 0 {
				extra = append(extra, fmt.Sprintf("%.1f MB/s", b.MBPerSec))
			}
			for _, unit := range sortedKeys(b.Metrics) {
				extra = append(extra, fmt.Sprintf("%.4g %s", b.Metrics[unit], unit))
			}
			fmt.Fprintf(tw, "%s.%s\t%.1f\t%.0f\t%.0f\t%s\t\n", pkg, strings.TrimPrefix(b.Name, "Benchmark"), b.NsPerOp, b.BytesPerOp, b.AllocsPerOp, strings.Join(extra, ", "))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}
