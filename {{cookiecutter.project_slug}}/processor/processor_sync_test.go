package processor

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/internal/config"
	"{{ cookiecutter.go_module }}/internal/extapi"
)

func TestInvokeLogsOneRecordPerInvocation(t *testing.T) {
	var logs bytes.Buffer
	p, err := New(config.Config{}, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute).UnixMilli()
	for _, id := range []string{"r1", "r2"} {
		ev := extapi.Event{EventType: extapi.Invoke, RequestID: id, DeadlineMs: deadline, Tracing: extapi.Tracing{Value: "Root=1-" + id}}
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
	p, _ := New(config.Config{}, slog.New(slog.NewJSONHandler(&logs, nil)))
	p.Invoke(context.Background(), extapi.Event{EventType: extapi.Invoke, RequestID: "r1"})
	if err := p.Shutdown(context.Background(), extapi.Event{EventType: extapi.Shutdown}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `"invocations":1`) {
		t.Errorf("logs = %s", logs.String())
	}
}
{%- if cookiecutter.telemetry %}

func TestTelemetryBatchesAreHandledInline(t *testing.T) {
	var logs bytes.Buffer
	p, _ := New(config.Config{}, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err := p.Telemetry(context.Background(), parseSample(t)); err != nil {
		t.Fatal(err)
	}
	// Handled before Telemetry returns, that is before the listener answers Lambda.
	if n := strings.Count(logs.String(), `"msg":"invocation report"`); n != 2 {
		t.Errorf("%d report lines, want 2:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), `"msg":"function log"`); n != 2 {
		t.Errorf("%d function log lines, want 2:\n%s", n, logs.String())
	}
}
{%- endif %}
