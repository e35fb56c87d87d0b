package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The emulated runtime (Config.Companion.RuntimeProxy). The emulator serves the
// Runtime API next to the Extensions API, at AWS_LAMBDA_RUNTIME_API: the address the
// extension's proxy forwards to by default, as in Lambda. A runtime, started when the
// extension registers, calls it through the proxy at 127.0.0.1:PREFIX_PROXY_PORT, as
// the layer's exec wrapper makes a real runtime do: GET next (the first one that
// reaches the Runtime API ends the function's init), then for each INVOKE the event,
// Config.FunctionDuration of work, POST .../response and GET next again. Both ends are
// the emulator's, so it compares what went in with what came out: the event the
// runtime got with the one the Runtime API sent, the response the Runtime API got with
// the one the runtime sent, and the request ids on the way. The runtime is stopped
// before SHUTDOWN, as Lambda ends the runtime before it sends SHUTDOWN to extensions.

// The Runtime API's paths and headers.
const (
	runtimeAPIPrefix         = "/2018-06-01/runtime"
	headerRuntimeRequestID   = "Lambda-Runtime-Aws-Request-Id"
	headerRuntimeDeadline    = "Lambda-Runtime-Deadline-Ms"
	headerRuntimeFunctionArn = "Lambda-Runtime-Invoked-Function-Arn"
	headerRuntimeTraceID     = "Lambda-Runtime-Trace-Id"
	// runtimeMaxBody is Lambda's payload limit (6 MB) and some room.
	runtimeMaxBody           = 6<<20 + 64<<10
	runtimeStopWait          = time.Second
	errorTypeBadRequestID    = "InvalidRequestID"
	errorTypeStateTransition = "InvalidStateTransition"
)

// RuntimeProxyReport is what the emulated runtime did through the extension's
// Runtime API proxy; empty unless Config.Companion.RuntimeProxy.
type RuntimeProxyReport struct {
	Enabled bool
	// Ready: the runtime's first next reached the Runtime API through the proxy.
	Ready bool
	// Invocations lists each event the Runtime API handed to the runtime's next.
	Invocations []RuntimeInvocation
	// Failures are the runtime's calls that failed (a status it did not expect, or
	// no answer), as "what: why".
	Failures []string
}

// RuntimeInvocation is one invocation as the runtime and the Runtime API saw it.
type RuntimeInvocation struct {
	RequestID  string // as the Runtime API sent it
	EventBytes int    // as the Runtime API sent it
	// EventThrough: the runtime got the event through the proxy; GotRequestID is the
	// request id that came with it, EventUnchanged whether its body is byte for byte
	// the one sent, HeadersKept whether the deadline, function ARN and trace id came too.
	EventThrough   bool
	GotRequestID   string
	EventUnchanged bool
	HeadersKept    bool
	// EventLatency is the Runtime API's answer to the runtime's having the event.
	EventLatency time.Duration
	// ResultBytes is the size of the response the runtime sent; ResultThrough says a
	// result for RequestID reached the Runtime API through the proxy, ReceivedBytes
	// its size there and ResultUnchanged whether it is byte for byte the one sent.
	ResultBytes     int
	ResultThrough   bool
	ReceivedBytes   int
	ResultUnchanged bool
	// Status is the proxy's answer to the runtime's POST (Lambda's 202 passed on), and
	// ResultLatency that POST's round trip.
	Status        int
	ResultLatency time.Duration
}

// Proxied reports whether the invocation went through the proxy both ways under its
// own request id.
func (i RuntimeInvocation) Proxied() bool {
	return i.EventThrough && i.ResultThrough && i.GotRequestID == i.RequestID
}

// Count returns how many invocations went through the proxy both ways, and how many
// of those kept their bytes both ways.
func (r RuntimeProxyReport) Count() (proxied, unchanged int) {
	for _, inv := range r.Invocations {
		if inv.Proxied() {
			proxied++
			if inv.EventUnchanged && inv.ResultUnchanged && inv.HeadersKept {
				unchanged++
			}
		}
	}
	return proxied, unchanged
}

