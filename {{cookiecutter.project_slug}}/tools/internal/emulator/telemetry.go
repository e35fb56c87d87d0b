package emulator

// The emulated Telemetry API. The rest of the emulator only calls the four hooks below
// and never looks inside the types.
//
//   - TelemetryConfig: the Config.Telemetry field (tools/emulator's -telemetry-* flags,
//     added by RegisterFlags).
//   - telemetryState: the Emulator.tel field, for the subscription and delivery counts.
//   - serveTelemetry: answers PUT /2022-07-01/telemetry. It runs on the HTTP server's
//     goroutine after the identifier was checked (register first, known identifier).
//   - telemetryPhase: called by the lifecycle driver, synchronously, after init (first
//     next), when each invocation's function returns (its records up to
//     platform.runtimeDone, while the extension may still be in its post-runtime
//     phase), after each INVOKE completed (function and extension done: its
//     platform.report), and just before SHUTDOWN is delivered.
//   - telemetryReport: fills Report.Telemetry when the run ends (e.mu is held).
//
// What it does: it validates the subscription as Lambda does (schema, types, buffering
// ranges, an HTTP destination on sandbox.localdomain, not port 9001) and answers 200, or
// 400 with a rule violation. After each invocation it POSTs what Lambda would deliver
// for it to the subscriber, on 127.0.0.1 at the destination's port and path (the name
// sandbox.localdomain does not resolve here): platform.start, the function's log lines,
// platform.runtimeDone and platform.report, with platform.initStart,
// platform.initRuntimeDone, platform.initReport, platform.extension and
// platform.telemetrySubscription in the first batch. Batches respect the subscription's
// maxItems and maxBytes and contain only the types subscribed to. With Burst, each
// invocation adds that many function log records, POSTed as fast as the listener takes
// them; the report gives the records per second.
//
// With Disabled it does what AWS's Runtime Interface Emulator does: answer 202 ("not
// supported here") and deliver nothing.

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// TelemetryConfig configures the emulated Telemetry API.
type TelemetryConfig struct {
	// Disabled answers subscriptions with 202 and delivers nothing, like the Runtime
	// Interface Emulator.
	Disabled bool
	// FunctionLines is how many log lines the emulated function writes per invocation
	// (default 2; negative for none).
	FunctionLines int
	// JSONLogs sends function log records in Lambda's JSON log format (objects with
	// timestamp, level, requestId, message) instead of text lines.
	JSONLogs bool
	// Burst adds this many function log records after each invocation, in batches of
	// the subscription's maxItems, POSTed back to back: more than an async
	// extension's queue holds.
	Burst int
}

// RegisterFlags adds the -telemetry-* flags of tools/emulator.
func (c *TelemetryConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.BoolVar(&c.Disabled, "telemetry-disabled", false, "answer Telemetry API subscriptions with 202 and deliver nothing (like the Runtime Interface Emulator)")
	fs.IntVar(&c.FunctionLines, "telemetry-function-lines", defaultFunctionLines, "function log lines delivered per invocation")
	fs.BoolVar(&c.JSONLogs, "telemetry-json-logs", false, "deliver function log records in Lambda's JSON log format")
	fs.IntVar(&c.Burst, "telemetry-burst", 0, "extra function log records delivered back to back after each invocation (a load test of the listener)")
}

const (
	defaultFunctionLines = 2
	telemetrySchema      = "2022-12-13"
	sandboxHost          = "sandbox.localdomain"
	runtimeAPIPort       = 9001
	// deliveryTimeout bounds one POST to the subscriber.
	deliveryTimeout = 10 * time.Second
	// emulatedMaxMemoryUsedMB is the max memory the platform.report claims: the
	// emulator does not measure the function's memory.
	emulatedMaxMemoryUsedMB = 32
	maxKeptErrors           = 5
)

