package telemetry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Record types of the Telemetry API, schema 2022-12-13.
const (
	TypeInitStart             = "platform.initStart"
	TypeInitRuntimeDone       = "platform.initRuntimeDone"
	TypeInitReport            = "platform.initReport"
	TypeStart                 = "platform.start"
	TypeRuntimeDone           = "platform.runtimeDone"
	TypeReport                = "platform.report"
	TypeRestoreStart          = "platform.restoreStart"
	TypeRestoreRuntimeDone    = "platform.restoreRuntimeDone"
	TypeRestoreReport         = "platform.restoreReport"
	TypeExtension             = "platform.extension"
	TypeTelemetrySubscription = "platform.telemetrySubscription"
	TypeLogsDropped           = "platform.logsDropped"
	TypeFunction              = "function"
	TypeExtensionLog          = "extension"
)

// ErrMalformedBatch wraps a body that is not a JSON array of telemetry records.
var ErrMalformedBatch = errors.New("malformed telemetry batch")

// Record is one record Lambda delivered: {"time", "type", "record"}.
//
// Body holds the typed form of the documented types: *InitStart, *InitRuntimeDone,
// *InitReport, *Start, *RuntimeDone, *Report, *RestoreStart, *RestoreRuntimeDone,
// *RestoreReport, *ExtensionState, *TelemetrySubscription, *LogsDropped, and *Log for the
// function and extension log types. It is nil for types this package does not know
// (and for a documented type whose record does not have the documented shape): Raw
// always keeps the record exactly as delivered, so nothing is lost.
type Record struct {
	Time time.Time
	Type string
	Raw  json.RawMessage
	Body any
}

// MarshalJSON gives the record back in the shape Lambda delivered it.
func (r Record) MarshalJSON() ([]byte, error) {
	raw := r.Raw
	if len(raw) == 0 {
		raw = json.RawMessage("null")
	}
	var when any
	if !r.Time.IsZero() {
		when = r.Time.UTC().Format(time.RFC3339Nano)
	}
	return json.Marshal(struct {
		Time   any             `json:"time"`
		Type   string          `json:"type"`
		Record json.RawMessage `json:"record"`
	}{when, r.Type, raw})
}

// Parse reads one batch: a JSON array of records. An empty array is a valid, empty
// batch. Anything else that is not an array of objects with a "type" gives an error
// wrapping ErrMalformedBatch.
func Parse(data []byte) ([]Record, error) {
	var envelopes []struct {
		Time   string          `json:"time"`
		Type   string          `json:"type"`
		Record json.RawMessage `json:"record"`
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return nil, fmt.Errorf("%w: not a JSON array", ErrMalformedBatch)
	}
	if err := json.Unmarshal(trimmed, &envelopes); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedBatch, err)
	}
	records := make([]Record, 0, len(envelopes))
	for i, env := range envelopes {
		if env.Type == "" {
			return nil, fmt.Errorf("%w: record %d has no type", ErrMalformedBatch, i)
		}
		rec := Record{Type: env.Type, Raw: env.Record}
		// A time Lambda formats differently must not cost the record.
		if t, err := time.Parse(time.RFC3339Nano, env.Time); err == nil {
			rec.Time = t
		}
		rec.Body = decodeBody(env.Type, env.Record)
		records = append(records, rec)
	}
	return records, nil
}

// decodeBody returns the typed record, or nil for an unknown type or unexpected shape.
func decodeBody(kind string, raw json.RawMessage) any {
	var body any
	switch kind {
	case TypeInitStart:
		body = &InitStart{}
	case TypeInitRuntimeDone:
		body = &InitRuntimeDone{}
	case TypeInitReport:
		body = &InitReport{}
	case TypeStart:
		body = &Start{}
	case TypeRuntimeDone:
		body = &RuntimeDone{}
	case TypeReport:
		body = &Report{}
	case TypeRestoreStart:
		body = &RestoreStart{}
	case TypeRestoreRuntimeDone:
		body = &RestoreRuntimeDone{}
	case TypeRestoreReport:
		body = &RestoreReport{}
	case TypeExtension:
		body = &ExtensionState{}
	case TypeTelemetrySubscription:
		body = &TelemetrySubscription{}
	case TypeLogsDropped:
		body = &LogsDropped{}
	case TypeFunction, TypeExtensionLog:
		log, ok := decodeLog(raw)
		if !ok {
			return nil
		}
		return log
	default:
		return nil
	}
	if len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	if err := json.Unmarshal(raw, body); err != nil {
		return nil
	}
	return body
}

// Tracing is the X-Ray context of an invocation.
type Tracing struct {
	SpanID string `json:"spanId,omitempty"`
	Type   string `json:"type,omitempty"`
	Value  string `json:"value,omitempty"`
}

// Span is a named part of a phase, e.g. "responseLatency".
type Span struct {
	Name       string  `json:"name"`
	Start      string  `json:"start"`
	DurationMs float64 `json:"durationMs"`
}

// InitStart is platform.initStart: the function's initialisation began.
type InitStart struct {
	InitializationType string `json:"initializationType"` // on-demand, provisioned-concurrency, snap-start
	Phase              string `json:"phase"`              // init, invoke
	RuntimeVersion     string `json:"runtimeVersion,omitempty"`
	RuntimeVersionArn  string `json:"runtimeVersionArn,omitempty"`
	FunctionName       string `json:"functionName,omitempty"`
	FunctionVersion    string `json:"functionVersion,omitempty"`
	InstanceID         string `json:"instanceId,omitempty"`
	InstanceMaxMemory  int    `json:"instanceMaxMemory,omitempty"`
}