// runtimeState is the emulated runtime's and the Runtime API's; e.mu guards the
// fields below mu.
type runtimeState struct {
	ctx    context.Context // ends when the runtime stops (before SHUTDOWN) or the run ends
	stop   context.CancelFunc
	client *http.Client
	nexts  chan *runtimeNext // the runtime's GETs of next at the Runtime API, for the driver
	ready  chan struct{}     // closed at the first next at the Runtime API, or when the runtime ended
	once   sync.Once
	ended  chan struct{} // closed when the runtime returned

	started bool
	ready1  bool
	handed  *runtimeInvocation // the last event handed to the runtime's next
	byID    map[string]*runtimeInvocation
	order   []*runtimeInvocation
	failed  []string
}

// runtimeNext is one GET next of the runtime waiting at the Runtime API.
type runtimeNext struct {
	reply chan *runtimeInvocation
}

type runtimeInvocation struct {
	RuntimeInvocation
	event, response   []byte
	deadline          time.Time
	arn, trace        string
	delivered, sentAt time.Time
	answered          chan struct{} // closed when the runtime had the answer to its result
}

// serveRuntimeAPI adds the Runtime API to the emulated Lambda.
func (e *Emulator) serveRuntimeAPI(mux *http.ServeMux) {
	if !e.cfg.Companion.RuntimeProxy {
		return
	}
	rt := &e.rt
	rt.ctx, rt.stop = context.WithCancel(context.Background())
	go func() {
		<-e.gone
		rt.stop()
	}()
	rt.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}} // no timeout: next long-polls
	rt.nexts = make(chan *runtimeNext)
	rt.ready = make(chan struct{})
	rt.ended = make(chan struct{})
	rt.byID = make(map[string]*runtimeInvocation)
	e.report.RuntimeProxy.Enabled = true
	mux.HandleFunc("GET "+runtimeAPIPrefix+"/invocation/next", e.handleRuntimeNext)
	mux.HandleFunc("POST "+runtimeAPIPrefix+"/invocation/{id}/response", e.handleRuntimeResult("response"))
	mux.HandleFunc("POST "+runtimeAPIPrefix+"/invocation/{id}/error", e.handleRuntimeResult("error"))
	mux.HandleFunc("POST "+runtimeAPIPrefix+"/init/error", e.handleRuntimeInitError)
}

// startRuntime starts the runtime; the function's init ends once its first next
// reached the Runtime API (bounded by the init timeout). The caller holds e.mu.
func (e *Emulator) startRuntime() {
	rt := &e.rt
	rt.started = true
	e.fn.initDone.Add(1)
	go e.runRuntime()
	go func() {
		defer e.fn.initDone.Done()
		timer := time.NewTimer(time.Until(e.started.Add(e.cfg.InitTimeout)))
		defer timer.Stop()
		select {
		case <-rt.ready:
		case <-timer.C:
			e.runtimeViolation("init: the runtime's first next did not reach the Runtime API through the proxy within %s (Lambda: Init timeout)", e.cfg.InitTimeout)
		case <-e.gone:
		}
	}()
}

// runRuntime is the emulated runtime: next, work, response, next... until stopped.
func (e *Emulator) runRuntime() {
	rt := &e.rt
	defer close(rt.ended)
	defer rt.once.Do(func() { close(rt.ready) })
	base := "http://" + e.fn.proxyAddr + runtimeAPIPrefix + "/invocation/"
	for {
		next := functionCall(rt.ctx, rt.client, http.MethodGet, base+"next", nil, nil)
		if rt.ctx.Err() != nil {
			return
		}
		if next.err != nil || next.status != http.StatusOK {
			e.runtimeFailed(next.started, "GET next through the proxy", next)
			return
		}
		id := next.header.Get(headerRuntimeRequestID)
		inv := e.runtimeGotEvent(id, next)
		workEnd := time.Now()
		if inv != nil {
			workEnd = inv.delivered.Add(e.cfg.FunctionDuration)
		}
		if !e.runtimeWork(workEnd) {
			return
		}
		response, _ := json.Marshal(map[string]any{"requestId": id, "eventBytes": len(next.body), "ok": true})
		e.mu.Lock()
		if inv != nil {
			inv.response, inv.ResultBytes = response, len(response)
		}
		e.mu.Unlock()
		post := functionCall(rt.ctx, rt.client, http.MethodPost, base+url.PathEscape(id)+"/response",
			http.Header{"Content-Type": {"application/json"}}, response)
		if rt.ctx.Err() != nil {
			return
		}
		e.runtimeSentResult(inv, id, post)
		if post.err != nil || post.status != http.StatusAccepted {
			e.runtimeFailed(post.started, "POST "+id+"/response through the proxy", post)
			return
		}
	}
}

