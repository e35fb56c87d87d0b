package emulator

// The emulated Telemetry API. This file is the extension point for it; the rest of the
// emulator only calls the four hooks below and never looks inside the types.
//
//   - TelemetryConfig: the Config.Telemetry field (flags of tools/emulator map to it).
//   - telemetryState: the Emulator.tel field, for subscriptions and delivery state.
//   - serveTelemetry: answers PUT /2022-07-01/telemetry. It runs on the HTTP server's
//     goroutine after the identifier was checked (register first, known identifier);
//     body is the request body (at most 1 MiB). Guard shared state with e.mu or your own
//     lock; call e.violate for a rule the extension broke.
//   - telemetryPhase: called by the lifecycle driver, synchronously, after init (first
//     next), after each INVOKE completed (function and extension done), and just before
//     SHUTDOWN is delivered. Keep it cheap or hand work to a goroutine: it is on the
//     invoke path that make bench measures.
//   - telemetryReport: fills Report.Telemetry when the run ends (e.mu is held).
//
// What this version does: what AWS's Runtime Interface Emulator does, answer the
// subscription with 202 ("not supported here") and deliver nothing. Extensions treat
// 202 as "telemetry not available", not as a failure.

import (
	"net/http"
	"time"
)

// TelemetryConfig configures the emulated Telemetry API. Empty for now.
type TelemetryConfig struct{}

// TelemetryReport is what the Telemetry API saw, part of the Report.
type TelemetryReport struct {
	// Subscriptions counts PUT /2022-07-01/telemetry calls.
	Subscriptions int `json:"subscriptions"`
}

// telemetryState is the emulator's telemetry state.
type telemetryState struct {
	subscriptions int // guarded by e.mu
}

// PhaseKind names a point of the lifecycle the telemetry hook is called at.
type PhaseKind string

// The phases.
const (
	PhaseInit     PhaseKind = "init"     // Start: process start, End: first next
	PhaseInvoke   PhaseKind = "invoke"   // Start: INVOKE delivered, End: function and extension done
	PhaseShutdown PhaseKind = "shutdown" // Start: about to deliver SHUTDOWN; End is zero
)

// Phase is one finished lifecycle phase.
type Phase struct {
	Kind      PhaseKind
	RequestID string // invoke only
	Start     time.Time
	End       time.Time
}

func (e *Emulator) serveTelemetry(w http.ResponseWriter, r *http.Request, body []byte) {
	e.mu.Lock()
	e.tel.subscriptions++
	e.event(time.Now(), "telemetry", "subscription answered 202: not supported by this emulator")
	e.mu.Unlock()
	writeJSON(w, http.StatusAccepted, []byte(`{"status":"OK","message":"Telemetry API is not supported by this emulator"}`))
}

func (e *Emulator) telemetryPhase(p Phase) {}

func (e *Emulator) telemetryReport(t *TelemetryReport) {
	t.Subscriptions = e.tel.subscriptions
}
