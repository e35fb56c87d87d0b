package emulator

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Outcome says how the run ended, in Lambda's terms.
type Outcome string

// The outcomes of a run.
const (
	OutcomeClean       Outcome = "clean"      // exit 0 after SHUTDOWN, before its deadline
	OutcomeInitError   Outcome = "init-error" // reported /init/error, then exited (Extension.InitError)
	OutcomeExitError   Outcome = "exit-error" // reported /exit/error, then exited (Extension.ExitError)
	OutcomeCrash       Outcome = "crash"      // exited outside SHUTDOWN without a report (Extension.Crash)
	OutcomeKilled      Outcome = "killed"     // still running at a deadline: killed
	OutcomeInterrupted Outcome = "interrupted"
)

// Report is what happened in one run. Durations are measured by the emulator's clock;
// At fields are offsets from the extension's start.
type Report struct {
	// Started is when the extension was started, by the wall clock: At offsets added
	// to it line up with the times in the extension's own log lines.
	Started        time.Time
	Extension      string   // the binary's file name
	Fault          Fault    // the fault mode, "" for none
	Registered     bool     // register succeeded
	RegisteredName string   // Lambda-Extension-Name it registered with
	Events         []string // events it registered for
	// AcceptFeature is the Lambda-Extension-Accept-Feature header of the successful
	// register ("accountId" asks for the account ID in the answer).
	AcceptFeature string
	RegisterCalls int
	NextCalls     int
	// AbandonedNexts counts /event/next calls the extension closed while waiting
	// (a client timeout would show here; it should stay 0).
	AbandonedNexts int

	InitDone bool
	Init     time.Duration // process start to first /event/next
	Invokes  []Invoke
	// LMIInvocations counts the invocations an LMI run played (no INVOKE events).
	LMIInvocations int
	Shutdown       *Shutdown // nil when no SHUTDOWN was sent

	ShutdownReason string
	ErrorReports   []ErrorReport // calls to /init/error and /exit/error
	FaultAt        *time.Duration
	Exited         bool
	ExitAt         time.Duration
	ExitCode       int    // -1 when killed by a signal
	Signal         string // the signal that ended it, if any
	Killed         bool   // the emulator killed it (a deadline passed)
	Interrupted    bool   // the emulator's context ended the run

	// Frozen lists the idle windows the extension spent stopped (Config.Freeze).
	Frozen []Window

	Outcome    Outcome
	Violations []string // rules broken and deadlines missed; empty for a good run
	Timeline   []Entry
	Telemetry  TelemetryReport
	Sink       SinkReport
	// RuntimeProxy is what the emulated runtime did through the extension's Runtime
	// API proxy (Config.Companion.RuntimeProxy).
	RuntimeProxy RuntimeProxyReport

	// Logs keeps the extension's lifecycle log lines, and its first warnings and
	// errors, when the emulator read its output (Config.Logs).
	Logs []LogLine
	// Deliveries are the Telemetry API's POSTs to the extension's listener.
	Deliveries []Delivery
}

// Delivery is one round of telemetry batches POSTed to the subscriber.
type Delivery struct {
	Window
	Phase    PhaseKind // after which phase (a burst is an invoke's)
	Records  int       // sent
	Accepted int       // in batches answered 200
}

// Invoke is one INVOKE event.
type Invoke struct {
	RequestID string
	At        time.Duration // delivered, from the extension's start
	// Extension is INVOKE delivered -> the extension back in /event/next: the time it
	// adds to the invocation (PostRuntimeExtensionsDuration when it exceeds the function).
	Extension  time.Duration
	Duration   time.Duration // the whole invocation: max(function, extension)
	BackInNext bool
}

// Shutdown is the SHUTDOWN event.
type Shutdown struct {
	Reason         string
	At             time.Duration
	Deadline       time.Duration // SHUTDOWN delivery to deadlineMs
	Duration       time.Duration // SHUTDOWN delivery to process exit
	BeforeDeadline bool
}

// ErrorReport is one call to /init/error or /exit/error.
type ErrorReport struct {
	Op      string // "init/error" or "exit/error"
	Type    string // Lambda-Extension-Function-Error-Type
	Message string
	At      time.Duration
}

// Window is a span of the run, as offsets from the extension's start.
type Window struct {
	From, To time.Duration
}

// Entry is one line of the timeline.
type Entry struct {
	At     time.Duration
	What   string
	Detail string
}

// OK reports whether no rule was broken and no deadline missed.
func (r *Report) OK() bool { return len(r.Violations) == 0 }

