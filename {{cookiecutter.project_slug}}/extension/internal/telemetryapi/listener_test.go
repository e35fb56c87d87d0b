package telemetryapi_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/extension/internal/telemetryapi"
	"{{ cookiecutter.go_module }}/extension/telemetry"
)

const maxWait = 10 * time.Second

// logBuffer is a log destination safe to read while the listener writes to it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewJSONHandler(b, nil)) }

// collector is a Sink that keeps every batch.
type collector struct {
	mu      sync.Mutex
	batches [][]telemetry.Record
}

func (c *collector) sink(_ context.Context, batch []telemetry.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batches = append(c.batches, batch)
	return nil
}

func (c *collector) batchCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.batches)
}

func (c *collector) records() []telemetry.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	var all []telemetry.Record
	for _, b := range c.batches {
		all = append(all, b...)
	}
	return all
}

func notResolving(context.Context, string) ([]string, error) {
	return nil, &net.DNSError{Err: "no such host", Name: telemetryapi.SandboxHost, IsNotFound: true}
}

func resolvingTo(addrs ...string) func(context.Context, string) ([]string, error) {
	return func(_ context.Context, host string) ([]string, error) {
		if host != telemetryapi.SandboxHost {
			return nil, fmt.Errorf("looked up %q", host)
		}
		return addrs, nil
	}
}

func listen(t *testing.T, opts telemetryapi.ListenOptions, sink telemetryapi.Sink, logs *logBuffer) *telemetryapi.Listener {
	t.Helper()
	if opts.LookupHost == nil {
		opts.LookupHost = notResolving
	}
	l, err := telemetryapi.Listen(context.Background(), opts, sink, logs.logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), maxWait)
		defer cancel()
		l.Stop(ctx)
	})
	return l
}

func post(t *testing.T, l *telemetryapi.Listener, method, path, body string) int {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+l.Addr().String()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

const twoRecords = `[{"time":"2022-10-12T00:03:50.000Z","type":"platform.start","record":{"requestId":"r1"}},` +
	`{"time":"2022-10-12T00:03:50.010Z","type":"function","record":"hello\n"}]`

func TestListenFallsBackToLoopbackWhenTheNameDoesNotResolve(t *testing.T) {
	logs := &logBuffer{}
	l := listen(t, telemetryapi.ListenOptions{}, (&collector{}).sink, logs)

	if ip := l.Addr().(*net.TCPAddr).IP; !ip.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("bound %v, want 127.0.0.1", ip)
	}
	if !strings.Contains(logs.String(), "does not resolve, listening on 127.0.0.1") {
		t.Errorf("fallback not logged: %s", logs.String())
	}
	if want := fmt.Sprintf("http://sandbox.localdomain:%d/telemetry", l.Port()); l.URI() != want {
		t.Errorf("URI = %s, want %s: Lambda delivers to the name", l.URI(), want)
	}
}

func TestListenBindsTheResolvedAddressNeverTheUnspecifiedOne(t *testing.T) {
	tests := []struct {
		name     string
		addrs    []string
		fallback bool
	}{
		{"resolves to loopback", []string{"127.0.0.1"}, false},
		{"unspecified first", []string{"0.0.0.0", "127.0.0.1"}, false},
		{"only unspecified", []string{"0.0.0.0", "::"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &logBuffer{}
			l := listen(t, telemetryapi.ListenOptions{LookupHost: resolvingTo(tt.addrs...)}, (&collector{}).sink, logs)
			ip := l.Addr().(*net.TCPAddr).IP
			if ip.IsUnspecified() || !ip.Equal(net.IPv4(127, 0, 0, 1)) {
				t.Errorf("bound %v", ip)
			}
			if fellBack := strings.Contains(logs.String(), "does not resolve"); fellBack != tt.fallback {
				t.Errorf("fallback logged = %v, want %v: %s", fellBack, tt.fallback, logs.String())
			}
		})
	}
}

