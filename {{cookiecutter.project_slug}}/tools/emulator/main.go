// Command emulator runs an extension binary through a Lambda lifecycle on this machine:
// it plays Lambda's side of the Extensions API on 127.0.0.1, starts the binary with
// Lambda's environment, sends init -> N INVOKEs -> SHUTDOWN and prints a timeline.
//
// Usage:
//
//	go run ./emulator [flags] ../build/local/extensions/NAME   (from tools/; make local does this)
//
// The binary's file name is the only name it may register with, as in /opt/extensions.
// The extension's own output goes to stderr, each JSON log line made readable (offset
// from its start, level, message, fields; -logs raw passes the lines unchanged); the
// timeline to stdout (with -json, one JSON summary line to stdout and the timeline to
// stderr), as it happens when that is a terminal, at the end otherwise. -svg also
// draws the run as an SVG picture.
//
// Exit status: 0 when no rule was broken and no deadline missed (and, without -fault,
// the extension exited 0 after SHUTDOWN); 1 otherwise; 2 for usage errors; 0 for -h.
//
// emulator is a development tool: it is not part of the layer.
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
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"{{ cookiecutter.go_module }}/extension"
	"{{ cookiecutter.go_module }}/tools/internal/emulator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// envFlags collects repeated -env KEY=VALUE flags.
type envFlags []string

func (e *envFlags) String() string { return strings.Join(*e, " ") }

func (e *envFlags) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	*e = append(*e, v)
	return nil
}

