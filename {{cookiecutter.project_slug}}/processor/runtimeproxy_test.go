package processor

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/extension"
)

func TestOneAuditLinePerInvocation(t *testing.T) {
	var logs bytes.Buffer
	a := NewAuditor(extension.ForTest(nil, slog.New(slog.NewJSONHandler(&logs, nil))))
	res := &extension.RuntimeResult{RequestID: "r1", Body: []byte(`{"ok":true}`), Bytes: 11, EventBytes: 7, Duration: 25 * time.Millisecond}
	if err := a.RuntimeResult(context.Background(), res); err != nil {
		t.Fatal(err)
	}
	var line struct {
		Msg           string
		RequestID     string `json:"request_id"`
		EventBytes    int    `json:"event_bytes"`
		ResponseBytes int    `json:"response_bytes"`
		DurationMs    int    `json:"duration_ms"`
	}
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, logs.String())
	}
	if line.Msg != "audit" || line.RequestID != "r1" || line.EventBytes != 7 || line.ResponseBytes != 11 || line.DurationMs != 25 {
		t.Errorf("audit line %s", logs.String())
	}
	if string(res.Body) != `{"ok":true}` {
		t.Errorf("body changed without fields to redact: %s", res.Body)
	}
}

func TestConfiguredFieldsAreRedacted(t *testing.T) {
	a := NewAuditor(extension.ForTest(map[string]string{extension.Prefix + "REDACT_FIELDS": "password, ssn"}, nil))
	for _, tc := range []struct{ in, out string }{
		{`{"user":"a","password":"p","ssn":"1"}`, `{"password":"[redacted]","ssn":"[redacted]","user":"a"}`},
		{`{"user":"a"}`, `{"user":"a"}`},
		{`not json`, `not json`},
		{`["password"]`, `["password"]`},
	} {
		res := &extension.RuntimeResult{RequestID: "r", Body: []byte(tc.in)}
		a.RuntimeResult(context.Background(), res)
		if string(res.Body) != tc.out {
			t.Errorf("%s -> %s, want %s", tc.in, res.Body, tc.out)
		}
	}
	streamed := &extension.RuntimeResult{RequestID: "r", Streamed: true}
	a.RuntimeResult(context.Background(), streamed)
	if streamed.Body != nil {
		t.Error("a streamed result got a body")
	}
}

// The audit line says what became of the configured fields; a streamed response is
// not redacted (its body passed through unbuffered), and its line says so.
func TestTheAuditLineSaysWhenRedactionWasSkipped(t *testing.T) {
	for _, tc := range []struct {
		name, fields string
		res          extension.RuntimeResult
		redaction    string
		redacted     int
	}{
		{"no fields", "", extension.RuntimeResult{Body: []byte(`{"password":"p"}`)}, "none configured", 0},
		{"buffered", "password", extension.RuntimeResult{Body: []byte(`{"password":"p"}`)}, "applied", 1},
		{"buffered, nothing to redact", "password", extension.RuntimeResult{Body: []byte(`{"user":"a"}`)}, "applied", 0},
		{"streamed", "password", extension.RuntimeResult{Streamed: true, Bytes: 16}, "skipped: streamed", 0},
		{"streamed, no fields", "", extension.RuntimeResult{Streamed: true, Bytes: 16}, "none configured", 0},
		{"error", "password", extension.RuntimeResult{Error: true, Body: []byte(`{"password":"p"}`)}, "skipped: error", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			a := NewAuditor(extension.ForTest(map[string]string{extension.Prefix + "REDACT_FIELDS": tc.fields},
				slog.New(slog.NewJSONHandler(&logs, nil))))
			res := tc.res
			a.RuntimeResult(context.Background(), &res)
			var line struct {
				Redaction string
				Redacted  int
				Streamed  bool
			}
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("%v: %s", err, logs.String())
			}
			if line.Redaction != tc.redaction || line.Redacted != tc.redacted || line.Streamed != tc.res.Streamed {
				t.Errorf("audit line %s, want redaction %q, redacted %d", logs.String(), tc.redaction, tc.redacted)
			}
		})
	}
}
