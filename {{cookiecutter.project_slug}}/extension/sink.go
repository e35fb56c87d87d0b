package extension

import (
	"context"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"{{ cookiecutter.go_module }}/extension/internal/sink"
)

// Defaults and bounds of the sink settings.
const (
	defaultSinkTimeout = sink.DefaultAttemptTimeout
	defaultSinkRetries = sink.DefaultRetries
	maxSinkRetries     = 20
	defaultSinkIdle    = sink.DefaultIdleTimeout
	minSinkIdle        = 100 * time.Millisecond
	maxSinkIdle        = time.Hour
)

// Sink ships batches of records to PREFIX_SINK_URL: one POST per batch, an NDJSON
// body (Content-Type application/x-ndjson, one JSON record a line), gzip-compressed
// (Content-Encoding gzip) unless PREFIX_SINK_GZIP=false, with the extra headers of
// PREFIX_SINK_HEADERS ("Name: value" pairs, comma-separated; never logged).
//
// Connection errors, 429 and 5xx are retried (PREFIX_SINK_RETRIES times, default 4)
// with exponential backoff and jitter, honouring Retry-After; every attempt is
// bounded by PREFIX_SINK_TIMEOUT (default 2s) and the whole send by ctx: call Send
// with the ctx Flush got, which ends at the flush policy's deadline. Any other 4xx
// rejects the batch at once. An error counts the batch as failed in the records
// line. Connections are kept alive across invocations; one idle for longer than
// PREFIX_SINK_IDLE_TIMEOUT (default 5s, by the wall clock, so a freeze counts) is
// dropped before the next send, so it cannot hang it: keep it below the idle limit
// of the sink and of anything on the way (a NAT gateway, a load balancer).
type Sink struct {
	s *sink.Sink
}

// NewSink reads the sink settings; it returns nil when PREFIX_SINK_URL is not set.
// Call it in the constructor: bad values are reported with the other settings.
func NewSink(x *Extension) *Sink {
	u := x.env.URL("SINK_URL", "")
	gz := x.env.Bool("SINK_GZIP", true)
	header := sinkHeaders(x)
	timeout := x.env.Duration("SINK_TIMEOUT", defaultSinkTimeout, 10*time.Millisecond, time.Minute)
	retries := x.env.Int("SINK_RETRIES", defaultSinkRetries, 0, maxSinkRetries)
	idle := x.env.Duration("SINK_IDLE_TIMEOUT", defaultSinkIdle, minSinkIdle, maxSinkIdle)
	if u == nil {
		return nil
	}
	if retries == 0 {
		retries = -1 // sink.Options: 0 takes the default, negative none
	}
	x.Log.Info("sink", "endpoint", u.Scheme+"://"+u.Host, "gzip", gz, "retries", max(retries, 0),
		"attempt_timeout_ms", timeout.Milliseconds(), "idle_timeout_ms", idle.Milliseconds())
	return &Sink{s: sink.New(sink.Options{URL: u, Gzip: gz, Header: header, AttemptTimeout: timeout, Retries: retries, IdleTimeout: idle})}
}

// sinkHeaders reads PREFIX_SINK_HEADERS; a bad value is reported without echoing it
// (it may hold a key).
func sinkHeaders(x *Extension) http.Header {
	raw := x.env.String("SINK_HEADERS", "")
	if raw == "" {
		return nil
	}
	h := http.Header{}
	for _, pair := range strings.Split(raw, ",") {
		name, value, ok := strings.Cut(pair, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") || strings.ContainsAny(value, "\r\n") {
			x.env.Fail("SINK_HEADERS", "must be comma-separated \"Name: value\" pairs (the value is not repeated here)")
			return nil
		}
		h.Add(textproto.CanonicalMIMEHeaderKey(name), value)
	}
	return h
}

// Send posts records as one batch; see Sink.
func (s *Sink) Send(ctx context.Context, records []any) error { return s.s.Send(ctx, records) }
