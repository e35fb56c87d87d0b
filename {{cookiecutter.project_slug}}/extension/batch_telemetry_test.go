package extension

import (
	"context"
	"testing"
	"time"

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

func runtimeDoneBatch(t *testing.T, requestID string) []telemetry.Record {
	t.Helper()
	batch, err := telemetry.Parse([]byte(`[{"time":"2024-05-01T10:00:00Z","type":"function","record":"line of ` + requestID + `"},` +
		`{"time":"2024-05-01T10:00:00Z","type":"platform.runtimeDone","record":{"requestId":"` + requestID + `","status":"success"}}]`))
	if err != nil {
		t.Fatal(err)
	}
	return batch
}

// With telemetry, "end" waits for the request's platform.runtimeDone, so the
// function's log lines delivered with it are flushed before the next event, whether
// the runtimeDone arrives during the wait or before it.
func TestEndWaitsForRuntimeDone(t *testing.T) {
	for _, early := range []bool{false, true} {
		c := newCollector(false)
		x := ForTest(map[string]string{Prefix + "FLUSH": "end", Prefix + "FLUSH_WAIT": "1m", Prefix + "FLUSH_INTERVAL": "1m"}, nil)
		b := NewBatcher(x, requestID, c.flush)
		h := b.WithTelemetry(func(rec telemetry.Record) (string, bool) { return rec.Type, true })
		th := h.(TelemetryHandler)
		ev := Event{Type: Invoke, RequestID: "r1"}
		if early {
			th.Telemetry(context.Background(), runtimeDoneBatch(t, "r1"))
		}
		h.Invoke(context.Background(), ev)
		done := make(chan error, 1)
		go func() { done <- h.(AfterInvoker).AfterInvoke(context.Background(), ev) }()
		if !early {
			th.Telemetry(context.Background(), runtimeDoneBatch(t, "r1"))
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("early=%v: AfterInvoke still waits after the runtimeDone", early)
		}
		if got := c.flushed(); got != 3 {
			t.Errorf("early=%v: %d records flushed by the end of the invocation, want 3", early, got)
		}
		h.Shutdown(context.Background(), Event{Type: Shutdown})
	}
}

// PREFIX_FLUSH_WAIT bounds the wait: without a runtimeDone the flush still happens.
func TestEndWaitIsBoundedByFlushWait(t *testing.T) {
	c := newCollector(false)
	x := ForTest(map[string]string{Prefix + "FLUSH": "end", Prefix + "FLUSH_WAIT": "1ms", Prefix + "FLUSH_INTERVAL": "1m"}, nil)
	h := NewBatcher(x, requestID, c.flush).WithTelemetry(func(rec telemetry.Record) (string, bool) { return rec.Type, true })
	ev := Event{Type: Invoke, RequestID: "r1"}
	h.Invoke(context.Background(), ev)
	if err := h.(AfterInvoker).AfterInvoke(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if got := c.flushed(); got != 1 {
		t.Errorf("%d records flushed, want 1", got)
	}
	h.Shutdown(context.Background(), Event{Type: Shutdown})
}

// Request ids whose runtimeDone nobody waited for are forgotten, oldest first.
func TestRuntimeDoneSeenStaysBounded(t *testing.T) {
	var s runtimeDoneSeen
	for i := range 10 * maxRuntimeDoneSeen {
		s.saw(string(rune('a'+i%26)) + time.Duration(i).String())
	}
	if len(s.chans) > maxRuntimeDoneSeen || len(s.order) > maxRuntimeDoneSeen {
		t.Errorf("remembers %d ids (%d in order), at most %d", len(s.chans), len(s.order), maxRuntimeDoneSeen)
	}
}
