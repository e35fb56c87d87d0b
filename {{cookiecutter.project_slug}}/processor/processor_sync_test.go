package processor

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/extension"
)

// newTestProcessor builds the processor as Run would, with logs into a buffer.
func newTestProcessor(t *testing.T, logs *bytes.Buffer) *Processor {
	t.Helper()
	h, err := New(extension.ForTest(nil, slog.New(slog.NewJSONHandler(logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	return h.(*Processor)
}

func TestInvokeLogsOneRecordPerInvocation(t *testing.T) {
	var logs bytes.Buffer
	p := newTestProcessor(t, &logs)
	deadline := time.Now().Add(time.Minute)
	for _, id := range []string{"r1", "r2"} {
		ev := extension.Event{Type: extension.Invoke, RequestID: id, Deadline: deadline, TraceID: "Root=1-" + id}
		if err := p.Invoke(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want one line per invocation, got %d:\n%s", len(lines), logs.String())
	}
	for i, line := range lines {
		var entry struct {
			Msg    string
			Record Record
		}
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatal(err)
		}
		rec := entry.Record
		if entry.Msg != "invocation" || rec.Invocation != i+1 || rec.ColdStart != (i == 0) || rec.TraceID == "" {
			t.Errorf("line %d = %s", i, line)
		}
		if rec.DeadlineHeadroomMs <= 0 || rec.DeadlineHeadroomMs > time.Minute.Milliseconds() {
			t.Errorf("headroom %d ms out of range", rec.DeadlineHeadroomMs)
		}
	}
}

func TestShutdownReportsTheCount(t *testing.T) {
	var logs bytes.Buffer
	p := newTestProcessor(t, &logs)
	p.Invoke(context.Background(), extension.Event{Type: extension.Invoke, RequestID: "r1"})
	if err := p.Shutdown(context.Background(), extension.Event{Type: extension.Shutdown}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `"invocations":1`) {
		t.Errorf("logs = %s", logs.String())
	}
}
{%- if cookiecutter.telemetry %}

func TestTelemetryBatchesAreHandledInline(t *testing.T) {
	var logs bytes.Buffer
	p := newTestProcessor(t, &logs)
	if err := p.Telemetry(context.Background(), parseSample(t)); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), `"msg":"invocation report"`); n != 2 {
		t.Errorf("%d report lines, want 2:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), `"msg":"function log"`); n != 2 {
		t.Errorf("%d function log lines, want 2:\n%s", n, logs.String())
	}
}
{%- endif %}