// InitRuntimeDone is platform.initRuntimeDone: the runtime finished its init.
type InitRuntimeDone struct {
	InitializationType string `json:"initializationType"`
	Phase              string `json:"phase"`
	Status             string `json:"status"` // success, failure, error, timeout
	ErrorType          string `json:"errorType,omitempty"`
	Spans              []Span `json:"spans,omitempty"`
}

// InitReport is platform.initReport: how the init phase went and how long it took.
type InitReport struct {
	InitializationType string `json:"initializationType"`
	Phase              string `json:"phase"`
	Status             string `json:"status"`
	ErrorType          string `json:"errorType,omitempty"`
	Metrics            struct {
		DurationMs float64 `json:"durationMs"`
	} `json:"metrics"`
	Spans []Span `json:"spans,omitempty"`
}

// Start is platform.start: an invocation began.
type Start struct {
	RequestID string   `json:"requestId"`
	Version   string   `json:"version,omitempty"`
	Tracing   *Tracing `json:"tracing,omitempty"`
}

// RuntimeDone is platform.runtimeDone: the runtime finished an invocation.
type RuntimeDone struct {
	RequestID string `json:"requestId"`
	Status    string `json:"status"` // success, failure, error, timeout
	ErrorType string `json:"errorType,omitempty"`
	Metrics   *struct {
		DurationMs    float64 `json:"durationMs"`
		ProducedBytes int64   `json:"producedBytes,omitempty"`
	} `json:"metrics,omitempty"`
	Tracing *Tracing `json:"tracing,omitempty"`
	Spans   []Span   `json:"spans,omitempty"`
}

// ReportMetrics are the numbers of a platform.report: what the REPORT log line shows.
type ReportMetrics struct {
	DurationMs       float64 `json:"durationMs"`
	BilledDurationMs int64   `json:"billedDurationMs"`
	MemorySizeMB     int     `json:"memorySizeMB"`
	MaxMemoryUsedMB  int     `json:"maxMemoryUsedMB"`
	// InitDurationMs is set on the first invocation of an execution environment.
	InitDurationMs          *float64 `json:"initDurationMs,omitempty"`
	RestoreDurationMs       *float64 `json:"restoreDurationMs,omitempty"`
	BilledRestoreDurationMs *int64   `json:"billedRestoreDurationMs,omitempty"`
}

// Report is platform.report: an invocation's outcome, duration and memory, sent after
// every extension has called /event/next again.
type Report struct {
	RequestID string        `json:"requestId"`
	Status    string        `json:"status"`
	ErrorType string        `json:"errorType,omitempty"`
	Metrics   ReportMetrics `json:"metrics"`
	Tracing   *Tracing      `json:"tracing,omitempty"`
	Spans     []Span        `json:"spans,omitempty"`
}

// RestoreStart is platform.restoreStart (SnapStart).
type RestoreStart struct {
	RuntimeVersion    string `json:"runtimeVersion,omitempty"`
	RuntimeVersionArn string `json:"runtimeVersionArn,omitempty"`
	FunctionName      string `json:"functionName,omitempty"`
	FunctionVersion   string `json:"functionVersion,omitempty"`
	InstanceID        string `json:"instanceId,omitempty"`
	InstanceMaxMemory int    `json:"instanceMaxMemory,omitempty"`
}

// RestoreRuntimeDone is platform.restoreRuntimeDone (SnapStart).
type RestoreRuntimeDone struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType,omitempty"`
	Spans     []Span `json:"spans,omitempty"`
}

// RestoreReport is platform.restoreReport (SnapStart).
type RestoreReport struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType,omitempty"`
	Metrics   *struct {
		DurationMs float64 `json:"durationMs"`
	} `json:"metrics,omitempty"`
	Spans []Span `json:"spans,omitempty"`
}

// ExtensionState is platform.extension: an extension registered (or failed to).
type ExtensionState struct {
	Name      string   `json:"name"`
	State     string   `json:"state"`
	Events    []string `json:"events,omitempty"`
	ErrorType string   `json:"errorType,omitempty"`
}

// TelemetrySubscription is platform.telemetrySubscription: an extension subscribed.
type TelemetrySubscription struct {
	Name  string   `json:"name"`
	State string   `json:"state"`
	Types []string `json:"types,omitempty"`
}

// LogsDropped is platform.logsDropped: Lambda dropped records because the listener did
// not keep up, or its buffers overflowed.
type LogsDropped struct {
	Reason         string `json:"reason"`
	DroppedRecords int64  `json:"droppedRecords"`
	DroppedBytes   int64  `json:"droppedBytes"`
}

// Log is a function or extension log record. With the text log format Lambda sends
// the line as a JSON string; with the JSON log format it sends an object, whose
// documented fields are copied here and which Object keeps whole.
type Log struct {
	Message   string
	Level     string // JSON log format only: "INFO", "ERROR", ...
	RequestID string // JSON log format only
	Object    json.RawMessage
}

func decodeLog(raw json.RawMessage) (*Log, bool) {
	var text string
	if err := json.Unmarshal(raw, &text); err == nil {
		return &Log{Message: text}, true
	}
	var fields struct {
		Message   json.RawMessage `json:"message"`
		Level     string          `json:"level"`
		RequestID string          `json:"requestId"`
	}
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &fields) != nil {
		return nil, false
	}
	log := &Log{Level: fields.Level, RequestID: fields.RequestID, Object: raw}
	// "message" is usually a string; a structured log may make it an object.
	if err := json.Unmarshal(fields.Message, &log.Message); err != nil {
		log.Message = string(fields.Message)
	}
	return log, true
}