// TelemetryReport is what the Telemetry API saw and delivered, part of the Report.
type TelemetryReport struct {
	// Subscriptions counts PUT /2022-07-01/telemetry calls.
	Subscriptions int `json:"subscriptions"`
	// Subscribed is true once a subscription was accepted (answered 200).
	Subscribed  bool     `json:"subscribed"`
	Types       []string `json:"types,omitempty"`
	Destination string   `json:"destination,omitempty"`
	MaxItems    int      `json:"max_items,omitempty"`
	MaxBytes    int      `json:"max_bytes,omitempty"`
	TimeoutMs   int      `json:"timeout_ms,omitempty"`

	Batches  int   `json:"batches"`  // POSTed to the subscriber
	Records  int   `json:"records"`  // in those batches
	Bytes    int64 `json:"bytes"`    // of those bodies
	Accepted int   `json:"accepted"` // records in batches answered 200
	Refused  int   `json:"refused"`  // batches answered otherwise, or not answered
	// Errors keeps the first few delivery failures.
	Errors []string `json:"errors,omitempty"`

	// ByType counts the records delivered per type.
	ByType map[string]int `json:"by_type,omitempty"`

	// BurstRecords and BurstTime cover the Burst deliveries only: the listener's
	// throughput when it is given records as fast as it takes them.
	BurstRecords          int           `json:"burst_records"`
	BurstTime             time.Duration `json:"-"`
	BurstMs               float64       `json:"burst_ms"`
	BurstRecordsPerSecond float64       `json:"burst_records_per_second"`
}

// PhaseKind names a point of the lifecycle the telemetry hook is called at.
type PhaseKind string

// The phases.
const (
	PhaseInit        PhaseKind = "init"        // Start: process start, End: first next
	PhaseRuntimeDone PhaseKind = "runtimeDone" // Start: INVOKE delivered, End: the function returned
	PhaseInvoke      PhaseKind = "invoke"      // Start: INVOKE delivered, End: function and extension done
	PhaseShutdown    PhaseKind = "shutdown"    // Start: about to deliver SHUTDOWN; End is zero
)

// Phase is one finished lifecycle phase.
type Phase struct {
	Kind      PhaseKind
	RequestID string // invoke only
	Start     time.Time
	End       time.Time
}

// telemetryState is the emulator's telemetry state, guarded by e.mu.
type telemetryState struct {
	report  TelemetryReport
	sub     *subscription
	pending []telemetryRecord // records waiting for the next delivery (init ones)
	invokes int
	initDur time.Duration
	client  *http.Client
}

// subscription is an accepted PUT /2022-07-01/telemetry.
type subscription struct {
	types     map[string]bool
	maxItems  int
	maxBytes  int
	target    string // http://127.0.0.1:PORT/PATH
	requested subscribeRequest
}

type subscribeRequest struct {
	SchemaVersion string   `json:"schemaVersion"`
	Types         []string `json:"types"`
	Buffering     *struct {
		MaxItems  *int `json:"maxItems"`
		MaxBytes  *int `json:"maxBytes"`
		TimeoutMs *int `json:"timeoutMs"`
	} `json:"buffering"`
	Destination struct {
		Protocol string `json:"protocol"`
		URI      string `json:"URI"`
	} `json:"destination"`
}

// telemetryRecord is one record as Lambda delivers it.
type telemetryRecord struct {
	Time   string `json:"time"`
	Type   string `json:"type"`
	Record any    `json:"record"`
}

// category is the subscription type a record type belongs to.
func category(recordType string) string {
	if strings.HasPrefix(recordType, "platform.") {
		return "platform"
	}
	return recordType
}

