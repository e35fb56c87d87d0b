// Package sink posts batches of records to an HTTP endpoint as NDJSON (one JSON
// record a line, gzip-compressed unless turned off), retrying what may succeed later
// (connection errors, 429, 5xx) with exponential backoff and full jitter, honouring
// Retry-After, every attempt and the whole send bounded. Other 4xx answers are final:
// the batch is rejected. Connections are kept alive across invocations; one idle for
// longer than IdleTimeout by the wall clock (a freeze stops timers, not the clock) is
// closed before the next send, so a stale connection cannot hang it.
package sink

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// ErrRejected wraps an answer that retrying cannot change (a 4xx other than 429).
var ErrRejected = errors.New("sink rejected the batch")

// Options configure a Sink; zero values take the defaults below.
type Options struct {
	URL            *url.URL
	Gzip           bool
	Header         http.Header       // extra headers (an API key...); never logged
	AttemptTimeout time.Duration     // one attempt at most (default 2s)
	Retries        int               // attempts after the first (default 4; negative: none)
	BaseBackoff    time.Duration     // first backoff (default 50ms), doubled each retry
	MaxBackoff     time.Duration     // longest backoff or Retry-After honoured (default 2s)
	IdleTimeout    time.Duration     // longest a kept-alive connection is trusted idle (default 5s)
	Transport      http.RoundTripper // for tests; default a keep-alive transport
}

// Defaults.
const (
	DefaultAttemptTimeout = 2 * time.Second
	DefaultRetries        = 4
	DefaultBaseBackoff    = 50 * time.Millisecond
	DefaultMaxBackoff     = 2 * time.Second
	DefaultIdleTimeout    = 5 * time.Second
)

// Sink sends batches; it is safe for concurrent use.
type Sink struct {
	opts      Options
	client    *http.Client
	transport *http.Transport // nil when Options.Transport was given

	mu       sync.Mutex
	lastUsed time.Time // wall clock (no monotonic reading) of the last answer
}

// New returns a Sink for opts.
func New(opts Options) *Sink {
	if opts.AttemptTimeout <= 0 {
		opts.AttemptTimeout = DefaultAttemptTimeout
	}
	if opts.Retries == 0 {
		opts.Retries = DefaultRetries
	}
	if opts.BaseBackoff <= 0 {
		opts.BaseBackoff = DefaultBaseBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	s := &Sink{opts: opts}
	rt := opts.Transport
	if rt == nil {
		s.transport = &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     opts.IdleTimeout,
			TLSHandshakeTimeout: opts.AttemptTimeout,
		}
		rt = s.transport
	}
	// No client timeout: each attempt has its own context.
	s.client = &http.Client{Transport: rt}
	return s
}

// gzipWriters are reused: a new gzip.Writer allocates some 800 KB of compressor
// state, which took 0.7 ms of every flush (of a few records, the common case) and
// left that much garbage behind; Reset takes a few microseconds.
var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

// Encode turns records into the request body: NDJSON, gzip-compressed if asked.
func Encode(records []any, gz bool) ([]byte, error) {
	var buf bytes.Buffer
	var w io.Writer = &buf
	var zw *gzip.Writer
	if gz {
		zw = gzipWriters.Get().(*gzip.Writer)
		defer func() {
			zw.Reset(io.Discard) // the pool must not keep the body alive
			gzipWriters.Put(zw)
		}()
		zw.Reset(&buf)
		w = zw
	}
	enc := json.NewEncoder(w) // Encode ends every record with a newline
	enc.SetEscapeHTML(false)
	for i, r := range records {
		if err := enc.Encode(r); err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// Send posts records as one request, retrying as the package says, until ctx ends.
// An empty batch sends nothing.
func (s *Sink) Send(ctx context.Context, records []any) error {
	if len(records) == 0 {
		return nil
	}
	body, err := Encode(records, s.opts.Gzip)
	if err != nil {
		return fmt.Errorf("sink: encode: %w", err)
	}
	s.dropStale()
	var last error
	for attempt := 0; ; attempt++ {
		retryAfter, err := s.attempt(ctx, body)
		if err == nil || errors.Is(err, ErrRejected) {
			return err
		}
		last = err
		if attempt >= s.opts.Retries || ctx.Err() != nil {
			return fmt.Errorf("sink: %d attempts: %w", attempt+1, last)
		}
		wait := s.backoff(attempt, retryAfter)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return fmt.Errorf("sink: no time left for another attempt: %w", last)
		}
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("sink: %w (after %v)", ctx.Err(), last)
		}
	}
}

// attempt makes one request; retryAfter is the server's Retry-After, if any.
func (s *Sink) attempt(ctx context.Context, body []byte) (retryAfter time.Duration, err error) {
	actx, cancel := context.WithTimeout(ctx, s.opts.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, s.opts.URL.String(), bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrRejected, err)
	}
	for name, values := range s.opts.Header {
		req.Header[name] = values
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if s.opts.Gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		// The connection may be the stale one: do not offer it again.
		s.closeIdle()
		return 0, fmt.Errorf("post: %w", redact(err))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	resp.Body.Close()
	s.mu.Lock()
	s.lastUsed = time.Now().Round(0)
	s.mu.Unlock()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return 0, nil
	case code == http.StatusTooManyRequests || code >= 500:
		return parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), fmt.Errorf("status %d", code)
	default:
		return 0, fmt.Errorf("%w: status %d", ErrRejected, code)
	}
}

// redact keeps the URL out of an error (it may carry a token in its query).
func redact(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}

// backoff is the wait before retry number attempt+1: the server's Retry-After when
// it gave one, else full jitter over BaseBackoff·2^attempt; at most MaxBackoff.
func (s *Sink) backoff(attempt int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, s.opts.MaxBackoff)
	}
	ceiling := min(s.opts.BaseBackoff<<min(attempt, 20), s.opts.MaxBackoff)
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

// parseRetryAfter reads seconds or an HTTP date; 0 when absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}

// dropStale closes kept-alive connections idle longer than IdleTimeout by the wall
// clock: after a freeze the peer or a NAT on the way may have dropped them silently.
func (s *Sink) dropStale() {
	s.mu.Lock()
	stale := !s.lastUsed.IsZero() && time.Now().Round(0).Sub(s.lastUsed) > s.opts.IdleTimeout
	s.mu.Unlock()
	if stale {
		s.closeIdle()
	}
}

func (s *Sink) closeIdle() {
	if s.transport != nil {
		s.transport.CloseIdleConnections()
	} else {
		s.client.CloseIdleConnections()
	}
}
