// Package runtimeproxy is a Runtime API proxy: the function's runtime talks to it
// (AWS_LAMBDA_RUNTIME_API points here, set by the layer's wrapper script) and it
// forwards every request to the real Runtime API, or to another proxy.
//
// Everything passes unchanged: every path (those it does not know too), every header
// Lambda sends (request id, deadline, trace id, client context, cognito identity),
// status codes and bodies. Hooks see each event before the runtime does and each
// response or error before Lambda does. Bodies of a known length are buffered for the
// hooks (Lambda's payloads are at most 6 MB); streamed responses
// (Lambda-Runtime-Function-Response-Mode: streaming, chunked bodies, trailers) pass
// through chunk by chunk and the hook sees their size once they ended: Lambda already
// has every byte by then, so a result hook cannot change (e.g. redact) a streamed
// body. Buffering it to allow that would undo the streaming; Result.Streamed tells
// the hook, which should say in its own output that it did not touch the body.
//
// When the upstream is gone the runtime gets a 502 with the reason at once, never a
// hang. When it accepts a request and then does not answer, the runtime gets a 504
// once Options.UpstreamTimeout passed (DefaultUpstreamTimeout): that bounds the wait
// for the answer's headers of every request except GET .../invocation/next, which
// long-polls (it waits as long as Lambda has no event for the runtime) and is never
// timed out.
package runtimeproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Paths of the Runtime API the hooks see; every other path is forwarded unchanged.
const (
	NextPath       = "/2018-06-01/runtime/invocation/next"
	invocationPath = "/2018-06-01/runtime/invocation/"
)

// Headers Lambda and the runtime clients use.
const (
	HeaderRequestID    = "Lambda-Runtime-Aws-Request-Id"
	HeaderResponseMode = "Lambda-Runtime-Function-Response-Mode"
)

// MaxBuffered is the largest body the proxy buffers for a hook: Lambda's 6 MB payload
// limit and some room. A larger body passes through unbuffered.
const MaxBuffered = 6<<20 + 64<<10

// dialTimeout bounds connecting to the upstream: it is on this machine, so a slow
// connect means it is gone.
const dialTimeout = time.Second

// DefaultUpstreamTimeout is Options.UpstreamTimeout's default. The Runtime API answers
// a response, an error or an init error at once (it is on this machine); an upstream
// still silent after this long has hung.
const DefaultUpstreamTimeout = 5 * time.Second

// Options tune a Proxy; the zero value takes the defaults.
type Options struct {
	// UpstreamTimeout bounds the wait for the upstream's answer (its headers), from
	// the moment the request, body included, was sent: a streamed response may take
	// the whole invocation to send, and only the wait after it counts. It applies to
	// every request but GET .../invocation/next. 0 means DefaultUpstreamTimeout.
	UpstreamTimeout time.Duration
}

// errUpstreamTimeout marks a request the upstream took but did not answer in time.
var errUpstreamTimeout = errors.New("upstream did not answer")

// Event is an event on its way from Lambda to the runtime.
type Event struct {
	RequestID string
	// Header holds the headers Lambda sent with the event (deadline, trace id, client
	// context, cognito identity, ...). Read only.
	Header http.Header
	// Payload is the event's body; a hook may replace it. nil when the event was too
	// large to buffer.
	Payload []byte
}

// Result is a response or an error on its way from the runtime to Lambda.
type Result struct {
	RequestID string
	// Error is true for POST .../error (the function failed).
	Error bool
	// Header holds the runtime's request headers. Read only.
	Header http.Header
	// Body is the response; a hook may replace it. nil when Streamed.
	Body []byte
	// Streamed is true when the body passed through unbuffered (a streamed response,
	// a chunked body or one with trailers): the hook runs after Lambda got it.
	Streamed bool
	// Bytes is the size of the body as the runtime sent it.
	Bytes int64
	// EventBytes is the size of the event the runtime got for this request id, and
	// Duration the time from the event's delivery to this result (zero if unknown).
	EventBytes int64
	Duration   time.Duration
	// Status is Lambda's answer, known for Streamed results only (the hook of a
	// buffered one runs before Lambda sees it); 0 if unknown.
	Status int
}

// Hooks are called for every event and result; either may be nil. An error is logged
// and the original passes on: a hook cannot break the function.
type Hooks struct {
	Event  func(ctx context.Context, ev *Event) error
	Result func(ctx context.Context, res *Result) error
}

// Stats counts what the proxy forwarded.
type Stats struct {
	Events          uint64 // events handed to the runtime
	Results         uint64 // responses and errors being or having been handed to Lambda
	UpstreamFailure uint64 // requests answered 502: the upstream could not be reached
	UpstreamTimeout uint64 // requests answered 504: the upstream took them, then did not answer
	HookErrors      uint64
}

