package processor

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
{%- if cookiecutter.telemetry %}
	"strings"
{%- endif %}
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/extension"
{%- if cookiecutter.telemetry %}
	"{{ cookiecutter.go_module }}/extension/telemetry"
{%- endif %}
)

func TestRecordCountsInvocationsAndColdStart(t *testing.T) {
	p := &Processor{log: slog.New(slog.DiscardHandler)}
	deadline := time.Now().Add(time.Minute)
	first := p.Record(extension.Event{Type: extension.Invoke, RequestID: "r1", Deadline: deadline}){% if cookiecutter.telemetry %}.Invocation{% endif %}
	second := p.Record(extension.Event{Type: extension.Invoke, RequestID: "r2", Deadline: deadline}){% if cookiecutter.telemetry %}.Invocation{% endif %}
	if !first.ColdStart || second.ColdStart || first.Invocation != 1 || second.Invocation != 2 || second.RequestID != "r2" {
		t.Errorf("records = %+v, %+v", first, second)
	}
	if first.DeadlineHeadroomMs <= 0 {
		t.Errorf("headroom = %d", first.DeadlineHeadroomMs)
	}
}

// The whole processor as Run drives it: two invocations, then SHUTDOWN drains the
// queue into one batch line.
func TestInvocationsReachFlushBySHUTDOWN(t *testing.T) {
	var logs bytes.Buffer
	h, err := New(extension.ForTest(nil, slog.New(slog.NewJSONHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, id := range []string{"r1", "r2"} {
		if err := h.Invoke(ctx, extension.Event{Type: extension.Invoke, RequestID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Shutdown(ctx, extension.Event{Type: extension.Shutdown}); err != nil {
		t.Fatal(err)
	}
	var entry struct {
		Msg     string
		Count   int
		Records []Record
	}
	if err := json.Unmarshal(logs.Bytes(), &entry); err != nil {
		t.Fatalf("want exactly one JSON line, got %q: %v", logs.String(), err)
	}
	if entry.Msg != "batch" || entry.Count != 2 || len(entry.Records) != 2 || entry.Records[1].RequestID != "r2" {
		t.Errorf("entry = %+v", entry)
	}
}

// With {{ cookiecutter.__env_prefix }}SINK_URL set, Flush ships the batch there, one record a
// line, and publishes how many it shipped as an EMF metric.
func TestFlushShipsToTheSinkAndPublishesTheCount(t *testing.T) {
	lines := make(chan int, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		n := 0
		for sc := bufio.NewScanner(zr); sc.Scan(); n++ {
		}
		lines <- n
	}))
	defer srv.Close()
	var metrics bytes.Buffer
	x := extension.ForTest(map[string]string{extension.Prefix + "SINK_URL": srv.URL}, nil)
	p := &Processor{log: x.Log, sink: extension.NewSink(x), metrics: extension.NewEMF(&metrics, "test", nil)}
	batch := {% if cookiecutter.telemetry %}[]Item{% else %}[]Record{% endif %}{p.Record(extension.Event{Type: extension.Invoke, RequestID: "r1"}), p.Record(extension.Event{Type: extension.Invoke, RequestID: "r2"})}
	if err := p.Flush(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if n := <-lines; n != 2 {
		t.Errorf("the sink got %d lines, want 2", n)
	}
	var line map[string]any
	if err := json.Unmarshal(metrics.Bytes(), &line); err != nil || line["RecordsShipped"] != 2.0 || line["_aws"] == nil {
		t.Errorf("EMF line %q: %v", metrics.String(), err)
	}
}
{%- if cookiecutter.telemetry %}

func TestTelemetryLeavesExtensionLinesOutOfTheQueue(t *testing.T) {
	p := &Processor{log: slog.New(slog.DiscardHandler)}
	for _, rec := range parseSample(t) {
		item, ok := p.Telemetry(rec)
		if want := rec.Type != telemetry.TypeExtensionLog; ok != want {
			t.Errorf("%s: queued = %v, want %v", rec.Type, ok, want)
		}
		if ok && (item.Telemetry == nil || item.Telemetry.Type != rec.Type || item.Invocation != nil) {
			t.Errorf("%s: item = %+v", rec.Type, item)
		}
	}
}

func TestFlushHandlesInvocationsAndTelemetry(t *testing.T) {
	var logs bytes.Buffer
	p := &Processor{log: slog.New(slog.NewJSONHandler(&logs, nil))}
	batch := []Item{p.Record(extension.Event{Type: extension.Invoke, RequestID: "r1"})}
	for _, rec := range parseSample(t) {
		if item, ok := p.Telemetry(rec); ok {
			batch = append(batch, item)
		}
	}
	if err := p.Flush(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, line := range logLines(t, &logs) {
		msgs = append(msgs, line["msg"].(string))
		if line["msg"] == "batch" && line["count"] != 1.0 {
			t.Errorf("batch line counts %v invocations, want 1", line["count"])
		}
	}
	want := "function log,function log,invocation report,invocation report,Lambda dropped telemetry records,batch"
	if strings.Join(msgs, ",") != want {
		t.Errorf("lines = %s\nwant    %s", strings.Join(msgs, ","), want)
	}
}
{%- endif %}