// runtimeWork waits until the function's work is done; false when the runtime stops.
func (e *Emulator) runtimeWork(until time.Time) bool {
	timer := time.NewTimer(time.Until(until))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-e.rt.ctx.Done():
		return false
	}
}

// runtimeGotEvent records the event the runtime got: it belongs to the invocation
// last handed to its next, whatever request id came with it.
func (e *Emulator) runtimeGotEvent(id string, c call) *runtimeInvocation {
	got := time.Now()
	e.mu.Lock()
	inv := e.rt.handed
	e.rt.handed = nil
	detail := id + ": an event nobody sent"
	if inv != nil {
		inv.EventThrough, inv.GotRequestID = true, id
		inv.EventUnchanged = bytes.Equal(c.body, inv.event)
		inv.HeadersKept = c.header.Get(headerRuntimeDeadline) == strconv.FormatInt(inv.deadline.UnixMilli(), 10) &&
			c.header.Get(headerRuntimeFunctionArn) == inv.arn && c.header.Get(headerRuntimeTraceID) == inv.trace
		inv.EventLatency = got.Sub(inv.sentAt)
		detail = fmt.Sprintf("%s: event %d B %s, %s from the Runtime API to the runtime",
			inv.RequestID, len(c.body), sameOrChanged(inv.EventUnchanged, len(inv.event)), fmtDur(inv.EventLatency))
		if id != inv.RequestID {
			detail += ", request id changed to " + strconv.Quote(id)
		}
		if !inv.HeadersKept {
			detail += ", deadline, function ARN or trace id lost"
		}
	}
	e.mu.Unlock()
	e.functionEntry(got, "next via proxy", detail)
	return inv
}

// runtimeSentResult records the runtime's POST of its response.
func (e *Emulator) runtimeSentResult(inv *runtimeInvocation, id string, c call) {
	e.mu.Lock()
	detail := id + ": response sent"
	if inv != nil {
		defer close(inv.answered)
		inv.Status, inv.ResultLatency = c.status, c.took
		reached := "did not reach the Runtime API"
		if inv.ResultThrough {
			reached = fmt.Sprintf("reached the Runtime API %s", sameOrChanged(inv.ResultUnchanged, inv.ReceivedBytes))
		}
		detail = fmt.Sprintf("%s: %d B sent, %s", id, inv.ResultBytes, reached)
	}
	if c.err == nil {
		detail += fmt.Sprintf(", %d in %s", c.status, fmtDur(c.took))
	}
	e.mu.Unlock()
	e.functionEntry(c.started, "response via proxy", detail)
}

// sameOrChanged says whether bytes passed unchanged; n is the size they have at the other end.
func sameOrChanged(unchanged bool, n int) string {
	if unchanged {
		return "as sent"
	}
	return fmt.Sprintf("changed (%d B at the other end)", n)
}

// runtimeFailed records a failed call of the runtime, which then ends, as a real
// runtime exits when the Runtime API fails it.
func (e *Emulator) runtimeFailed(started time.Time, what string, c call) {
	why := fmt.Sprintf("%d %s", c.status, bytes.TrimSpace(c.body))
	if c.err != nil {
		why = c.err.Error()
	}
	e.mu.Lock()
	e.rt.failed = append(e.rt.failed, what+": "+why)
	e.mu.Unlock()
	e.functionEntry(started, "runtime failed", what+": "+why)
}

