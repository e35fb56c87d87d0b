package telemetryapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"{{ cookiecutter.go_module }}/extension/internal/loopback"
	"{{ cookiecutter.go_module }}/extension/telemetry"
)

// SandboxHost is the name Lambda resolves to the execution environment's own address.
// The full name matters: in a VPC, plain "sandbox" may resolve through the VPC's DNS.
const SandboxHost = "sandbox.localdomain"

// ListenPath is the path the listener takes batches on.
const ListenPath = "/telemetry"

// fallbackHost is where the listener binds when SandboxHost does not resolve, as on a
// laptop. Never 0.0.0.0: the listener is for Lambda on this machine only.
const fallbackHost = "127.0.0.1"

// bodyMargin is added to twice maxBytes for the body cap: Lambda sends batches of up
// to 2 x maxBytes of records, plus the JSON around them.
const bodyMargin = 64 << 10

// MaxBodyBytes is the largest batch the listener takes for a subscription buffering
// up to maxBytes.
func MaxBodyBytes(maxBytes int) int64 { return 2*int64(maxBytes) + bodyMargin }

// Limits that keep a local client from exhausting the listener. Lambda delivers one
// batch at a time over loopback, in milliseconds; anything slower or wider is not
// Lambda.
const (
	// maxReading is how many requests are read, parsed and handed on at once: the
	// listener holds at most maxReading bodies of MaxBodyBytes and their records.
	maxReading = 4
	// slotWait is how long a request waits for a reading slot before it is answered
	// 503 (Lambda retries a failed delivery).
	slotWait = loopback.SlotWait
	// Stalled and idle connections are closed, and the request head is capped, as
	// for every server the extension runs on this machine (package loopback);
	// bodies must arrive within readTimeout.
	readHeaderTimeout = loopback.ReadHeaderTimeout
	readTimeout       = loopback.APIReadTimeout
	idleTimeout       = loopback.IdleTimeout
	maxHeaderBytes    = loopback.MaxHeaderBytes
	// stopGrace caps what Stop takes of the shutdown budget beyond Quiet, and stopShare
	// the fraction of what is left before ctx's deadline: a stalled client must not
	// eat the time the handler needs to flush.
	stopGrace = 100 * time.Millisecond
	stopShare = 4
)

// Sink receives every batch the listener took, one batch at a time, before the
// listener answers Lambda. An error is logged; the batch still counts as delivered.
type Sink func(ctx context.Context, batch []telemetry.Record) error

// ListenOptions configure Listen.
type ListenOptions struct {
	// Port to listen on; 0 picks a free one (for tests).
	Port int
	// MaxBodyBytes caps a request body; larger ones are refused with 413.
	MaxBodyBytes int64
	// Quiet is how long Stop waits without a delivery before it closes the listener.
	Quiet time.Duration
	// LookupHost resolves SandboxHost; nil uses the system resolver.
	LookupHost func(ctx context.Context, host string) ([]string, error)
}

// Stats counts what the listener took.
type Stats struct {
	Batches  uint64 // POSTs whose body parsed
	Records  uint64 // records in them
	Rejected uint64 // requests answered 4xx
}

// Listener is the HTTP server Lambda delivers telemetry batches to.
type Listener struct {
	srv   *http.Server
	ln    net.Listener
	sink  Sink
	log   *slog.Logger
	opts  ListenOptions
	serve chan error

	sinkMu   sync.Mutex    // one batch at a time into the sink
	reading  chan struct{} // a slot per body being read (maxReading)
	inFlight atomic.Int64
	last     atomic.Int64 // UnixNano of the last request's end
	stopOnce sync.Once
	stopErr  error

	batches, records, rejected atomic.Uint64
}

// Listen binds SandboxHost:port (127.0.0.1:port when the name does not resolve) and
// serves batches to sink until Stop.
func Listen(ctx context.Context, opts ListenOptions, sink Sink, log *slog.Logger) (*Listener, error) {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = MaxBodyBytes(MinMaxBytes)
	}
	host, err := listenHost(ctx, opts.LookupHost)
	if err != nil {
		log.Info("telemetry listener: "+SandboxHost+" does not resolve, listening on "+fallbackHost, "reason", err.Error())
		host = fallbackHost
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(opts.Port)))
	if err != nil {
		return nil, fmt.Errorf("telemetry listen: %w", err)
	}
	l := &Listener{ln: ln, sink: sink, log: log, opts: opts, serve: make(chan error, 1), reading: make(chan struct{}, maxReading)}
	l.srv = &http.Server{
		Handler:           l,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() { l.serve <- l.srv.Serve(ln) }()
	return l, nil
}

// listenHost resolves SandboxHost to the address to bind. It refuses an unspecified
// address (0.0.0.0, ::), which would expose the listener beyond this machine.
func listenHost(ctx context.Context, lookup func(context.Context, string) ([]string, error)) (string, error) {
	if lookup == nil {
		lookup = net.DefaultResolver.LookupHost
	}
	lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	addrs, err := lookup(lctx, SandboxHost)
	if err != nil {
		return "", err
	}
	for _, addr := range addrs {
		if ip := net.ParseIP(addr); ip != nil && !ip.IsUnspecified() {
			return addr, nil
		}
	}
	return "", fmt.Errorf("%s resolves to no usable address: %v", SandboxHost, addrs)
}

// Addr is the address the listener is bound to.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Port is the port the listener is bound to.
func (l *Listener) Port() int { return l.ln.Addr().(*net.TCPAddr).Port }

