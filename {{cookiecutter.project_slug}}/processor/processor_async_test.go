package processor

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/internal/config"
	"{{ cookiecutter.go_module }}/internal/extapi"
)

func TestRecordCountsInvocationsAndColdStart(t *testing.T) {
	p, err := New(config.Config{}, slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute).UnixMilli()
	first := p.Record(extapi.Event{EventType: extapi.Invoke, RequestID: "r1", DeadlineMs: deadline})
	second := p.Record(extapi.Event{EventType: extapi.Invoke, RequestID: "r2", DeadlineMs: deadline})
	if !first.ColdStart || second.ColdStart || first.Invocation != 1 || second.Invocation != 2 || second.RequestID != "r2" {
		t.Errorf("records = %+v, %+v", first, second)
	}
	if first.DeadlineHeadroomMs <= 0 {
		t.Errorf("headroom = %d", first.DeadlineHeadroomMs)
	}
}

func TestFlushLogsOneLinePerBatch(t *testing.T) {
	var logs bytes.Buffer
	p, _ := New(config.Config{}, slog.New(slog.NewJSONHandler(&logs, nil)))
	batch := []Record{
		{RequestID: "r1", Invocation: 1, ColdStart: true},
		{RequestID: "r2", Invocation: 2},
	}
	if err := p.Flush(context.Background(), batch); err != nil {
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