// runtimeInvoke hands invocation i's event to the runtime's waiting next, and returns
// the func that waits for its response at the Runtime API (until the deadline).
func (e *Emulator) runtimeInvoke(i int, requestID string, delivered, deadline time.Time, trace string) func() {
	cfg := e.cfg
	event, _ := json.Marshal(map[string]any{"emulated": true, "invocation": i + 1})
	inv := &runtimeInvocation{
		RuntimeInvocation: RuntimeInvocation{RequestID: requestID, EventBytes: len(event)},
		event:             event, deadline: deadline, trace: trace, delivered: delivered,
		arn:      fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", cfg.Region, emulatedAccountID, cfg.FunctionName),
		answered: make(chan struct{}),
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case n := <-e.rt.nexts:
		e.mu.Lock()
		e.rt.byID[requestID] = inv
		e.rt.order = append(e.rt.order, inv)
		e.rt.handed = inv
		e.mu.Unlock()
		n.reply <- inv
	case <-e.rt.ended:
		e.runtimeViolation("invoke %s: the runtime is gone (its call through the proxy failed): Lambda fails the invocation", requestID)
		return func() {}
	case <-timer.C:
		e.runtimeViolation("invoke %s: the runtime's next did not reach the Runtime API through the proxy by the deadline: Lambda times the invocation out", requestID)
		return func() {}
	case <-e.gone:
		return func() {}
	}
	// The runtime is done with the invocation once it has the answer to its response
	// (Lambda's, passed on by the proxy).
	return func() {
		timer := time.NewTimer(time.Until(deadline))
		defer timer.Stop()
		select {
		case <-inv.answered:
		case <-e.rt.ended:
			select {
			case <-inv.answered:
			default:
				e.runtimeViolation("invoke %s: the runtime is gone before it sent its response: Lambda fails the invocation", requestID)
				return
			}
		case <-timer.C:
			e.runtimeViolation("invoke %s: the runtime's response did not reach the Runtime API through the proxy by the deadline: Lambda times the invocation out", requestID)
			return
		case <-e.gone:
			return
		}
		e.mu.Lock()
		through := inv.ResultThrough
		e.mu.Unlock()
		if !through {
			e.runtimeViolation("invoke %s: the runtime's response did not reach the Runtime API through the proxy: Lambda fails the invocation", requestID)
		}
	}
}

