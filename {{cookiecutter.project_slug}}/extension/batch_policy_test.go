package extension

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

const policyTestWait = 10 * time.Second // a bound for what must happen, never a sleep

// invokeAndFinish runs one invocation as the event loop does: Invoke, then AfterInvoke.
func invokeAndFinish(ctx context.Context, h Handler, id string) error {
	ev := Event{Type: Invoke, RequestID: id}
	if err := h.Invoke(ctx, ev); err != nil {
		return err
	}
	if after, ok := h.(AfterInvoker); ok {
		return after.AfterInvoke(ctx, ev)
	}
	return nil
}

// "end" has the invocation's record flushed before the loop asks for the next event.
func TestEndFlushesBeforeTheNextEvent(t *testing.T) {
	c := newCollector(false)
	x := ForTest(map[string]string{Prefix + "FLUSH": "end", Prefix + "FLUSH_INTERVAL": "1m"}, nil)
	b := NewBatcher(x, requestID, c.flush)
	for i, id := range []string{"r1", "r2", "r3"} {
		if err := invokeAndFinish(context.Background(), b, id); err != nil {
			t.Fatal(err)
		}
		if got := c.flushed(); got != i+1 {
			t.Fatalf("after %s: %d records flushed, want %d", id, got, i+1)
		}
	}
	b.Shutdown(context.Background(), Event{Type: Shutdown})
	if got := b.Records(); got != (Records{Offered: 3, Flushed: 3}) {
		t.Errorf("records = %+v", got)
	}
}

// An "end" flush that the invocation's deadline cuts returns with the error; the
// records are still counted.
func TestEndFlushStopsAtTheInvocationDeadline(t *testing.T) {
	c := newCollector(true) // the flush waits for its context
	x := ForTest(map[string]string{Prefix + "FLUSH": "end"}, nil)
	b := NewBatcher(x, requestID, c.flush)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- invokeAndFinish(ctx, b, "r1") }()
	<-c.entered
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("AfterInvoke = %v, want context.Canceled", err)
		}
	case <-time.After(policyTestWait):
		t.Fatal("AfterInvoke did not return when its context ended")
	}
	b.Shutdown(context.Background(), Event{Type: Shutdown})
	if got := b.Records(); got.Offered != 1 || got.Offered != got.Flushed+got.Failed+got.Unflushed {
		t.Errorf("records = %+v", got)
	}
}

// Background policies never wait for a flush in AfterInvoke, even a stuck one.
func TestBackgroundPoliciesNeverBlockTheLoop(t *testing.T) {
	for _, policy := range []string{"continuous", "periodic:15m"} {
		t.Run(policy, func(t *testing.T) {
			c := newCollector(true)
			x := ForTest(map[string]string{Prefix + "FLUSH": policy, Prefix + "BATCH_SIZE": "1"}, nil)
			b := NewBatcher(x, requestID, c.flush)
			if err := invokeAndFinish(context.Background(), b, "r1"); err != nil {
				t.Fatal(err)
			}
			<-c.entered // the worker holds r1 in a flush that never ends by itself
			done := make(chan error, 1)
			go func() { done <- invokeAndFinish(context.Background(), b, "r2") }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(policyTestWait):
				t.Fatal("the invocation waited for the stuck flush")
			}
			close(c.release)
			b.Shutdown(context.Background(), Event{Type: Shutdown})
			if got := b.Records(); got != (Records{Offered: 2, Flushed: 2}) {
				t.Errorf("records = %+v", got)
			}
		})
	}
}

// "adaptive" flushes at the end until invocations come often, then in the background.
func TestAdaptiveSwitchesToTheBackgroundUnderSteadyTraffic(t *testing.T) {
	x := ForTest(map[string]string{Prefix + "FLUSH_ADAPTIVE_GAP": "1h", Prefix + "FLUSH_ADAPTIVE_AFTER": "2"}, nil)
	b := NewBatcher(x, requestID, newCollector(false).flush)
	defer b.Shutdown(context.Background(), Event{Type: Shutdown})
	var atEnd []bool
	for _, id := range []string{"r1", "r2", "r3", "r4"} {
		if err := invokeAndFinish(context.Background(), b, id); err != nil {
			t.Fatal(err)
		}
		atEnd = append(atEnd, b.atEnd)
	}
	if want := []bool{true, true, false, false}; !equalBools(atEnd, want) {
		t.Errorf("flushed at the end: %v, want %v", atEnd, want)
	}
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// On Lambda Managed Instances "end" and "adaptive" fall back to a background
// policy, and say so once.
func TestLMIFallsBackToABackgroundPolicy(t *testing.T) {
	for _, policy := range []string{"end", "adaptive"} {
		var logs bytes.Buffer
		var mu sync.Mutex
		x := ForTest(map[string]string{Prefix + "FLUSH": policy}, slog.New(slog.NewJSONHandler(lockedWriter{&mu, &logs}, nil)))
		x.lmi = true
		b := NewBatcher(x, requestID, newCollector(false).flush)
		b.Shutdown(context.Background(), Event{Type: Shutdown})
		if !b.policy.Background() {
			t.Errorf("%s on LMI: policy %v", policy, b.policy)
		}
		mu.Lock()
		if n := strings.Count(logs.String(), "flush policy falls back"); n != 1 {
			t.Errorf("%s on LMI: %d fallback lines, want 1: %s", policy, n, logs.String())
		}
		mu.Unlock()
	}
}

// "periodic" flushes before the next event when an interval passed since the last
// flush (a freeze): what waited does not wait through another freeze.
func TestPeriodicFlushesAnOverdueIntervalBeforeTheNextEvent(t *testing.T) {
	c := newCollector(false)
	x := ForTest(map[string]string{Prefix + "FLUSH": "periodic:15m"}, nil)
	b := NewBatcher(x, requestID, c.flush)
	defer b.Shutdown(context.Background(), Event{Type: Shutdown})
	if err := invokeAndFinish(context.Background(), b, "r1"); err != nil {
		t.Fatal(err)
	}
	if got := c.flushed(); got != 0 {
		t.Fatalf("%d records flushed within the interval, want 0", got)
	}
	b.interval = 0 // as if the interval had passed during a freeze
	if err := invokeAndFinish(context.Background(), b, "r2"); err != nil {
		t.Fatal(err)
	}
	if got := c.flushed(); got != 2 {
		t.Errorf("%d records flushed before the next event, want both", got)
	}
}
