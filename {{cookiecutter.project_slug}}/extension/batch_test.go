package extension

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/extension/internal/extapi"
	"{{ cookiecutter.go_module }}/extension/internal/extapi/extapitest"
)

// collector is a flush function that keeps what it was given; hold makes the first
// flush wait until release is closed.
type collector struct {
	mu      sync.Mutex
	batches [][]string
	hold    bool
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func newCollector(hold bool) *collector {
	return &collector{hold: hold, entered: make(chan struct{}), release: make(chan struct{})}
}

func (c *collector) flush(ctx context.Context, batch []string) error {
	if c.hold {
		c.once.Do(func() {
			close(c.entered)
			select {
			case <-c.release:
			case <-ctx.Done():
			}
		})
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batches = append(c.batches, batch)
	return nil
}

func (c *collector) flushed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, b := range c.batches {
		n += len(b)
	}
	return n
}

func requestID(ev Event) string { return ev.RequestID }

func TestBatcherSettings(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string // a variable the error names, "" for none
	}{
		{map[string]string{Prefix + "QUEUE_SIZE": "10", Prefix + "BATCH_SIZE": "10", Prefix + "FLUSH_INTERVAL": "250ms"}, ""},
		{map[string]string{Prefix + "QUEUE_SIZE": "0"}, "QUEUE_SIZE"},
		{map[string]string{Prefix + "QUEUE_SIZE": "ten"}, "QUEUE_SIZE"},
		{map[string]string{Prefix + "QUEUE_SIZE": "18446744073709551617"}, "QUEUE_SIZE"},
		{map[string]string{Prefix + "BATCH_SIZE": "2000"}, "BATCH_SIZE"},
		{map[string]string{Prefix + "DRAIN_BATCH_SIZE": "1"}, ""}, // below BATCH_SIZE: counts as BATCH_SIZE
		{map[string]string{Prefix + "DRAIN_BATCH_SIZE": "0"}, "DRAIN_BATCH_SIZE"},
		{map[string]string{Prefix + "DRAIN_BATCH_SIZE": "1000001"}, "DRAIN_BATCH_SIZE"},
		{map[string]string{Prefix + "FLUSH_INTERVAL": "0s"}, "FLUSH_INTERVAL"},
		{map[string]string{Prefix + "FLUSH_INTERVAL": "2h"}, "FLUSH_INTERVAL"},
		{map[string]string{Prefix + "FLUSH": "end", Prefix + "FLUSH_WAIT": "0"}, ""},
		{map[string]string{Prefix + "FLUSH": "periodic:10s"}, ""},
		{map[string]string{Prefix + "FLUSH": "Continuous"}, ""},
		{map[string]string{Prefix + "FLUSH": "sometimes"}, "FLUSH"},
		{map[string]string{Prefix + "FLUSH": "periodic:1ms"}, "FLUSH"},
		{map[string]string{Prefix + "FLUSH": "periodic"}, "FLUSH"},
		{map[string]string{Prefix + "FLUSH_WAIT": "-1s"}, "FLUSH_WAIT"},
		{map[string]string{Prefix + "FLUSH_WAIT": "1h"}, "FLUSH_WAIT"},
		{map[string]string{Prefix + "FLUSH_ADAPTIVE_GAP": "0"}, "FLUSH_ADAPTIVE_GAP"},
		{map[string]string{Prefix + "FLUSH_ADAPTIVE_AFTER": "0"}, "FLUSH_ADAPTIVE_AFTER"},
	}
	for _, tt := range tests {
		x := ForTest(tt.env, nil)
		b := NewBatcher(x, requestID, newCollector(false).flush)
		b.Shutdown(context.Background(), Event{Type: Shutdown})
		err := x.Err()
		if tt.want == "" && err != nil {
			t.Errorf("%v: %v", tt.env, err)
		}
		if tt.want != "" && (err == nil || !strings.Contains(err.Error(), Prefix+tt.want)) {
			t.Errorf("%v: err = %v, want %s named", tt.env, err, Prefix+tt.want)
		}
	}
}

func TestBatcherFlushesInBatchesAndDrainsAtShutdown(t *testing.T) {
	c := newCollector(false)
	x := ForTest(map[string]string{Prefix + "BATCH_SIZE": "2", Prefix + "FLUSH_INTERVAL": "1m"}, nil)
	b := NewBatcher(x, requestID, c.flush)
	for _, id := range []string{"r1", "r2", "r3", "r4", "r5"} {
		if err := b.Invoke(context.Background(), Event{Type: Invoke, RequestID: id}); err != nil {
			t.Fatal(err)
		}
	}
	b.Shutdown(context.Background(), Event{Type: Shutdown})
	if got := b.Records(); got != (Records{Offered: 5, Flushed: 5}) {
		t.Errorf("records = %+v", got)
	}
	for _, batch := range c.batches {
		if len(batch) > 2 {
			t.Errorf("batch of %d, BATCH_SIZE is 2", len(batch))
		}
	}
}