// runtimeViolation is a violation in a normal run; with a fault (which breaks the
// extension, and with it the proxy, on purpose) it is only a timeline entry.
func (e *Emulator) runtimeViolation(format string, args ...any) {
	if e.cfg.Fault == FaultNone {
		e.violate(format, args...)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.event(time.Now(), "runtime failed", fmt.Sprintf(format, args...))
}

// stopRuntime ends the runtime before SHUTDOWN, as Lambda does: its waiting next
// goes away.
func (e *Emulator) stopRuntime() {
	e.mu.Lock()
	started := e.rt.started
	e.mu.Unlock()
	if !started {
		return
	}
	e.rt.stop()
	timer := time.NewTimer(runtimeStopWait)
	defer timer.Stop()
	select {
	case <-e.rt.ended:
	case <-timer.C:
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.event(time.Now(), "runtime stopped", "before SHUTDOWN, as Lambda ends the runtime first")
}

// waitRuntime waits for the runtime to return once the run ended.
func (e *Emulator) waitRuntime() {
	e.mu.Lock()
	started := e.rt.started
	e.mu.Unlock()
	if started {
		e.rt.stop()
		<-e.rt.ended
		e.rt.client.CloseIdleConnections()
	}
}

// runtimeReport fills the report; the caller holds e.mu.
func (e *Emulator) runtimeReport(r *RuntimeProxyReport) {
	r.Ready = e.rt.ready1
	r.Failures = append([]string(nil), e.rt.failed...)
	r.Invocations = nil
	for _, inv := range e.rt.order {
		r.Invocations = append(r.Invocations, inv.RuntimeInvocation)
	}
}

// ---- The Runtime API ----------------------------------------------------------

func (e *Emulator) handleRuntimeNext(w http.ResponseWriter, r *http.Request) {
	e.rt.once.Do(func() {
		e.mu.Lock()
		e.rt.ready1 = true
		e.event(time.Now(), "runtime ready", "its first next reached the Runtime API through the proxy")
		e.mu.Unlock()
		close(e.rt.ready) // after the entry: the first INVOKE's comes later
	})
	n := &runtimeNext{reply: make(chan *runtimeInvocation, 1)}
	select {
	case e.rt.nexts <- n:
	case <-r.Context().Done():
		return
	case <-e.gone:
		panic(http.ErrAbortHandler)
	}
	select {
	case inv := <-n.reply:
		h := w.Header()
		h.Set(headerRuntimeRequestID, inv.RequestID)
		h.Set(headerRuntimeDeadline, strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set(headerRuntimeFunctionArn, inv.arn)
		h.Set(headerRuntimeTraceID, inv.trace)
		e.mu.Lock()
		inv.sentAt = time.Now()
		e.mu.Unlock()
		writeJSON(w, http.StatusOK, inv.event)
	case <-r.Context().Done():
	case <-e.gone:
		panic(http.ErrAbortHandler)
	}
}

func (e *Emulator) handleRuntimeResult(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		body, err := io.ReadAll(io.LimitReader(r.Body, runtimeMaxBody))
		if err != nil {
			return // the proxy went away mid-body
		}
		e.mu.Lock()
		inv := e.rt.byID[id]
		switch {
		case inv == nil:
			e.mu.Unlock()
			e.runtimeViolation("the Runtime API got a %s for request id %q through the proxy, which it never sent", kind, id)
			writeJSON(w, http.StatusBadRequest, errorBody("unknown request id "+id, errorTypeBadRequestID))
			return
		case inv.ResultThrough:
			e.mu.Unlock()
			e.runtimeViolation("the Runtime API got a second result for %s through the proxy", id)
			writeJSON(w, http.StatusBadRequest, errorBody("invocation "+id+" already has a result", errorTypeStateTransition))
			return
		}
		inv.ResultThrough, inv.ReceivedBytes = true, len(body)
		inv.ResultUnchanged = bytes.Equal(body, inv.response)
		e.mu.Unlock()
		writeJSON(w, http.StatusAccepted, []byte(`{"status":"OK"}`))
	}
}

func (e *Emulator) handleRuntimeInitError(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
	e.mu.Lock()
	e.event(time.Now(), "runtime init/error", fmt.Sprintf("%s: %s", r.Header.Get("Lambda-Runtime-Function-Error-Type"), bytes.TrimSpace(body)))
	e.mu.Unlock()
	writeJSON(w, http.StatusAccepted, []byte(`{"status":"OK"}`))
}

// summary is the report's runtime proxy line.
func (r RuntimeProxyReport) summary() string {
	var b strings.Builder
	proxied, unchanged := r.Count()
	switch {
	case !r.Ready:
		b.WriteString("  runtime proxy   the runtime's next never reached the Runtime API through the proxy\n")
	default:
		fmt.Fprintf(&b, "  runtime proxy   %d invocations, %d through the proxy both ways with their request ids; %d of them with events, headers and responses as sent\n",
			len(r.Invocations), proxied, unchanged)
	}
	for _, f := range r.Failures {
		fmt.Fprintf(&b, "    - runtime: %s\n", f)
	}
	return b.String()
}

// runtimeProxyJSON is the report's runtime proxy in the JSON summary.
type runtimeProxyJSON struct {
	Ready       bool                    `json:"ready"`
	Proxied     int                     `json:"proxied"`
	Unchanged   int                     `json:"unchanged"`
	Invocations []runtimeInvocationJSON `json:"invocations"`
	Failures    []string                `json:"failures"`
}

type runtimeInvocationJSON struct {
	RequestID       string  `json:"request_id"`
	GotRequestID    string  `json:"got_request_id"`
	EventBytes      int     `json:"event_bytes"`
	EventUnchanged  bool    `json:"event_unchanged"`
	HeadersKept     bool    `json:"headers_kept"`
	EventLatencyMs  float64 `json:"event_latency_ms"`
	ResultBytes     int     `json:"result_bytes"`
	ReceivedBytes   int     `json:"received_bytes"`
	ResultUnchanged bool    `json:"result_unchanged"`
	Status          int     `json:"status"`
	ResultLatencyMs float64 `json:"result_latency_ms"`
}

// json is the JSON summary's runtime_proxy, nil when the runtime was not emulated.
func (r RuntimeProxyReport) json() *runtimeProxyJSON {
	if !r.Enabled {
		return nil
	}
	out := &runtimeProxyJSON{Ready: r.Ready, Invocations: []runtimeInvocationJSON{}, Failures: r.Failures}
	out.Proxied, out.Unchanged = r.Count()
	if out.Failures == nil {
		out.Failures = []string{}
	}
	for _, i := range r.Invocations {
		out.Invocations = append(out.Invocations, runtimeInvocationJSON{
			i.RequestID, i.GotRequestID, i.EventBytes, i.EventUnchanged, i.HeadersKept, ms(i.EventLatency),
			i.ResultBytes, i.ReceivedBytes, i.ResultUnchanged, i.Status, ms(i.ResultLatency),
		})
	}
	return out
}
