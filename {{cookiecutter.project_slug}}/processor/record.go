package processor

import (
	"time"

	"{{ cookiecutter.go_module }}/extension"
)

// Record is what the demo keeps about one invocation: something real to look at in
// CloudWatch before you write your own processing.
type Record struct {
	RequestID  string `json:"request_id"`
	Invocation int    `json:"invocation"`
	// ColdStart is true for the first invocation this execution environment serves.
	ColdStart bool `json:"cold_start"`
	// DeadlineHeadroomMs is how long the invocation still had when the extension saw it.
	DeadlineHeadroomMs int64  `json:"deadline_headroom_ms"`
	TraceID            string `json:"trace_id,omitempty"`
}

// NewRecord describes the invocation ev, the n-th one of this process, seen at now.
func NewRecord(ev extension.Event, n int, now time.Time) Record {
	rec := Record{
		RequestID:  ev.RequestID,
		Invocation: n,
		ColdStart:  n == 1,
		TraceID:    ev.TraceID,
	}
	if !ev.Deadline.IsZero() {
		rec.DeadlineHeadroomMs = ev.Deadline.Sub(now).Milliseconds()
	}
	return rec
}