// ExitAfterFault is the time from the fault to the process exit (0 without a fault).
func (r *Report) ExitAfterFault() time.Duration {
	if r.FaultAt == nil || !r.Exited {
		return 0
	}
	return r.ExitAt - *r.FaultAt
}

func (r *Report) finish() {
	switch {
	case r.Interrupted:
		r.Outcome = OutcomeInterrupted
	case r.Killed:
		r.Outcome = OutcomeKilled
	case r.Shutdown != nil && r.ExitCode == 0 && r.Shutdown.BeforeDeadline:
		r.Outcome = OutcomeClean
	case len(r.ErrorReports) > 0 && r.ErrorReports[0].Op == "init/error":
		r.Outcome = OutcomeInitError
	case len(r.ErrorReports) > 0:
		r.Outcome = OutcomeExitError
	default:
		r.Outcome = OutcomeCrash
	}
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.3fs", d.Seconds())
	}
}

// WriteTimeline writes the human-readable timeline and summary.
func (r *Report) WriteTimeline(w io.Writer) error {
	var b strings.Builder
	b.WriteString(TimelineHeader(r.Extension, r.Fault))
	for _, e := range r.Timeline {
		b.WriteString(e.String())
	}
	b.WriteString(r.summary())
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteSummary writes the summary that ends the timeline (for a live timeline, whose
// header and entries were written as they came).
func (r *Report) WriteSummary(w io.Writer) error {
	_, err := io.WriteString(w, r.summary())
	return err
}

// TimelineHeader is the line that starts the timeline.
func TimelineHeader(extension string, fault Fault) string {
	name := string(fault)
	if name == "" {
		name = "none"
	}
	return fmt.Sprintf("== emulator: %s (fault: %s)\n", extension, name)
}

// String is the entry as a line of the timeline.
func (e Entry) String() string {
	return fmt.Sprintf("%10s  %-18s %s\n", fmtDur(e.At), e.What, e.Detail)
}

func (r *Report) summary() string {
	var b strings.Builder
	b.WriteString("== summary\n")
	if r.InitDone {
		fmt.Fprintf(&b, "  init            %s (start -> first next)\n", fmtDur(r.Init))
	} else {
		b.WriteString("  init            not completed\n")
	}
	if n := len(r.Invokes); n > 0 {
		var sum, worst time.Duration
		back := 0
		for _, inv := range r.Invokes {
			if inv.BackInNext {
				back++
				sum += inv.Extension
				worst = max(worst, inv.Extension)
			}
		}
		if back > 0 {
			fmt.Fprintf(&b, "  invokes         %d sent, %d back in next; extension time mean %s, max %s\n", n, back, fmtDur(sum/time.Duration(back)), fmtDur(worst))
		} else {
			fmt.Fprintf(&b, "  invokes         %d sent, none back in next\n", n)
		}
	}
	if s := r.Shutdown; s != nil {
		if s.Duration > 0 {
			fmt.Fprintf(&b, "  shutdown        %s (reason %s), %s before the %s deadline\n", fmtDur(s.Duration), s.Reason, fmtDur(s.Deadline-s.Duration), fmtDur(s.Deadline))
		} else {
			fmt.Fprintf(&b, "  shutdown        reason %s, not exited by the %s deadline\n", s.Reason, fmtDur(s.Deadline))
		}
	}
	if r.LMIInvocations > 0 {
		fmt.Fprintf(&b, "  invocations     %d (Lambda Managed Instances: no INVOKE events)\n", r.LMIInvocations)
	}
	if p := r.RuntimeProxy; p.Enabled {
		b.WriteString(p.summary())
	}
	if k := r.Sink; k.Requests > 0 {
		fmt.Fprintf(&b, "  sink            %d requests (%d gzip), %d records taken, %d requests refused\n", k.Requests, k.Gzip, k.Records, k.Refused)
	}
	for _, e := range r.ErrorReports {
		fmt.Fprintf(&b, "  %-15s %s: %s\n", e.Op, e.Type, e.Message)
	}
	exit := fmt.Sprintf("code %d", r.ExitCode)
	if r.Signal != "" {
		exit = "signal " + r.Signal
	}
	if r.FaultAt != nil {
		exit += fmt.Sprintf(", %s after the fault", fmtDur(r.ExitAfterFault()))
	}
	fmt.Fprintf(&b, "  exit            %s\n", exit)
	fmt.Fprintf(&b, "  outcome         %s\n", r.Outcome)
	if len(r.Violations) == 0 {
		b.WriteString("  violations      none\n")
	} else {
		fmt.Fprintf(&b, "  violations      %d\n", len(r.Violations))
		for _, v := range r.Violations {
			fmt.Fprintf(&b, "    - %s\n", v)
		}
	}
	return b.String()
}

// ms turns a duration into milliseconds for the JSON summary.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// MarshalJSON writes the summary with durations in milliseconds (*_ms fields).
func (r *Report) MarshalJSON() ([]byte, error) {
	type invoke struct {
		RequestID   string  `json:"request_id"`
		AtMs        float64 `json:"at_ms"`
		ExtensionMs float64 `json:"extension_ms"`
		DurationMs  float64 `json:"duration_ms"`
		BackInNext  bool    `json:"back_in_next"`
	}
	type shutdown struct {
		Reason         string  `json:"reason"`
		AtMs           float64 `json:"at_ms"`
		DeadlineMs     float64 `json:"deadline_ms"`
		DurationMs     float64 `json:"duration_ms"`
		BeforeDeadline bool    `json:"before_deadline"`
	}
	type errorReport struct {
		Op      string  `json:"op"`
		Type    string  `json:"type"`
		Message string  `json:"message"`
		AtMs    float64 `json:"at_ms"`
	}
	type entry struct {
		AtMs   float64 `json:"at_ms"`
		What   string  `json:"what"`
		Detail string  `json:"detail,omitempty"`
	}
	out := struct {
		Extension        string            `json:"extension"`
		Fault            string            `json:"fault"`
		Registered       bool              `json:"registered"`
		RegisteredName   string            `json:"registered_name"`
		Events           []string          `json:"events"`
		AcceptFeature    string            `json:"accept_feature"`
		RegisterCalls    int               `json:"register_calls"`
		NextCalls        int               `json:"next_calls"`
		AbandonedNexts   int               `json:"abandoned_nexts"`
		InitDone         bool              `json:"init_done"`
		InitMs           float64           `json:"init_ms"`
		Invokes          []invoke          `json:"invokes"`
		Shutdown         *shutdown         `json:"shutdown"`
		ErrorReports     []errorReport     `json:"error_reports"`
		FaultAtMs        *float64          `json:"fault_at_ms"`
		ExitAfterFaultMs float64           `json:"exit_after_fault_ms"`
		Exited           bool              `json:"exited"`
		ExitAtMs         float64           `json:"exit_at_ms"`
		ExitCode         int               `json:"exit_code"`
		Signal           string            `json:"signal,omitempty"`
		Killed           bool              `json:"killed"`
		Outcome          Outcome           `json:"outcome"`
		OK               bool              `json:"ok"`
		Violations       []string          `json:"violations"`
		Timeline         []entry           `json:"timeline"`
		Telemetry        TelemetryReport   `json:"telemetry"`
		RuntimeProxy     *runtimeProxyJSON `json:"runtime_proxy,omitempty"`
	}{
		Extension: r.Extension, Fault: string(r.Fault), Registered: r.Registered,
		RegisteredName: r.RegisteredName, Events: r.Events, AcceptFeature: r.AcceptFeature, RegisterCalls: r.RegisterCalls,
		NextCalls: r.NextCalls, AbandonedNexts: r.AbandonedNexts, InitDone: r.InitDone,
		InitMs: ms(r.Init), ExitAfterFaultMs: ms(r.ExitAfterFault()), Exited: r.Exited,
		ExitAtMs: ms(r.ExitAt), ExitCode: r.ExitCode, Signal: r.Signal, Killed: r.Killed,
		Outcome: r.Outcome, OK: r.OK(), Violations: r.Violations, Telemetry: r.Telemetry,
		RuntimeProxy: r.RuntimeProxy.json(),
		Invokes:      []invoke{}, ErrorReports: []errorReport{}, Timeline: []entry{},
	}
	if out.Events == nil {
		out.Events = []string{}
	}
	if out.Violations == nil {
		out.Violations = []string{}
	}
	for _, inv := range r.Invokes {
		out.Invokes = append(out.Invokes, invoke{inv.RequestID, ms(inv.At), ms(inv.Extension), ms(inv.Duration), inv.BackInNext})
	}
	if s := r.Shutdown; s != nil {
		out.Shutdown = &shutdown{s.Reason, ms(s.At), ms(s.Deadline), ms(s.Duration), s.BeforeDeadline}
	}
	for _, e := range r.ErrorReports {
		out.ErrorReports = append(out.ErrorReports, errorReport{e.Op, e.Type, e.Message, ms(e.At)})
	}
	if r.FaultAt != nil {
		v := ms(*r.FaultAt)
		out.FaultAtMs = &v
	}
	for _, e := range r.Timeline {
		out.Timeline = append(out.Timeline, entry{ms(e.At), e.What, e.Detail})
	}
	return json.Marshal(out)
}