// URI is the destination to subscribe with: always SandboxHost, the name Lambda
// delivers to, whatever address the listener had to bind.
func (l *Listener) URI() string {
	return "http://" + net.JoinHostPort(SandboxHost, strconv.Itoa(l.Port())) + ListenPath
}

// Stats returns the counts so far.
func (l *Listener) Stats() Stats {
	return Stats{Batches: l.batches.Load(), Records: l.records.Load(), Rejected: l.rejected.Load()}
}

// ServeHTTP takes one batch: POST ListenPath with a JSON array of records.
func (l *Listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.inFlight.Add(1)
	defer func() {
		l.last.Store(time.Now().UnixNano())
		l.inFlight.Add(-1)
	}()
	if r.URL.Path != ListenPath {
		l.discardBody(w, r)
		l.reject(w, http.StatusNotFound, "no such path: "+r.URL.Path)
		return
	}
	if r.Method != http.MethodPost {
		l.discardBody(w, r)
		w.Header().Set("Allow", http.MethodPost)
		l.reject(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed")
		return
	}
	if r.ContentLength > l.opts.MaxBodyBytes {
		l.reject(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", l.opts.MaxBodyBytes))
		return
	}
	wait := time.NewTimer(slotWait)
	select {
	case l.reading <- struct{}{}:
		wait.Stop()
	case <-wait.C:
		l.discardBody(w, r)
		l.reject(w, http.StatusServiceUnavailable, fmt.Sprintf("%d requests are being read already", maxReading))
		return
	case <-r.Context().Done():
		wait.Stop()
		return
	}
	// The slot is held until the batch has been handed on: the body and its parsed
	// records are what takes memory.
	defer func() { <-l.reading }()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, l.opts.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			l.reject(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", l.opts.MaxBodyBytes))
			return
		}
		l.reject(w, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	batch, err := telemetry.Parse(body)
	if err != nil {
		l.reject(w, http.StatusBadRequest, err.Error())
		return
	}
	l.batches.Add(1)
	l.records.Add(uint64(len(batch)))
	if len(batch) > 0 {
		l.sinkMu.Lock()
		err = l.sink(r.Context(), batch)
		l.sinkMu.Unlock()
		if err != nil {
			l.log.Error("telemetry batch processing failed", "records", len(batch), "error", err.Error())
		}
	}
	w.WriteHeader(http.StatusOK)
}

// discardBody reads a refused request's body to the end, holding no more than a copy
// buffer, up to the body cap and within the server's read timeout. Left unread, a body
// over net/http's 256 KB makes the server close the connection while the client may
// still be writing it: the client gets a reset instead of the answer, and cannot tell
// a busy listener (503: retry) from a dead one.
func (l *Listener) discardBody(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, l.opts.MaxBodyBytes))
}

// reject answers a request that is not a batch. It logs on the 1st, 2nd, 4th, 8th...
// rejection: what the listener logs becomes extension telemetry itself, so nothing
// here may log once per request.
func (l *Listener) reject(w http.ResponseWriter, status int, reason string) {
	n := l.rejected.Add(1)
	if n&(n-1) == 0 {
		l.log.Warn("telemetry listener refused a request", "status", status, "reason", reason, "refused_total", n)
	}
	http.Error(w, reason, status)
}

// Stop gives Lambda a moment to deliver what it still buffers, then closes the
// listener and waits for the batches in flight to reach the sink. It waits until no
// request has been in flight for Quiet (counted from the call at the earliest); then
// it closes idle connections, gives requests in flight a short grace, and closes
// what is still open, stalled clients included. In all it takes at most Quiet plus a
// tenth of a second, and never more than a quarter of what is left before ctx's
// deadline. It is safe to call more than once.
func (l *Listener) Stop(ctx context.Context) error {
	l.stopOnce.Do(func() { l.stopErr = l.stop(ctx) })
	return l.stopErr
}

func (l *Listener) stop(ctx context.Context) error {
	called := time.Now()
	limit := called.Add(l.opts.Quiet + stopGrace)
	if deadline, ok := ctx.Deadline(); ok {
		if share := called.Add(time.Until(deadline) / stopShare); share.Before(limit) {
			limit = share
		}
	}
	sctx, cancel := context.WithDeadline(ctx, limit)
	defer cancel()
	l.waitQuiet(sctx, limit.Add(-stopGrace))

	l.srv.SetKeepAlivesEnabled(false)
	err := l.srv.Shutdown(sctx)
	if err != nil {
		// Requests still open at the limit are stalled or abusive: close them.
		l.srv.Close()
		err = nil
	}
	if serveErr := <-l.serve; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		err = fmt.Errorf("telemetry listener: %w", serveErr)
	}
	stats := l.Stats()
	l.log.Info("telemetry listener stopped", "batches", stats.Batches, "records", stats.Records,
		"refused", stats.Rejected, "took_ms", time.Since(called).Milliseconds())
	return err
}

// waitQuiet returns once no request has been in flight for Quiet, at until, or when
// ctx ends, whichever is first.
func (l *Listener) waitQuiet(ctx context.Context, until time.Time) {
	called := time.Now()
	for {
		idleSince := called
		if last := time.Unix(0, l.last.Load()); last.After(idleSince) {
			idleSince = last
		}
		wait := l.opts.Quiet - time.Since(idleSince)
		if l.inFlight.Load() == 0 && wait <= 0 {
			return
		}
		if wait <= 0 { // a batch is being taken: look again shortly
			wait = 5 * time.Millisecond
		}
		if left := time.Until(until); left < wait {
			if left <= 0 {
				return
			}
			wait = left
		}
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return
		}
	}
}
