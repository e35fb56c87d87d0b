package processor

import (
	"bytes"
	"context"
	"encoding/json"
{%- if cookiecutter.telemetry %}
	"fmt"
{%- endif %}
	"log/slog"
{%- if cookiecutter.telemetry %}
	"net/http"
	"strings"
	"sync"
{%- endif %}
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/internal/config"
	"{{ cookiecutter.go_module }}/internal/extapi"
{%- if cookiecutter.telemetry %}
	"{{ cookiecutter.go_module }}/internal/queue"
	"{{ cookiecutter.go_module }}/internal/telemetry"
{%- endif %}
)

func TestRecordCountsInvocationsAndColdStart(t *testing.T) {
	p, err := New(config.Config{}, slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute).UnixMilli()
	first := p.Record(extapi.Event{EventType: extapi.Invoke, RequestID: "r1", DeadlineMs: deadline}){% if cookiecutter.telemetry %}.Invocation{% endif %}
	second := p.Record(extapi.Event{EventType: extapi.Invoke, RequestID: "r2", DeadlineMs: deadline}){% if cookiecutter.telemetry %}.Invocation{% endif %}
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
{%- if cookiecutter.telemetry %}
	batch := []Item{
		{Invocation: &Record{RequestID: "r1", Invocation: 1, ColdStart: true}},
		{Invocation: &Record{RequestID: "r2", Invocation: 2}},
	}
{%- else %}
	batch := []Record{
		{RequestID: "r1", Invocation: 1, ColdStart: true},
		{RequestID: "r2", Invocation: 2},
	}
{%- endif %}
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
{%- if cookiecutter.telemetry %}

func TestTelemetryLeavesExtensionLinesOutOfTheQueue(t *testing.T) {
	p, _ := New(config.Config{}, slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)))
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
	p, _ := New(config.Config{}, slog.New(slog.NewJSONHandler(&logs, nil)))
	batch := []Item{p.Record(extapi.Event{EventType: extapi.Invoke, RequestID: "r1"})}
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

// lockedBuffer is a log destination safe to read while other goroutines log.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A burst of telemetry larger than the queue, delivered while the worker is busy,
// fills the queue, drops exactly the rest, and never blocks the listener or the
// event loop. This wires the queue and the listener the way main.go does.
func TestTelemetryBurstOverflowsTheQueueWithoutBlocking(t *testing.T) {
	const (
		capacity = 8
		burst    = 100
		maxWait  = 10 * time.Second
	)
	logs := &lockedBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	p, _ := New(config.Config{}, log)
	entered := make(chan struct{})
	release := make(chan struct{})
	var hold sync.Once
	flush := func(ctx context.Context, batch []Item) error {
		hold.Do(func() { // the first flush holds the worker until release
			close(entered)
			<-release
		})
		return p.Flush(ctx, batch)
	}
	q, err := queue.New(queue.Options{Capacity: capacity, BatchSize: 1, FlushInterval: time.Hour}, flush, log)
	if err != nil {
		t.Fatal(err)
	}
	q.Start(context.Background())
	h := queue.NewHandler(q, p.Record, log)
	h.Invoke(context.Background(), extapi.Event{EventType: extapi.Invoke, RequestID: "r0"})
	<-entered // the worker holds r0 in a flush; the queue is empty

	l, err := telemetry.Listen(context.Background(), telemetry.ListenOptions{
		LookupHost: func(context.Context, string) ([]string, error) { return nil, fmt.Errorf("no such host") },
	}, func(_ context.Context, batch []telemetry.Record) error {
		for _, rec := range batch {
			if item, ok := p.Telemetry(rec); ok {
				h.Offer(item, "telemetry_type", rec.Type)
			}
		}
		return nil
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Stop(context.Background()) })

	var body strings.Builder
	body.WriteString("[")
	for i := range burst {
		if i > 0 {
			body.WriteString(",")
		}
		fmt.Fprintf(&body, `{"time":"2024-05-01T10:00:00.000Z","type":"function","record":"line %d\n"}`, i)
	}
	body.WriteString("]")
	resp, err := http.Post("http://"+l.Addr().String()+"/telemetry", "application/json", strings.NewReader(body.String()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("burst answered %d", resp.StatusCode)
	}
	if dropped := q.Stats().Dropped; dropped != burst-capacity {
		t.Errorf("dropped %d, want exactly %d", dropped, burst-capacity)
	}

	// The event loop with the queue still full: Invoke returns at once, dropping.
	invoked := make(chan error, 1)
	go func() {
		invoked <- h.Invoke(context.Background(), extapi.Event{EventType: extapi.Invoke, RequestID: "r1"})
	}()
	select {
	case err := <-invoked:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(maxWait):
		t.Fatal("Invoke blocked on the full queue")
	}

	close(release)
	l.Stop(context.Background())
	if err := h.Shutdown(context.Background(), extapi.Event{EventType: extapi.Shutdown}); err != nil {
		t.Fatal(err)
	}
	if stats := q.Stats(); stats != (queue.Stats{Flushed: 1 + capacity, Dropped: burst - capacity + 1}) {
		t.Errorf("stats = %+v, want %d flushed, %d dropped", stats, 1+capacity, burst-capacity+1)
	}
	out := logs.String()
	if n := strings.Count(out, `"msg":"function log"`); n != capacity {
		t.Errorf("%d function lines forwarded, want %d", n, capacity)
	}
	// Drops are logged on the 1st, 2nd, 4th... only: 1..64 of 93.
	if n := strings.Count(out, `"msg":"queue full, record dropped"`); n != 7 {
		t.Errorf("%d drop lines, want 7", n)
	}
}
{%- endif %}
