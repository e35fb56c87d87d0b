// Command bench measures this extension against a bare reference extension under the
// local emulator (tools/internal/emulator) and writes a table to stdout and the figures as
// JSON (build/bench/results.json). `make bench` runs it; BENCH_FLAGS passes flags.
//
// What it measures, each over several rounds (median and spread):
//
//   - init: process start to the first GET /event/next (Lambda's Init phase waits for it);
//   - per-invoke overhead: INVOKE delivered to the extension back in /event/next, p50
//     and p99 per round over -invokes invocations;
//   - peak RSS of the extension process, and shutdown time;
//   - the stripped binary and the layer zip, per architecture in -archs;
//
// for the extension as rendered (cmd/NAME, with the demo processor) and for the bare
// extension in tools/bench/bare (register + next loop, nothing else), and their ratios.
// Then, with -work of simulated work per invocation, what the sync and the async
// variant add to each invocation (tools/bench/work: the extension package around a
// handler that sleeps), the telemetry listener's throughput when this variant has
// one (the same work extension, subscribed, under the emulator's burst deliveries),
// the companion's figures when this variant has one (local API cache hits: latency and
// throughput; the Runtime API proxy: the round trip it adds; see companion.go), and
// the Go micro-benchmarks of the extension's packages.
//
// Usage (from tools/, the module it belongs to; make bench does this):
//
//	go run ./bench -root .. -ext NAME [-archs "amd64 arm64"] [-rounds 5] [-invokes 1000] ...
//
// -out, -svg, -budgets and -dir are relative to -root. Each figure is reported as within
// or over the project's budget in budgets.json (never a failure: see budgets.go).
//
// bench is a development tool: nothing it builds goes into the layer.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"{{ cookiecutter.go_module }}/extension"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "-session":
			os.Exit(sessionMain(os.Stdin, os.Stdout, os.Stderr))
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	ext              string
	archs            []string
	rounds           int
	invokes          int
	initSamples      int
	work             time.Duration
	workInvokes      int
	workRounds       int
	telRecords       int
	telBatch         int
	delivery         bool
	deliveryInvokes  int
	deliverySpacing  time.Duration
	deliveryFunction time.Duration
	deliveryLines    int
	deliveryDrain    int
	sinkLatency      time.Duration
	companion        bool
	companionRounds  int
	companionReqs    int
	companionClients int
	micro            bool
	microBenchtime   string
	out              string
	svg              string
	budgets          string
	dir              string
	goCmd            string
	root             string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	flags := flag.NewFlagSet("bench", flag.ContinueOnError)
	flags.SetOutput(stderr)
	archs := flags.String("archs", runtime.GOARCH, "architectures to measure binary and layer zip sizes for (space-separated: amd64 arm64)")
	flags.StringVar(&o.ext, "ext", "", "the extension's name: cmd/NAME is built (required)")
	flags.IntVar(&o.rounds, "rounds", 5, "rounds of each extension under the emulator")
	flags.IntVar(&o.invokes, "invokes", 1000, "invocations per round")
	flags.IntVar(&o.initSamples, "init-samples", 10, "extra init-only runs (no INVOKE) of each extension per round; a round's init is the median of all its runs")
	flags.DurationVar(&o.work, "work", 50*time.Millisecond, "simulated work per invocation for the sync/async comparison")
	flags.IntVar(&o.workInvokes, "work-invokes", 100, "invocations per round of the sync/async comparison")
	flags.IntVar(&o.workRounds, "work-rounds", 3, "rounds of the sync/async comparison")
	flags.IntVar(&o.telRecords, "telemetry-records", 200000, "telemetry records to deliver per round of the listener throughput test")
	flags.IntVar(&o.telBatch, "telemetry-batch", 1000, "records per delivered telemetry batch: the subscription's maxItems, 1000 to 10000")
	flags.BoolVar(&o.delivery, "delivery", true, "run the delivery benchmark (flush policies against a local sink)")
	flags.IntVar(&o.deliveryInvokes, "delivery-invokes", 50, "invocations per run of the delivery benchmark")
	flags.DurationVar(&o.deliverySpacing, "delivery-spacing", 200*time.Millisecond, "idle time between invocations of the delivery benchmark (200ms: 5 per second)")
	flags.DurationVar(&o.deliveryFunction, "delivery-function", 20*time.Millisecond, "how long the emulated function runs per invocation in the delivery benchmark")
	flags.IntVar(&o.deliveryLines, "delivery-lines", 10, "function log lines per invocation in the delivery benchmark (telemetry on)")
	flags.IntVar(&o.deliveryDrain, "delivery-drain", 10000, "records queued at SHUTDOWN in the delivery benchmark's drain run (async; 0: no drain run)")
	flags.DurationVar(&o.sinkLatency, "sink-latency", 20*time.Millisecond, "the delivery benchmark's sink latency")
	flags.BoolVar(&o.companion, "companion", true, "run the companion benchmark (local-api and runtime-proxy bakes): local API cache hits, the proxy's round trip")
	flags.IntVar(&o.companionRounds, "companion-rounds", 3, "rounds of the companion benchmark")
	flags.IntVar(&o.companionReqs, "companion-requests", 5000, "timed requests (local API) or round trips (runtime proxy) per round and client of the companion benchmark")
	flags.IntVar(&o.companionClients, "companion-clients", 4, "local API clients calling at once for the throughput figure, each on its own keep-alive connection")
	flags.BoolVar(&o.micro, "micro", true, "also run the Go micro-benchmarks of the extension's packages")
	flags.StringVar(&o.microBenchtime, "micro-benchtime", "1s", "-benchtime for the micro-benchmarks (e.g. 1s, 100x)")
	flags.StringVar(&o.out, "out", "build/bench/results.json", "where to write the JSON results")
	flags.StringVar(&o.svg, "svg", "build/bench/results.svg", "where to draw the chart of ours against bare, per figure (empty: none)")
	flags.StringVar(&o.budgets, "budgets", "budgets.json", "the project's budgets, which every figure is reported against (see budgets.go)")
	flags.StringVar(&o.dir, "dir", "build/bench", "directory for the binaries, zips and extension logs the bench builds")
	flags.StringVar(&o.goCmd, "go", "go", "the go command")
	flags.StringVar(&o.root, "root", "..", "the project root (go.mod, cmd/NAME); tools/ is its tools module")
	if err := flags.Parse(args); err != nil {
		return o, err
	}
	o.archs = strings.Fields(*archs)
	var problems []string
	if o.ext == "" {
		problems = append(problems, "-ext is required (the NAME of cmd/NAME)")
	}
	if flags.NArg() > 0 {
		problems = append(problems, fmt.Sprintf("unexpected arguments %q", flags.Args()))
	}
	for _, a := range o.archs {
		if a != "amd64" && a != "arm64" {
			problems = append(problems, fmt.Sprintf("-archs: %q is not amd64 or arm64", a))
		}
	}
	if o.deliveryInvokes < 1 || o.deliveryLines < 0 || o.sinkLatency < 0 || o.deliveryFunction < 0 || o.deliverySpacing < 0 || o.deliveryDrain < 0 || o.deliveryDrain > 1_000_000 {
		problems = append(problems, "-delivery-invokes must be at least 1; -delivery-lines, -sink-latency, -delivery-function and -delivery-spacing must not be negative; -delivery-drain must be from 0 to 1000000")
	}
	if o.rounds < 1 || o.invokes < 1 || o.workRounds < 1 || o.workInvokes < 1 {
		problems = append(problems, "-rounds, -invokes, -work-rounds and -work-invokes must be at least 1")
	}
	if o.companionRounds < 1 || o.companionReqs < 1 || o.companionClients < 1 {
		problems = append(problems, "-companion-rounds, -companion-requests and -companion-clients must be at least 1")
	}
	if o.initSamples < 0 {
		problems = append(problems, "-init-samples must not be negative")
	}
	if o.work < 0 || o.telRecords < 1 {
		problems = append(problems, "-work must not be negative; -telemetry-records must be at least 1")
	}
	if o.telBatch < 1000 || o.telBatch > 10000 {
		problems = append(problems, "-telemetry-batch must be from 1000 to 10000 (the Telemetry API's maxItems range)")
	}
	if len(problems) > 0 {
		return o, errors.New(strings.Join(problems, "\n"))
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	root, err := filepath.Abs(o.root)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	// Read before minutes of measuring: a broken file fails at once.
	budgets, found, err := readBudgets(inRoot(root, o.budgets))
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	res, err := bench(ctx, o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	res.Budgets = res.checkBudgets(o.budgets, found, budgets)
	if err := writeJSON(inRoot(root, o.out), res); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	if o.svg != "" {
		if err := writeSVG(inRoot(root, o.svg), res); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
	}
	if err := writeTable(stdout, res); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "\nJSON: %s\n", o.out)
	if o.svg != "" {
		fmt.Fprintf(stdout, "chart: %s\n", o.svg)
	}
	return 0
}