// parseSubscription checks a subscription body as Lambda does and returns what the
// emulator needs to deliver to it.
func parseSubscription(body []byte) (*subscription, error) {
	var req subscribeRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("body is not a JSON subscription: %v", err)
	}
	var problems []string
	if req.SchemaVersion != telemetrySchema && req.SchemaVersion != "2022-07-01" && req.SchemaVersion != lmiTelemetrySchema {
		problems = append(problems, fmt.Sprintf("schemaVersion %q is not 2022-12-13, 2022-07-01 or 2025-01-29", req.SchemaVersion))
	}
	sub := &subscription{types: map[string]bool{}, maxItems: 10_000, maxBytes: 262_144, requested: req}
	if len(req.Types) == 0 {
		problems = append(problems, "types is empty")
	}
	for _, t := range req.Types {
		if t != "platform" && t != "function" && t != "extension" {
			problems = append(problems, fmt.Sprintf("unknown type %q", t))
		}
		sub.types[t] = true
	}
	if b := req.Buffering; b != nil {
		check := func(name string, v *int, low, high int, into *int) {
			if v == nil {
				return
			}
			if *v < low || *v > high {
				problems = append(problems, fmt.Sprintf("buffering.%s %d is outside %d..%d", name, *v, low, high))
			}
			if into != nil {
				*into = *v
			}
		}
		check("maxItems", b.MaxItems, 1_000, 10_000, &sub.maxItems)
		check("maxBytes", b.MaxBytes, 262_144, 1_048_576, &sub.maxBytes)
		check("timeoutMs", b.TimeoutMs, 25, 30_000, nil)
	}
	if req.Destination.Protocol != "HTTP" {
		problems = append(problems, fmt.Sprintf("destination.protocol %q is not HTTP", req.Destination.Protocol))
	}
	u, err := url.Parse(req.Destination.URI)
	switch {
	case err != nil || u.Scheme != "http":
		problems = append(problems, fmt.Sprintf("destination.URI %q is not an http:// URI", req.Destination.URI))
	case u.Hostname() != sandboxHost:
		problems = append(problems, fmt.Sprintf("destination.URI host %q: Lambda delivers to %s", u.Hostname(), sandboxHost))
	default:
		port, err := strconv.Atoi(u.Port())
		if err != nil || port < 1 || port > 65535 || port == runtimeAPIPort {
			problems = append(problems, fmt.Sprintf("destination.URI port %q: want a port other than %d", u.Port(), runtimeAPIPort))
		}
		sub.target = "http://127.0.0.1:" + u.Port() + u.EscapedPath()
		if u.RawQuery != "" {
			sub.target += "?" + u.RawQuery
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return sub, nil
}

func (e *Emulator) serveTelemetry(w http.ResponseWriter, r *http.Request, body []byte) {
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tel.report.Subscriptions++
	if e.cfg.Telemetry.Disabled {
		e.event(now, "telemetry", "subscription answered 202: disabled (-telemetry-disabled)")
		writeJSON(w, http.StatusAccepted, []byte(`{"status":"OK","message":"Telemetry API is not supported by this emulator"}`))
		return
	}
	sub, err := parseSubscription(body)
	if err == nil {
		if problem := e.lmiSchemaProblem(sub.requested.SchemaVersion); problem != "" {
			err = fmt.Errorf("%s", problem)
		}
	}
	if err != nil {
		e.violateLocked("telemetry subscribe: %v", err)
		writeJSON(w, http.StatusBadRequest, errorBody(err.Error(), "ValidationError"))
		return
	}
	if e.report.InitDone {
		e.violateLocked("telemetry subscribe after Init: subscribe during Init, before the first /event/next")
	}
	e.tel.sub = sub
	rep := &e.tel.report
	rep.Subscribed = true
	rep.Types = sub.requested.Types
	rep.Destination = sub.requested.Destination.URI
	rep.MaxItems, rep.MaxBytes = sub.maxItems, sub.maxBytes
	if b := sub.requested.Buffering; b != nil && b.TimeoutMs != nil {
		rep.TimeoutMs = *b.TimeoutMs
	}
	e.tel.pending = append(e.tel.pending, telemetryRecord{
		Time: stamp(now), Type: "platform.telemetrySubscription",
		Record: map[string]any{"name": e.name, "state": "Subscribed", "types": sub.requested.Types},
	})
	e.event(now, "telemetry", fmt.Sprintf("subscribed %s to %s", strings.Join(sub.requested.Types, ","), sub.requested.Destination.URI))
	writeJSON(w, http.StatusOK, []byte(`"OK"`))
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func ms3(d time.Duration) float64 { return math.Round(float64(d.Microseconds())) / 1000 }

func (e *Emulator) telemetryPhase(p Phase) {
	e.mu.Lock()
	sub := e.tel.sub
	if sub == nil {
		e.mu.Unlock()
		return
	}
	var records []telemetryRecord
	var burst []telemetryRecord
	switch p.Kind {
	case PhaseInit:
		e.tel.initDur = p.End.Sub(p.Start)
		records = e.initRecords(p)
		e.tel.pending = append(e.tel.pending, records...)
		e.mu.Unlock()
		return // delivered with the first invocation's records
	case PhaseRuntimeDone:
		// As in Lambda: the function's records, up to its platform.runtimeDone, arrive
		// when it returns, while the extensions may still be working (an "end" flush
		// waits for them).
		records = append(e.tel.pending, e.runtimeRecords(p)...)
		e.tel.pending = nil
	case PhaseInvoke:
		e.tel.invokes++
		records = append(e.tel.pending, e.reportRecord(p, e.tel.invokes == 1))
		e.tel.pending = nil
		for i := range e.cfg.Telemetry.Burst {
			burst = append(burst, e.functionRecord(time.Now(), p.RequestID, fmt.Sprintf("burst line %d of %d", i+1, e.cfg.Telemetry.Burst)))
		}
	case PhaseShutdown:
		records = e.tel.pending
		e.tel.pending = nil
	}
	if e.tel.client == nil {
		e.tel.client = &http.Client{Timeout: deliveryTimeout}
	}
	client := e.tel.client
	e.mu.Unlock()

	began := time.Now()
	if sent, accepted := e.deliver(client, sub, records); sent > 0 {
		e.mu.Lock()
		e.delivered(began, p.Kind, sent, accepted)
		e.event(time.Now(), "telemetry", fmt.Sprintf("%s: %d records delivered, %d taken", p.Kind, sent, accepted))
		e.mu.Unlock()
	}
	if len(burst) > 0 {
		began := time.Now()
		sent, accepted := e.deliver(client, sub, burst)
		took := time.Since(began)
		e.mu.Lock()
		e.delivered(began, p.Kind, sent, accepted)
		rep := &e.tel.report
		rep.BurstRecords += accepted
		rep.BurstTime += took
		e.event(time.Now(), "telemetry burst", fmt.Sprintf("%d records delivered, %d taken in %s", sent, accepted, fmtDur(took)))
		e.mu.Unlock()
	}
	if p.Kind == PhaseShutdown {
		e.mu.Lock()
		rep := e.tel.report
		e.event(time.Now(), "telemetry", fmt.Sprintf("in all: %d records in %d batches, %d taken, %d batches refused",
			rep.Records, rep.Batches, rep.Accepted, rep.Refused))
		e.mu.Unlock()
	}
}

// initRecords are the platform records of the init phase; the caller holds e.mu.
func (e *Emulator) initRecords(p Phase) []telemetryRecord {
	return []telemetryRecord{
		{stamp(p.Start), "platform.initStart", map[string]any{
			"initializationType": e.initializationType(), "phase": "init",
			"runtimeVersion": "provided:al2023.emulated", "functionName": e.cfg.FunctionName,
			"functionVersion": emulatedFunctionVersion, "instanceId": "emulated-" + randomHex(8),
			"instanceMaxMemory": e.cfg.MemoryMB,
		}},
		{stamp(p.End), "platform.extension", map[string]any{
			"name": e.name, "state": "Ready", "events": e.report.Events,
		}},
		{stamp(p.End), "platform.initRuntimeDone", map[string]any{
			"initializationType": e.initializationType(), "phase": "init", "status": "success",
		}},
		{stamp(p.End), "platform.initReport", map[string]any{
			"initializationType": e.initializationType(), "phase": "init", "status": "success",
			"metrics": map[string]any{"durationMs": ms3(p.End.Sub(p.Start))},
		}},
	}
}

// runtimeRecords are what Lambda reports of one invocation up to the function's
// return (p.End); the caller holds e.mu.
func (e *Emulator) runtimeRecords(p Phase) []telemetryRecord {
	start := telemetryRecord{stamp(p.Start), "platform.start", map[string]any{
		"requestId": p.RequestID, "version": emulatedFunctionVersion,
	}}
	records := []telemetryRecord{start}
	lines := e.cfg.Telemetry.FunctionLines
	if lines == 0 {
		lines = defaultFunctionLines
	}
	fnDur := e.cfg.FunctionDuration
	for i := range max(lines, 0) {
		at := p.Start.Add(fnDur * time.Duration(i) / time.Duration(max(lines, 1)))
		records = append(records, e.functionRecord(at, p.RequestID, fmt.Sprintf("emulated function line %d of %d", i+1, lines)))
	}
	return append(records,
		telemetryRecord{stamp(p.Start.Add(fnDur)), "platform.runtimeDone", map[string]any{
			"requestId": p.RequestID, "status": "success",
			"metrics": map[string]any{"durationMs": ms3(fnDur), "producedBytes": 0},
		}},
	)
}

// reportRecord is the invocation's platform.report, once function and extensions
// are done (p.End); the caller holds e.mu.
func (e *Emulator) reportRecord(p Phase, first bool) telemetryRecord {
	billed := int64(math.Ceil(float64(p.End.Sub(p.Start).Microseconds()) / 1000))
	metrics := map[string]any{
		"durationMs": ms3(p.End.Sub(p.Start)), "billedDurationMs": max(billed, 1),
		"memorySizeMB": e.cfg.MemoryMB, "maxMemoryUsedMB": min(emulatedMaxMemoryUsedMB, e.cfg.MemoryMB),
	}
	if first {
		metrics["initDurationMs"] = ms3(e.tel.initDur)
	}
	return telemetryRecord{stamp(p.End), "platform.report", map[string]any{
		"requestId": p.RequestID, "status": "success", "metrics": metrics,
	}}
}

// functionRecord is one function log line, as text or in the JSON log format.
func (e *Emulator) functionRecord(at time.Time, requestID, message string) telemetryRecord {
	if e.cfg.Telemetry.JSONLogs {
		return telemetryRecord{stamp(at), "function", map[string]any{
			"timestamp": stamp(at), "level": "INFO", "requestId": requestID, "message": message,
		}}
	}
	return telemetryRecord{stamp(at), "function", fmt.Sprintf("%s\t%s\tINFO\t%s\n", stamp(at), requestID, message)}
}

// deliver POSTs the records the subscription asked for, in batches within its
// maxItems and maxBytes, one after another, and counts what the subscriber took.
func (e *Emulator) deliver(client *http.Client, sub *subscription, records []telemetryRecord) (sent, accepted int) {
	var batch [][]byte
	size := 0
	flush := func() {
		if len(batch) == 0 {
			return
		}
		body := append([]byte("["), bytes.Join(batch, []byte(","))...)
		body = append(body, ']')
		ok, problem := post(client, sub.target, body)
		e.mu.Lock()
		rep := &e.tel.report
		rep.Batches++
		rep.Records += len(batch)
		rep.Bytes += int64(len(body))
		if ok {
			rep.Accepted += len(batch)
			accepted += len(batch)
		} else {
			rep.Refused++
			if len(rep.Errors) < maxKeptErrors {
				rep.Errors = append(rep.Errors, problem)
			}
		}
		e.mu.Unlock()
		sent += len(batch)
		batch, size = nil, 0
	}
	for _, rec := range records {
		if !sub.types[category(rec.Type)] {
			continue
		}
		data, err := json.Marshal(rec)
		if err != nil {
			continue
		}
		if len(batch) == sub.maxItems || (len(batch) > 0 && size+len(data)+1 > sub.maxBytes) {
			flush()
		}
		batch = append(batch, data)
		size += len(data) + 1
		e.mu.Lock()
		if e.tel.report.ByType == nil {
			e.tel.report.ByType = map[string]int{}
		}
		e.tel.report.ByType[rec.Type]++
		e.mu.Unlock()
	}
	flush()
	return sent, accepted
}

// post sends one batch and reports whether the subscriber answered 200.
func post(client *http.Client, target string, body []byte) (bool, string) {
	resp, err := client.Post(target, "application/json", bytes.NewReader(body))
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Sprintf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(answer)))
	}
	return true, ""
}

func (e *Emulator) telemetryReport(t *TelemetryReport) {
	*t = e.tel.report
	if t.BurstTime > 0 {
		t.BurstMs = ms3(t.BurstTime)
		t.BurstRecordsPerSecond = math.Round(float64(t.BurstRecords) / t.BurstTime.Seconds())
	}
}