// Proxy is the http.Handler the runtime calls.
type Proxy struct {
	rp       *httputil.ReverseProxy // every request but next: answers bounded by timeout
	longPoll http.RoundTripper      // next: unbounded
	timeout  time.Duration
	log      *slog.Logger
	ready    chan struct{}
	once     sync.Once
	hooks    Hooks // set once, before ready is closed

	mu       sync.Mutex
	inFlight map[string]delivery // by request id: the event the runtime got

	events, results, upstreamFailure, upstreamTimeout, hookErrors atomic.Uint64
}

type delivery struct {
	at    time.Time
	bytes int64
}

// New returns a proxy to upstream (host:port, as in AWS_LAMBDA_RUNTIME_API). It holds
// every request until SetHooks is called.
func New(upstream string, log *slog.Logger, opts Options) (*Proxy, error) {
	if _, _, err := net.SplitHostPort(upstream); err != nil {
		return nil, fmt.Errorf("upstream %q: want host:port: %w", upstream, err)
	}
	if opts.UpstreamTimeout < 0 {
		return nil, fmt.Errorf("upstream timeout %s: must not be negative", opts.UpstreamTimeout)
	}
	if opts.UpstreamTimeout == 0 {
		opts.UpstreamTimeout = DefaultUpstreamTimeout
	}
	target := &url.URL{Scheme: "http", Host: upstream}
	p := &Proxy{log: log, ready: make(chan struct{}), inFlight: make(map[string]delivery), timeout: opts.UpstreamTimeout}
	newTransport := func(headerTimeout time.Duration) *http.Transport {
		return &http.Transport{
			DialContext:           (&net.Dialer{Timeout: dialTimeout}).DialContext,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			DisableCompression:    true, // bodies pass as they are
			ResponseHeaderTimeout: headerTimeout,
		}
	}
	// Two pools: a long-polling next must not share the bounded transport's limit.
	p.longPoll = newTransport(0)
	bounded := &timeoutTransport{rt: newTransport(opts.UpstreamTimeout), after: opts.UpstreamTimeout}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = target.Scheme
			pr.Out.URL.Host = target.Host
			pr.Out.Host = pr.In.Host
			// The inbound map is filled when the body ends, after Rewrite ran: share it
			// so that the runtime's trailers reach Lambda.
			pr.Out.Trailer = pr.In.Trailer
		},
		Transport: bounded,
		// No FlushInterval: ReverseProxy flushes every write of a response without a
		// length (a stream) at once by itself; one with a length (an event, Lambda's
		// 202) goes out in one write instead of a flush per copy.
		BufferPool:   bufferPool{},
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandler: p.upstreamFailed,
	}
	return p, nil
}

// SetHooks installs the hooks and releases the requests held so far. Only the first
// call counts.
func (p *Proxy) SetHooks(h Hooks) {
	p.once.Do(func() {
		p.hooks = h
		close(p.ready)
	})
}

// Stats returns the counts so far.
func (p *Proxy) Stats() Stats {
	return Stats{Events: p.events.Load(), Results: p.results.Load(),
		UpstreamFailure: p.upstreamFailure.Load(), UpstreamTimeout: p.upstreamTimeout.Load(),
		HookErrors: p.hookErrors.Load()}
}

// ServeHTTP forwards one request of the runtime.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case <-p.ready:
	case <-r.Context().Done():
		return
	}
	path := r.URL.EscapedPath()
	switch {
	case r.Method == http.MethodGet && path == NextPath:
		p.next(w, r)
	case r.Method == http.MethodPost && strings.HasPrefix(path, invocationPath):
		id, kind, ok := strings.Cut(strings.TrimPrefix(path, invocationPath), "/")
		if ok && id != "" && (kind == "response" || kind == "error") {
			p.result(w, r, id, kind == "error")
			return
		}
		p.rp.ServeHTTP(w, r)
	default:
		p.rp.ServeHTTP(w, r)
	}
}

// next forwards GET /next, never timed out; the event goes through the event hook on
// its way back.
func (p *Proxy) next(w http.ResponseWriter, r *http.Request) {
	rp := *p.rp
	rp.Transport = p.longPoll
	rp.ModifyResponse = func(res *http.Response) error {
		if res.StatusCode != http.StatusOK {
			return nil
		}
		p.events.Add(1)
		id := res.Header.Get(HeaderRequestID)
		size := res.ContentLength
		if p.hooks.Event != nil && res.ContentLength >= 0 && res.ContentLength <= MaxBuffered {
			payload, err := io.ReadAll(io.LimitReader(res.Body, MaxBuffered+1))
			res.Body.Close()
			if err != nil {
				return fmt.Errorf("reading the event: %w", err)
			}
			size = int64(len(payload))
			ev := &Event{RequestID: id, Header: res.Header, Payload: payload}
			if err := p.hooks.Event(r.Context(), ev); err != nil {
				p.hookFailed("event", id, err)
				ev.Payload = payload
			}
			res.Body = io.NopCloser(bytes.NewReader(ev.Payload))
			res.ContentLength = int64(len(ev.Payload))
			res.Header.Set("Content-Length", strconv.Itoa(len(ev.Payload)))
		}
		if id != "" {
			p.mu.Lock()
			p.inFlight[id] = delivery{at: time.Now(), bytes: size}
			p.mu.Unlock()
		}
		return nil
	}
	rp.ServeHTTP(w, r)
}