// subject is one extension binary under test.
type subject struct {
	key  string   // "ours", "ours_quiet", "bare"
	dir  string   // the module directory to build it in
	pkg  string   // Go package to build, relative to dir
	name string   // file name, the name it registers with
	host string   // host binary
	env  []string // extra environment for its runs
}

func bench(ctx context.Context, o options, progress io.Writer) (*Results, error) {
	root, err := filepath.Abs(o.root)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", o.ext)); err != nil {
		return nil, fmt.Errorf("-root %s is not the project root: cmd/%s: %w", o.root, o.ext, err)
	}
	tools := filepath.Join(root, "tools")
	dir := inRoot(root, o.dir)
	b := builder{goCmd: o.goCmd}
	res := newResults(o, root)
	say := func(format string, args ...any) { fmt.Fprintf(progress, "bench: "+format+"\n", args...) }

	ours := &subject{key: "ours", dir: root, pkg: "./cmd/" + o.ext, name: o.ext}
	bare := &subject{key: "bare", dir: tools, pkg: "./bench/bare", name: "bare-extension"}
	subjects := []*subject{ours, bare} // what is built and sized
	// ---- build: host binaries, then per-architecture binaries and layer zips.
	say("building %s and the bare extension", o.ext)
	hostDir := filepath.Join(dir, "host")
	for _, s := range subjects {
		s.host = filepath.Join(hostDir, s.key, s.name)
		if err := b.build(ctx, s.dir, s.pkg, s.host, "", ""); err != nil {
			return nil, err
		}
	}
	workBin := filepath.Join(hostDir, "work", "bench-work")
	if err := b.build(ctx, tools, "./bench/work", workBin, "", ""); err != nil {
		return nil, err
	}
	layerTool := filepath.Join(hostDir, "layerzip")
	if err := b.build(ctx, tools, "./layerzip", layerTool, "", ""); err != nil {
		return nil, err
	}
	for _, arch := range o.archs {
		sizes := map[string]Size{}
		for _, s := range subjects {
			bin := filepath.Join(dir, arch, s.key, "extensions", s.name)
			zip := filepath.Join(dir, arch, s.key+".zip")
			if err := b.build(ctx, s.dir, s.pkg, bin, "linux", arch); err != nil {
				return nil, err
			}
			if err := layerZip(ctx, layerTool, bin, "extensions/"+s.name, zip); err != nil {
				return nil, err
			}
			binSize, err := fileSize(bin)
			if err != nil {
				return nil, err
			}
			zipSize, err := fileSize(zip)
			if err != nil {
				return nil, err
			}
			sizes[s.key] = Size{BinaryBytes: binSize, LayerZipBytes: zipSize}
		}
		res.Sizes[arch] = sizes
	}

	// ---- lifecycle rounds: ours and bare alternate, the order flipping every round,
	// after one untimed warm-up each (page cache, first exec).
	logDir := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	// ours_quiet is ours with the log level at warn: the template's machinery without
	// the demo processor's log lines, to tell the two costs apart.
	quiet := &subject{key: "ours_quiet", host: ours.host, env: []string{extension.Prefix + "LOG_LEVEL=warn"}}
	runs := []*subject{ours, quiet, bare}
	rounds := map[string][]sessionResult{}
	inits := map[string][]float64{} // per round: the median init of its runs
	for _, s := range subjects {
		if _, err := runSession(ctx, sessionRequest{Binary: s.host, Env: s.env, Invokes: 10, Log: filepath.Join(logDir, s.key+"-warmup.log")}); err != nil {
			return nil, err
		}
	}
	for r := range o.rounds {
		order := slices.Clone(runs)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		roundInits := map[string][]float64{}
		for _, s := range order {
			say("round %d/%d: %s, %d invokes", r+1, o.rounds, s.key, o.invokes)
			sr, err := runSession(ctx, sessionRequest{
				Binary:  s.host,
				Env:     s.env,
				Invokes: o.invokes,
				Log:     filepath.Join(logDir, fmt.Sprintf("%s-round%d.log", s.key, r+1)),
			})
			if err != nil {
				return nil, err
			}
			rounds[s.key] = append(rounds[s.key], sr)
			roundInits[s.key] = append(roundInits[s.key], ms(sr.Init))
		}
		// Init is one figure per run and noisy on a shared machine: take more of them,
		// the two extensions taking turns.
		if o.initSamples > 0 {
			say("round %d/%d: %d init-only runs of each", r+1, o.rounds, o.initSamples)
		}
		for i := range o.initSamples {
			for _, s := range order {
				sr, err := runSession(ctx, sessionRequest{
					Binary: s.host,
					Env:    s.env,
					Log:    filepath.Join(logDir, fmt.Sprintf("%s-round%d-init%d.log", s.key, r+1, i+1)),
				})
				if err != nil {
					return nil, err
				}
				roundInits[s.key] = append(roundInits[s.key], ms(sr.Init))
			}
		}
		for _, s := range runs {
			inits[s.key] = append(inits[s.key], summarize(roundInits[s.key]).Median)
		}
	}
	for _, s := range runs {
		res.Runtime[s.key] = runtimeFigures(rounds[s.key], inits[s.key])
	}

	// ---- sync vs async with simulated work.
	res.Work, err = benchWork(ctx, o, root, workBin, bare.host, logDir, say)
	if err != nil {
		return nil, err
	}

	// ---- telemetry listener throughput.
	res.Telemetry, err = benchTelemetry(ctx, o, workBin, logDir, say)
	if err != nil {
		return nil, err
	}

	// ---- delivery: flush policies against a local sink.
	if o.delivery {
		res.Delivery, err = benchDelivery(ctx, o, ours.host, bare.host, workBin, logDir, say)
		if err != nil {
			return nil, err
		}
	}

	// ---- the companion: local API hits, the Runtime API proxy's round trip.
	res.Companion = Companion{Kind: "none", Reason: "not run (-companion=false)", Load: [][]float64{}}
	if o.companion {
		res.Companion, err = benchCompanion(ctx, o, ours.host, logDir, say)
		if err != nil {
			return nil, err
		}
	}

	// ---- micro-benchmarks.
	if o.micro {
		say("micro-benchmarks (go test -bench, -benchtime %s)", o.microBenchtime)
		pkgs, err := benchmarkPackages(root)
		if err != nil {
			return nil, err
		}
		res.Micro, err = runMicro(ctx, b, root, o.microBenchtime, pkgs)
		if err != nil {
			return nil, err
		}
	}
	res.finish()
	return res, nil
}

