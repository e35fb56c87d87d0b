package processor

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync/atomic"

	"{{ cookiecutter.go_module }}/extension"
)

// The Runtime API proxy's demo: one audit line per invocation (request id, sizes,
// duration), and the JSON fields named in {{ cookiecutter.__env_prefix }}REDACT_FIELDS
// (comma-separated, top level of a JSON object response) replaced by "[redacted]"
// before Lambda sees the response.
//
// Streamed responses (Lambda-Runtime-Function-Response-Mode: streaming, chunked
// bodies, trailers) are audited but NOT redacted: the proxy passes them to Lambda chunk
// by chunk as the runtime writes them, and the hook only runs once they ended, so
// there is no body left to change. Redacting them would mean buffering the whole
// stream, which takes away what streaming is for (the first bytes reach the client at
// once; responses beyond 6 MB). Their audit line says "redaction":"skipped: streamed",
// so that a configured field that may have gone out unredacted shows. Error results
// are not redacted either ("skipped: error").

const redacted = "[redacted]"

// The audit line's "redaction": what became of the configured fields.
const (
	redactionNone     = "none configured"
	redactionApplied  = "applied" // "redacted" counts the fields replaced
	redactionStreamed = "skipped: streamed"
	redactionError    = "skipped: error"
)

// Auditor is the proxy's hooks.
type Auditor struct {
	log    *slog.Logger
	redact []string

	audited, redactions atomic.Uint64
}

// NewAuditor reads the auditor's settings.
func NewAuditor(x *extension.Extension) *Auditor {
	a := &Auditor{log: x.Log}
	for _, f := range strings.Split(x.Settings.String("REDACT_FIELDS", ""), ",") {
		if f = strings.TrimSpace(f); f != "" {
			a.redact = append(a.redact, f)
		}
	}
	return a
}

// RuntimeResult logs the audit line and redacts the response.
func (a *Auditor) RuntimeResult(ctx context.Context, res *extension.RuntimeResult) error {
	a.audited.Add(1)
	n, redaction := 0, redactionNone
	switch {
	case len(a.redact) == 0:
	case res.Streamed:
		redaction = redactionStreamed
	case res.Error:
		redaction = redactionError
	default:
		res.Body, n = redact(res.Body, a.redact)
		a.redactions.Add(uint64(n))
		redaction = redactionApplied
	}
	a.log.Info("audit", "request_id", res.RequestID, "error", res.Error, "streamed", res.Streamed,
		"event_bytes", res.EventBytes, "response_bytes", res.Bytes, "duration_ms", res.Duration.Milliseconds(),
		"redaction", redaction, "redacted", n)
	return nil
}

// Counts puts the audit's counts on the records line.
func (a *Auditor) Counts() []slog.Attr {
	return []slog.Attr{slog.Uint64("audited", a.audited.Load()), slog.Uint64("redacted_fields", a.redactions.Load())}
}

// redact replaces the named top-level fields of a JSON object; anything else is
// returned unchanged.
func redact(body []byte, fields []string) ([]byte, int) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return body, 0
	}
	n := 0
	for _, f := range fields {
		if _, ok := obj[f]; ok {
			obj[f] = json.RawMessage(`"` + redacted + `"`)
			n++
		}
	}
	if n == 0 {
		return body, 0
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return body, 0
	}
	return out, n
}
