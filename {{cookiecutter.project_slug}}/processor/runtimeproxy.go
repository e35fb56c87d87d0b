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
// before Lambda sees the response. Streamed responses are audited, not redacted.

const redacted = "[redacted]"

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
	n := 0
	if !res.Streamed && !res.Error && len(a.redact) > 0 {
		res.Body, n = redact(res.Body, a.redact)
		a.redactions.Add(uint64(n))
	}
	a.log.Info("audit", "request_id", res.RequestID, "error", res.Error, "streamed", res.Streamed,
		"event_bytes", res.EventBytes, "response_bytes", res.Bytes, "duration_ms", res.Duration.Milliseconds(),
		"redacted", n)
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