// benchWork runs the work extension in each mode this variant has, and the bare
// extension under the same spacing as the baseline, taking turns in every round.
func benchWork(ctx context.Context, o options, root, workBin, bareBin, logDir string, say func(string, ...any)) (Work, error) {
	w := Work{
		WorkMs:      ms(o.work),
		Invokes:     o.workInvokes,
		Rounds:      o.workRounds,
		SpacingMs:   ms(o.work),
		Modes:       map[string]*WorkMode{},
		Description: "INVOKE delivered to back in /event/next with -work of simulated work per invocation: the PostRuntimeExtensionsDuration a function that returns at once is billed for",
	}
	modes := []string{"sync", "async"}
	if !hasBatcher(root) {
		w.Modes["async"] = &WorkMode{Available: false, Reason: "n/a in this variant: extension.Batcher is absent (processing=sync)"}
		modes = modes[:1]
	}
	added50 := map[string][]float64{}
	added99 := map[string][]float64{}
	for _, mode := range modes {
		w.Modes[mode] = &WorkMode{Available: true}
	}
	for r := range o.workRounds {
		for _, mode := range append([]string{"bare"}, modes...) {
			say("work round %d/%d: %s, %s per invoke, %d invokes", r+1, o.workRounds, mode, o.work, o.workInvokes)
			req := sessionRequest{
				Binary:  workBin,
				Invokes: o.workInvokes,
				// Idle time between invocations as long as the work: here the process is
				// never frozen, so an async worker gets just the time its work needs.
				Spacing: o.work,
				Log:     filepath.Join(logDir, fmt.Sprintf("work-%s-round%d.log", mode, r+1)),
			}
			if mode == "bare" {
				req.Binary = bareBin
			} else {
				// The background worker's cost: async flushes continuously here (the
				// flush policies are compared by the delivery benchmark).
				req.Env = []string{"BENCH_MODE=" + mode, "BENCH_WORK=" + o.work.String(), extension.Prefix + "FLUSH=continuous"}
			}
			sr, err := runSession(ctx, req)
			if err != nil {
				return w, err
			}
			added50[mode] = append(added50[mode], ms(percentile(sr.Invokes, 50)))
			added99[mode] = append(added99[mode], ms(percentile(sr.Invokes, 99)))
			if mode == "bare" {
				continue
			}
			st, err := readRecords(req.Log)
			if err != nil {
				return w, fmt.Errorf("work %s: %w", mode, err)
			}
			m := w.Modes[mode]
			m.Invokes += st.Offered
			m.Worked += st.Flushed
			m.Dropped += st.Dropped
			// Failed: work the deadline cut short; unflushed: still queued at the exit.
			m.Unfinished += st.Failed + st.Unflushed
		}
	}
	for _, mode := range modes {
		w.Modes[mode].AddedP50Ms = summarize(added50[mode])
		w.Modes[mode].AddedP99Ms = summarize(added99[mode])
	}
	w.Baseline = Baseline{AddedP50Ms: summarize(added50["bare"]), AddedP99Ms: summarize(added99["bare"])}
	return w, nil
}