func TestListenerTakesBatchesAndRefusesTheRest(t *testing.T) {
	c := &collector{}
	logs := &logBuffer{}
	l := listen(t, telemetryapi.ListenOptions{MaxBodyBytes: 1024}, c.sink, logs)

	tests := []struct {
		name, method, path, body string
		want                     int
	}{
		{"batch", http.MethodPost, "/telemetry", twoRecords, http.StatusOK},
		{"empty array", http.MethodPost, "/telemetry", `[]`, http.StatusOK},
		{"wrong method", http.MethodGet, "/telemetry", "", http.StatusMethodNotAllowed},
		{"wrong method with body", http.MethodPut, "/telemetry", twoRecords, http.StatusMethodNotAllowed},
		{"wrong path", http.MethodPost, "/logs", twoRecords, http.StatusNotFound},
		{"garbage", http.MethodPost, "/telemetry", `{"not":"an array"`, http.StatusBadRequest},
		{"not an array", http.MethodPost, "/telemetry", `{"type":"function"}`, http.StatusBadRequest},
		{"oversize", http.MethodPost, "/telemetry", "[" + strings.Repeat(`"x",`, 300) + `"x"]`, http.StatusRequestEntityTooLarge},
		{"still running", http.MethodPost, "/telemetry", twoRecords, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := post(t, l, tt.method, tt.path, tt.body); got != tt.want {
				t.Errorf("status %d, want %d", got, tt.want)
			}
		})
	}

	records := c.records()
	if len(records) != 4 || records[0].Type != "platform.start" || records[1].Body.(*telemetry.Log).Message != "hello\n" {
		t.Errorf("sink got %+v", records)
	}
	if c.batchCount() != 2 {
		t.Errorf("sink got %d batches, want 2 (the empty array is not handed on)", len(c.batches))
	}
	if stats := l.Stats(); stats != (telemetryapi.Stats{Batches: 3, Records: 4, Rejected: 6}) {
		t.Errorf("stats = %+v", stats)
	}
	// Refusals are logged on the 1st, 2nd and 4th only.
	if n := strings.Count(logs.String(), "refused a request"); n != 3 {
		t.Errorf("%d refusal lines, want 3:\n%s", n, logs.String())
	}
}