func faultNames() string {
	names := make([]string, len(emulator.Faults))
	for i, f := range emulator.Faults {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("emulator", flag.ContinueOnError)
	flags.SetOutput(stderr)
	var cfg emulator.Config
	var env envFlags
	flags.IntVar(&cfg.Invokes, "invokes", 3, "INVOKE events to send")
	flags.DurationVar(&cfg.Spacing, "spacing", 0, "idle time between invocations (e.g. 500ms)")
	flags.DurationVar(&cfg.FunctionDuration, "function-duration", 0, "how long the emulated function runs per invocation")
	flags.DurationVar(&cfg.InvokeTimeout, "invoke-timeout", emulator.DefaultInvokeTimeout, "function timeout (INVOKE deadlineMs)")
	flags.DurationVar(&cfg.InitTimeout, "init-timeout", emulator.DefaultInitTimeout, "init phase limit")
	flags.StringVar(&cfg.ShutdownReason, "shutdown-reason", "", "SHUTDOWN reason (default spindown; "+emulator.UnknownShutdownReason+" with -fault unknown-shutdown-reason)")
	flags.DurationVar(&cfg.ShutdownDeadline, "shutdown-deadline", 0, "SHUTDOWN delivery to deadlineMs (default 2s; 100ms with -fault tight-deadline)")
	flags.BoolVar(&cfg.Freeze, "freeze", false, "stop the extension (SIGSTOP) while idle between invocations, as Lambda freezes an idle environment (use with -spacing)")
	fault := flags.String("fault", "", "fault `mode`: "+faultNames())
	flags.DurationVar(&cfg.Hold, "hold", emulator.DefaultHold, "how long -fault held-next holds the first next")
	flags.StringVar(&cfg.FunctionName, "function-name", "local-function", "AWS_LAMBDA_FUNCTION_NAME")
	flags.IntVar(&cfg.MemoryMB, "memory", 128, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE in MB")
	flags.StringVar(&cfg.Region, "region", "us-east-1", "AWS_REGION")
	flags.BoolVar(&cfg.LMI, "lmi", false, "play Lambda Managed Instances: SHUTDOWN-only registration, no INVOKE events, concurrent invocations seen only through telemetry (schema 2025-01-29), no freeze")
	flags.IntVar(&cfg.LMIConcurrency, "lmi-concurrency", emulator.DefaultLMIConcurrency, "invocations at once with -lmi")
	withSink := flags.Bool("sink", false, "run a local HTTP sink and pass its URL to the extension as "+extension.Prefix+"SINK_URL")
	flags.DurationVar(&cfg.Sink.Latency, "sink-latency", 20*time.Millisecond, "how long the -sink takes to answer each batch (a slow sink: 500ms)")
	flags.StringVar(&cfg.Sink.RetryAfter, "sink-retry-after", "", "Retry-After the -sink sends with every answer that is not 2xx (e.g. 1)")
	flags.BoolVar(&cfg.Sink.DropOnFreeze, "sink-drop-on-freeze", false, "the -sink closes idle kept-alive connections while the extension is frozen (a stale connection after a freeze)")
	sinkStatuses := flags.String("sink-status", "", "comma-separated statuses the -sink answers in turn, the last repeating (e.g. 503,503,200; default 200)")
	cfg.Telemetry.RegisterFlags(flags)
	cfg.Companion.RegisterFlags(flags)
	flags.Var(&env, "env", "extra `KEY=VALUE` for the extension (repeatable), e.g. -env MY_EXT_LOG_LEVEL=debug")
	asJSON := flags.Bool("json", false, "print one JSON summary line to stdout (the timeline goes to stderr)")
	quiet := flags.Bool("quiet", false, "do not show the extension's own output")
	logs := flags.String("logs", string(emulator.LogsReadable), "how to show the extension's output: readable (each JSON log line as offset, level, message, key=value) or raw (as written)")
	svgPath := flags.String("svg", "", "also draw the run as an SVG picture at this `path` (lanes for Lambda, the extension and telemetry)")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: emulator [flags] EXTENSION_BINARY")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		return 2
	}
	if flags.NArg() != 1 {
		flags.Usage()
		return 2
	}
	if *withSink {
		cfg.Sink.Env = extension.Prefix + "SINK_URL"
		for _, f := range strings.FieldsFunc(*sinkStatuses, func(r rune) bool { return r == ',' }) {
			code, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || code < 100 || code > 599 {
				fmt.Fprintf(stderr, "emulator: -sink-status: %q is not an HTTP status\n", f)
				return 2
			}
			cfg.Sink.Statuses = append(cfg.Sink.Statuses, code)
		}
	}
	cfg.Binary = flags.Arg(0)
	cfg.Env = env
	cfg.Fault = emulator.Fault(*fault)
	if cfg.Fault != emulator.FaultNone && !knownFault(cfg.Fault) {
		fmt.Fprintf(stderr, "emulator: unknown -fault %q; one of: %s\n", *fault, faultNames())
		return 2
	}
	if cfg.Invokes < 0 {
		fmt.Fprintln(stderr, "emulator: -invokes must not be negative")
		return 2
	}
	cfg.Logs = emulator.LogFormat(*logs)
	if !slices.Contains(emulator.LogFormats, cfg.Logs) {
		fmt.Fprintf(stderr, "emulator: unknown -logs %q; readable or raw\n", *logs)
		return 2
	}
	if !*quiet {
		cfg.Output = stderr
	} else {
		cfg.Logs = emulator.LogsRaw // unseen, but read for the picture
	}
	timeline := stdout
	if *asJSON {
		timeline = stderr
	}
	// On a terminal the timeline comes as it happens, between the extension's lines.
	live := isTerminal(timeline)
	if live {
		fmt.Fprint(timeline, emulator.TimelineHeader(filepath.Base(cfg.Binary), cfg.Fault))
		cfg.OnEvent = func(e emulator.Entry) { fmt.Fprint(timeline, e.String()) }
	}

	report, err := emulator.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if live {
		report.WriteSummary(timeline)
	} else {
		report.WriteTimeline(timeline)
	}
	if *svgPath != "" {
		if err := report.WriteSVG(*svgPath); err != nil {
			fmt.Fprintln(stderr, "emulator:", err)
			return 2
		}
		fmt.Fprintf(timeline, "== timeline picture: %s\n", *svgPath)
	}
	if *asJSON {
		data, err := json.Marshal(report)
		if err != nil {
			fmt.Fprintln(stderr, "emulator: summary:", err)
			return 2
		}
		fmt.Fprintf(stdout, "%s\n", data)
	}
	if !report.OK() || (cfg.Fault == emulator.FaultNone && report.Outcome != emulator.OutcomeClean) {
		return 1
	}
	return 0
}

// isTerminal reports whether w is a terminal (a character device); a variable for tests.
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func knownFault(f emulator.Fault) bool {
	for _, known := range emulator.Faults {
		if f == known {
			return true
		}
	}
	return false
}