// records is the extension's "records" line, logged once at exit:
// offered = flushed + failed + dropped + unflushed.
type records struct {
	Offered   uint64 `json:"offered"`
	Flushed   uint64 `json:"flushed"`
	Failed    uint64 `json:"failed"`
	Dropped   uint64 `json:"dropped"`
	Unflushed uint64 `json:"unflushed"`
}

// readRecords finds the one "records" line in an extension's log file.
func readRecords(logFile string) (records, error) {
	data, err := os.ReadFile(logFile)
	if err != nil {
		return records{}, err
	}
	var found []records
	for _, line := range strings.Split(string(data), "\n") {
		var l struct {
			Msg string `json:"msg"`
			records
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "records" {
			found = append(found, l.records)
		}
	}
	if len(found) != 1 {
		return records{}, fmt.Errorf("%s: %d \"records\" lines, want 1", logFile, len(found))
	}
	return found[0], nil
}

// hasBatcher reports whether this variant has the async machinery (extension.Batcher).
func hasBatcher(root string) bool {
	_, err := os.Stat(filepath.Join(root, "extension", "batch.go"))
	return err == nil
}

// inRoot resolves a path relative to the project root.
func inRoot(root, path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(root, path)
}

// runtimeFigures summarizes the rounds; inits holds each round's init in ms.
func runtimeFigures(rounds []sessionResult, inits []float64) Runtime {
	var p50, p99, rss, shutdown []float64
	for _, r := range rounds {
		p50 = append(p50, us(percentile(r.Invokes, 50)))
		p99 = append(p99, us(percentile(r.Invokes, 99)))
		rss = append(rss, float64(r.PeakRSS))
		shutdown = append(shutdown, ms(r.Shutdown))
	}
	return Runtime{
		InitMs:       summarize(inits),
		InvokeP50Us:  summarize(p50),
		InvokeP99Us:  summarize(p99),
		PeakRSSBytes: summarize(rss),
		ShutdownMs:   summarize(shutdown),
	}
}