// result forwards POST .../response or .../error through the result hook.
func (p *Proxy) result(w http.ResponseWriter, r *http.Request, id string, isError bool) {
	p.mu.Lock()
	d, known := p.inFlight[id]
	delete(p.inFlight, id)
	p.mu.Unlock()
	res := &Result{RequestID: id, Error: isError, Header: r.Header, EventBytes: d.bytes}
	if known {
		res.Duration = time.Since(d.at)
	}
	streamed := r.ContentLength < 0 || r.ContentLength > MaxBuffered || len(r.Trailer) > 0 ||
		strings.EqualFold(r.Header.Get(HeaderResponseMode), "streaming")
	if p.hooks.Result == nil || streamed {
		counter := &countingReader{r: r.Body}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = counter
		}
		rec := &statusRecorder{ResponseWriter: w}
		p.results.Add(1)
		p.rp.ServeHTTP(rec, r)
		if p.hooks.Result != nil {
			res.Streamed, res.Bytes, res.Status = true, counter.n, rec.status
			p.callResult(r.Context(), res)
		}
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "reading the response: "+err.Error(), http.StatusBadRequest)
		return
	}
	res.Body, res.Bytes = body, int64(len(body))
	p.callResult(r.Context(), res)
	if res.Body == nil {
		res.Body = []byte{}
	}
	r.Body = io.NopCloser(bytes.NewReader(res.Body))
	r.ContentLength = int64(len(res.Body))
	r.Header.Set("Content-Length", strconv.Itoa(len(res.Body)))
	p.results.Add(1)
	p.rp.ServeHTTP(w, r)
}

func (p *Proxy) callResult(ctx context.Context, res *Result) {
	body := res.Body
	if err := p.hooks.Result(ctx, res); err != nil {
		p.hookFailed("result", res.RequestID, err)
		res.Body = body
	}
}

func (p *Proxy) hookFailed(hook, id string, err error) {
	p.hookErrors.Add(1)
	p.log.Error("runtime proxy: hook failed, passing the original on", "hook", hook, "request_id", id, "error", err.Error())
}

// upstreamFailed answers the runtime at once when the upstream cannot be reached (502),
// or did not answer in time (504), so that it fails (and Lambda reports the runtime's
// exit) instead of waiting.
func (p *Proxy) upstreamFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the runtime went away
	}
	if errors.Is(err, errUpstreamTimeout) {
		n := p.upstreamTimeout.Add(1)
		if n&(n-1) == 0 {
			p.log.Error("runtime proxy: upstream did not answer in time", "method", r.Method, "path", r.URL.Path,
				"timeout", p.timeout.String(), "timeouts", n)
		}
		http.Error(w, fmt.Sprintf("runtime API proxy: upstream did not answer %s %s within %s", r.Method, r.URL.Path, p.timeout),
			http.StatusGatewayTimeout)
		return
	}
	n := p.upstreamFailure.Add(1)
	if n&(n-1) == 0 {
		p.log.Error("runtime proxy: upstream unreachable", "path", r.URL.Path, "error", err.Error(), "failures", n)
	}
	http.Error(w, "runtime API proxy: upstream unreachable: "+err.Error(), http.StatusBadGateway)
}

// timeoutTransport tells a missed ResponseHeaderTimeout (errUpstreamTimeout) from the
// other failures, which all mean the upstream could not be reached.
type timeoutTransport struct {
	rt    http.RoundTripper
	after time.Duration
}

// copyBuffers are the 32 KB buffers ReverseProxy copies bodies through: without a
// pool it allocates one per request, most of what a proxied round trip allocated.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// bufferPool is httputil.BufferPool over copyBuffers.
type bufferPool struct{}

func (bufferPool) Get() []byte  { return *copyBuffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(&b) }

func (t *timeoutTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := t.rt.RoundTrip(r)
	var ne net.Error
	var op *net.OpError
	if err != nil && errors.As(err, &ne) && ne.Timeout() && !(errors.As(err, &op) && op.Op == "dial") && r.Context().Err() == nil {
		return nil, fmt.Errorf("%w within %s: %w", errUpstreamTimeout, t.after, err)
	}
	return res, err
}

type countingReader struct {
	r io.ReadCloser
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) Close() error { return c.r.Close() }

// statusRecorder remembers the status written; Flush and Unwrap keep streaming.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
