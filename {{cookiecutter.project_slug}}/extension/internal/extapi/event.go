// Package extapi is a client of the Lambda Extensions API that Lambda serves at
// $AWS_LAMBDA_RUNTIME_API. The extension is the client: it registers, then loops on
// GET /event/next, and reports fatal problems to /init/error or /exit/error.
package extapi

import "time"

// Tracing carries the X-Ray trace header of an invocation.
type Tracing struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Event is one answer of GET /event/next, as Lambda sends it (package extension
// defines the event types and shutdown reasons). Fields of the other event type stay empty;
// unknown fields are ignored so that new Lambda fields never break the extension.
type Event struct {
	EventType          string  `json:"eventType"` // INVOKE, SHUTDOWN, or one not known yet
	DeadlineMs         int64   `json:"deadlineMs"`
	RequestID          string  `json:"requestId,omitempty"`
	InvokedFunctionArn string  `json:"invokedFunctionArn,omitempty"`
	Tracing            Tracing `json:"tracing"`
	ShutdownReason     string  `json:"shutdownReason,omitempty"`
}

// Deadline is the event's deadline as a time; the zero time when Lambda sent none.
func (e Event) Deadline() time.Time {
	if e.DeadlineMs <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(e.DeadlineMs)
}

// Registration is what Lambda tells the extension when it registers.
type Registration struct {
	// ExtensionID is the Lambda-Extension-Identifier sent on every later call.
	ExtensionID     string `json:"-"`
	FunctionName    string `json:"functionName"`
	FunctionVersion string `json:"functionVersion"`
	Handler         string `json:"handler"`
	// AccountID is set because the client asks for the accountId feature.
	AccountID string `json:"accountId,omitempty"`
}