func TestBodyCapFollowsMaxBytes(t *testing.T) {
	for _, maxBytes := range []int{telemetryapi.MinMaxBytes, telemetryapi.MaxMaxBytes} {
		if limit := telemetryapi.MaxBodyBytes(maxBytes); limit <= 2*int64(maxBytes) {
			t.Errorf("MaxBodyBytes(%d) = %d, want more than twice maxBytes", maxBytes, limit)
		}
	}
	// A batch of exactly 2 x maxBytes of records plus its JSON is taken.
	c := &collector{}
	l := listen(t, telemetryapi.ListenOptions{MaxBodyBytes: telemetryapi.MaxBodyBytes(telemetryapi.MinMaxBytes)}, c.sink, &logBuffer{})
	line := strings.Repeat("x", 1000)
	var b strings.Builder
	b.WriteString("[")
	for n := 0; b.Len() < 2*telemetryapi.MinMaxBytes; n++ {
		if n > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"time":"2022-10-12T00:03:50.000Z","type":"function","record":%q}`, line)
	}
	b.WriteString("]")
	if got := post(t, l, http.MethodPost, "/telemetry", b.String()); got != http.StatusOK {
		t.Errorf("a %d-byte batch got %d", b.Len(), got)
	}
}

func TestStopWaitsForTheBatchInFlight(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	c := &collector{}
	l := listen(t, telemetryapi.ListenOptions{}, func(ctx context.Context, batch []telemetry.Record) error {
		close(entered)
		<-release
		return c.sink(ctx, batch)
	}, &logBuffer{})

	status := make(chan int, 1)
	go func() { status <- post(t, l, http.MethodPost, "/telemetry", twoRecords) }()
	<-entered
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), maxWait)
		defer cancel()
		stopped <- l.Stop(ctx)
	}()
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while a batch was in flight", err)
	default:
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if got := <-status; got != http.StatusOK {
		t.Errorf("in-flight batch answered %d", got)
	}
	if len(c.records()) != 2 {
		t.Errorf("sink got %d records, want 2", len(c.records()))
	}
	if _, err := http.Post("http://"+l.Addr().String()+"/telemetry", "application/json", strings.NewReader(twoRecords)); err == nil {
		t.Error("the listener still takes batches after Stop")
	}
}

func TestStopTakesWhatArrivesWhileItWaits(t *testing.T) {
	c := &collector{}
	logs := &logBuffer{}
	l := listen(t, telemetryapi.ListenOptions{Quiet: time.Hour}, c.sink, logs)

	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- l.Stop(ctx) }()
	// Lambda's last delivery, after SHUTDOWN: the listener is still open.
	if got := post(t, l, http.MethodPost, "/telemetry", twoRecords); got != http.StatusOK {
		t.Fatalf("late batch got %d", got)
	}
	cancel() // the shutdown deadline
	if err := <-stopped; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if len(c.records()) != 2 {
		t.Errorf("sink got %d records, want 2", len(c.records()))
	}
	if !strings.Contains(logs.String(), `"msg":"telemetry listener stopped","batches":1,"records":2`) {
		t.Errorf("no stop line with the counts: %s", logs.String())
	}
	if err := l.Stop(context.Background()); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("second Stop: %v", err)
	}
}

func TestSinkErrorsAreLoggedAndTheBatchAnswered(t *testing.T) {
	logs := &logBuffer{}
	l := listen(t, telemetryapi.ListenOptions{}, func(context.Context, []telemetry.Record) error {
		return errors.New("backend down")
	}, logs)
	if got := post(t, l, http.MethodPost, "/telemetry", twoRecords); got != http.StatusOK {
		t.Errorf("status %d", got)
	}
	if !strings.Contains(logs.String(), "backend down") {
		t.Errorf("error not logged: %s", logs.String())
	}
}

// stopWithin stops l with a budget and reports whether Stop returned before the
// budget was used up.
func stopWithin(t *testing.T, l *telemetryapi.Listener, budget time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	began := time.Now()
	l.Stop(ctx)
	t.Logf("Stop took %s of a %s budget", time.Since(began).Round(time.Millisecond), budget)
	if ctx.Err() != nil {
		t.Errorf("Stop used up the whole shutdown budget of %s", budget)
	}
}

// A client that connects and sends nothing (or sends a body slowly) must not hold the
// listener's stop for the whole shutdown budget: the handler needs that time.
func TestStopClosesStalledConnections(t *testing.T) {
	tests := []struct {
		name  string
		stall func(t *testing.T, conn net.Conn)
	}{
		{"idle connection", func(*testing.T, net.Conn) {}},
		{"half a request head", func(t *testing.T, conn net.Conn) {
			io.WriteString(conn, "POST /telemetry HTTP/1.1\r\nHost: x\r\n")
		}},
		{"slow body", func(t *testing.T, conn net.Conn) {
			io.WriteString(conn, "POST /telemetry HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n[")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &collector{}
			l := listen(t, telemetryapi.ListenOptions{Quiet: 50 * time.Millisecond}, c.sink, &logBuffer{})
			conn, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			tt.stall(t, conn)
			if got := post(t, l, http.MethodPost, "/telemetry", twoRecords); got != http.StatusOK {
				t.Fatalf("a real batch beside the stalled client got %d", got)
			}
			stopWithin(t, l, 2*time.Second)
			if len(c.records()) != 2 {
				t.Errorf("sink got %d records, want 2", len(c.records()))
			}
		})
	}
}

// holdSlots opens 4 slow clients that each hold a reading slot, and returns once a
// batch beside them is refused with 503; closing the connections frees the slots.
func holdSlots(t *testing.T, l *telemetryapi.Listener) []net.Conn {
	t.Helper()
	var conns []net.Conn
	for range 4 {
		conn, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		io.WriteString(conn, "POST /telemetry HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n[")
		conns = append(conns, conn)
	}
	deadline := time.Now().Add(maxWait)
	for {
		status := post(t, l, http.MethodPost, "/telemetry", twoRecords)
		if status == http.StatusServiceUnavailable {
			return conns
		}
		// The slow clients may not hold their slots yet: try again until they do.
		if status != http.StatusOK || time.Now().After(deadline) {
			t.Fatalf("status %d, want 503 once 4 bodies are being read", status)
		}
	}
}

// While every reading slot is held by a slow client, another request waits for a
// slot and is refused with 503 instead of being buffered too.
func TestConcurrentBodiesAreBounded(t *testing.T) {
	c := &collector{}
	l := listen(t, telemetryapi.ListenOptions{}, c.sink, &logBuffer{})
	conns := holdSlots(t, l)
	for _, conn := range conns {
		conn.Close()
	}
	deadline := time.Now().Add(maxWait)
	for time.Now().Before(deadline) {
		if post(t, l, http.MethodPost, "/telemetry", twoRecords) == http.StatusOK {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Error("the listener never took batches again after the slow clients left")
}

// A large body refused for want of a slot is read to the end first, so its client
// gets the 503 on a connection kept alive. Refused unread, net/http closes the
// connection (Connection: close) and a client still writing the body gets a reset:
// under load, hundreds of the load test's attackers saw no answer at all.
func TestABusyRefusalReadsTheBodyAndKeepsTheConnection(t *testing.T) {
	l := listen(t, telemetryapi.ListenOptions{}, (&collector{}).sink, &logBuffer{})
	holdSlots(t, l)
	size := int(telemetryapi.MaxBodyBytes(telemetryapi.MinMaxBytes)) - 1000
	body := "[" + strings.Repeat(" ", size-2) + "]"
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(maxWait)) // bounds a broken listener, not a speed
	wrote := make(chan error, 1)
	go func() {
		_, err := io.WriteString(conn, fmt.Sprintf("POST /telemetry HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
		wrote <- err
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", resp.StatusCode)
	}
	if resp.Close {
		t.Errorf("the 503 closes the connection (Connection: close): the body was not read")
	}
	if err := <-wrote; err != nil {
		t.Errorf("writing the body: %v", err)
	}
}

func TestAnOversizedDeclaredBodyIsRefusedUnread(t *testing.T) {
	l := listen(t, telemetryapi.ListenOptions{MaxBodyBytes: 1024}, (&collector{}).sink, &logBuffer{})
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "POST /telemetry HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413", resp.StatusCode)
	}
}
