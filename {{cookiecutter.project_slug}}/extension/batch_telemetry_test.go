package extension

import (
	"context"
	"testing"

	"{{ cookiecutter.go_module }}/extension/telemetry"
)

func TestWithTelemetryQueuesTheRecordsIntoKeeps(t *testing.T) {
	c := newCollector(false)
	b := NewBatcher(ForTest(nil, nil), requestID, c.flush)
	h := b.WithTelemetry(func(rec telemetry.Record) (string, bool) {
		return rec.Type, rec.Type != telemetry.TypeExtensionLog
	})
	th, ok := h.(TelemetryHandler)
	if !ok {
		t.Fatal("WithTelemetry's handler has no Telemetry method")
	}
	batch, err := telemetry.Parse([]byte(`[{"time":"2024-05-01T10:00:00Z","type":"function","record":"a"},` +
		`{"time":"2024-05-01T10:00:00Z","type":"extension","record":"b"}]`))
	if err != nil {
		t.Fatal(err)
	}
	h.Invoke(context.Background(), Event{Type: Invoke, RequestID: "r1"})
	if err := th.Telemetry(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	h.Shutdown(context.Background(), Event{Type: Shutdown})
	if got := b.Records(); got != (Records{Offered: 2, Flushed: 2}) {
		t.Errorf("records = %+v, want the invocation and the function line", got)
	}
	if _, counts := h.(recordCounter); !counts {
		t.Error("the telemetry batcher does not count records for the records line")
	}
}