func TestOfferNeverBlocksAndCountsDrops(t *testing.T) {
	const capacity, burst = 8, 100
	var logs bytes.Buffer
	var mu sync.Mutex
	x := ForTest(map[string]string{Prefix + "QUEUE_SIZE": "8", Prefix + "BATCH_SIZE": "1"},
		slog.New(slog.NewJSONHandler(lockedWriter{&mu, &logs}, nil)))
	c := newCollector(true)
	b := NewBatcher(x, requestID, c.flush)
	b.Offer("held")
	<-c.entered // the worker holds one record in a flush; the queue is empty
	accepted := 0
	for range burst {
		if b.Offer("r") {
			accepted++
		}
	}
	if accepted != capacity {
		t.Errorf("accepted %d, want %d", accepted, capacity)
	}
	close(c.release)
	b.Shutdown(context.Background(), Event{Type: Shutdown})
	if got := b.Records(); got != (Records{Offered: 1 + burst, Flushed: 1 + capacity, Dropped: burst - capacity}) {
		t.Errorf("records = %+v", got)
	}
	mu.Lock()
	defer mu.Unlock()
	// Drops are logged on the 1st, 2nd, 4th, ... 64th: 7 lines for 92 drops.
	if n := strings.Count(logs.String(), `"msg":"queue full, record dropped"`); n != 7 {
		t.Errorf("%d drop lines, want 7", n)
	}
}

// A fatal loop error drains what is queued before the extension reports it and
// exits 1: every record reaches the flush or is counted.
func TestAFatalErrorDrainsTheQueueFirst(t *testing.T) {
	for _, tt := range []struct {
		name string
		fail func(*extapitest.Server)
	}{
		{"next answers 500", func(s *extapitest.Server) { s.PushRaw(http.StatusInternalServerError, "boom") }},
		{"malformed event", func(s *extapitest.Server) { s.PushRaw(http.StatusOK, `{"eventType":`) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			const invokes = 500
			srv := extapitest.New(t)
			c := newCollector(false)
			env := map[string]string{Prefix + "FLUSH_INTERVAL": "1m"} // nothing is flushed by age
			r, wait := start(t, context.Background(), srv, env, func(x *Extension) (Handler, error) {
				return NewBatcher(x, requestID, c.flush), nil
			})
			for i := range invokes {
				srv.Push(extapi.Event{EventType: "INVOKE", RequestID: string(rune('a' + i%26))})
				if i%50 == 49 {
					waitForNexts(t, srv, i+1) // the fake holds at most 64 answers
				}
			}
			tt.fail(srv)
			wait()
			if r.code != 1 {
				t.Fatalf("exit code %d, want 1", r.code)
			}
			if _, ok := r.lastRequest("/exit/error"); !ok {
				t.Error("no /exit/error")
			}
			if got := c.flushed(); got != invokes {
				t.Errorf("%d of %d records reached the flush", got, invokes)
			}
			if got := r.onlyRecords(t); got != (Records{Offered: invokes, Flushed: invokes}) {
				t.Errorf("records = %+v", got)
			}
		})
	}
}

// The batch inside a flush that the SHUTDOWN deadline cuts is counted as unflushed.
func TestADrainCutByTheDeadlineCountsTheBatchBeingFlushed(t *testing.T) {
	srv := extapitest.New(t)
	c := newCollector(true) // the first flush never ends by itself
	// continuous: the held flush runs in the background, the loop goes on.
	env := map[string]string{Prefix + "BATCH_SIZE": "64", Prefix + "SHUTDOWN_MARGIN": "50ms", Prefix + "FLUSH": "continuous"}
	r, wait := start(t, context.Background(), srv, env, func(x *Extension) (Handler, error) {
		return NewBatcher(x, requestID, c.flush), nil
	})
	for range 64 {
		srv.Push(extapi.Event{EventType: "INVOKE", RequestID: "r"})
	}
	waitForNexts(t, srv, 65)
	<-c.entered
	srv.Push(extapi.Event{EventType: "SHUTDOWN", DeadlineMs: time.Now().Add(100 * time.Millisecond).UnixMilli()})
	wait()
	close(c.release)
	if got := r.onlyRecords(t); got != (Records{Offered: 64, Unflushed: 64}) {
		t.Errorf("records = %+v, want all 64 unflushed", got)
	}
}

func TestAFlushErrorCountsTheBatchAsFailed(t *testing.T) {
	x := ForTest(nil, nil)
	b := NewBatcher(x, requestID, func(context.Context, []string) error { return errors.New("sink down") })
	b.Invoke(context.Background(), Event{Type: Invoke, RequestID: "r1"})
	b.Shutdown(context.Background(), Event{Type: Shutdown})
	if got := b.Records(); got != (Records{Offered: 1, Failed: 1}) {
		t.Errorf("records = %+v", got)
	}
}

// BenchmarkBatcherInvoke is the async variant's whole INVOKE on the event loop: build
// the record and offer it to a queue with room.
func BenchmarkBatcherInvoke(b *testing.B) {
	x := ForTest(map[string]string{Prefix + "QUEUE_SIZE": "1000000"}, nil)
	batcher := NewBatcher(x, func(ev Event) Event { return ev }, func(context.Context, []Event) error { return nil })
	ev := Event{Type: Invoke, RequestID: "3da1f2dc-3222-475e-9205-e2e6c6318895"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := batcher.Invoke(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
}

// An async processor returns a Batcher around its two functions.
func ExampleNewBatcher() {
	x := ForTest(nil, nil)
	flush := func(ctx context.Context, batch []string) error {
		fmt.Println("flushing", batch)
		return nil
	}
	h := NewBatcher(x, func(ev Event) string { return ev.RequestID }, flush)

	h.Invoke(context.Background(), Event{Type: Invoke, RequestID: "r1"})
	h.Invoke(context.Background(), Event{Type: Invoke, RequestID: "r2"})
	h.Shutdown(context.Background(), Event{Type: Shutdown})
	// Output: flushing [r1 r2]
}
