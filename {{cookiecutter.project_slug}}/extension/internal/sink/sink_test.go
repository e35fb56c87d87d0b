package sink

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// server answers with the statuses given, in order (the last one repeats), and keeps
// the requests.
type server struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	header   http.Header // set on every answer
	bodies   [][]byte
	headers  []http.Header
}

func newServer(t *testing.T, statuses ...int) *server {
	s := &server{statuses: statuses, header: http.Header{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, body)
		s.headers = append(s.headers, r.Header.Clone())
		status := s.statuses[min(len(s.bodies)-1, len(s.statuses)-1)]
		for k, v := range s.header {
			w.Header()[k] = v
		}
		s.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.bodies)
}

func mustURL(t *testing.T, raw string) *url.URL {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

var batch = []any{map[string]any{"id": 1, "msg": "a <b>"}, map[string]any{"id": 2}}

func TestSendPostsNDJSON(t *testing.T) {
	for _, gz := range []bool{true, false} {
		srv := newServer(t, http.StatusAccepted)
		hdr := http.Header{"X-Api-Key": {"secret"}}
		s := New(Options{URL: mustURL(t, srv.URL), Gzip: gz, Header: hdr})
		if err := s.Send(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		h := srv.headers[0]
		if h.Get("Content-Type") != "application/x-ndjson" || h.Get("X-Api-Key") != "secret" {
			t.Errorf("gzip=%v: headers %v", gz, h)
		}
		var r io.Reader = strings.NewReader(string(srv.bodies[0]))
		if gz {
			if h.Get("Content-Encoding") != "gzip" {
				t.Errorf("Content-Encoding %q", h.Get("Content-Encoding"))
			}
			zr, err := gzip.NewReader(r)
			if err != nil {
				t.Fatal(err)
			}
			r = zr
		} else if h.Get("Content-Encoding") != "" {
			t.Errorf("Content-Encoding %q without gzip", h.Get("Content-Encoding"))
		}
		var lines []map[string]any
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			lines = append(lines, m)
		}
		if len(lines) != 2 || lines[0]["msg"] != "a <b>" || lines[1]["id"] != 2.0 {
			t.Errorf("gzip=%v: lines %v", gz, lines)
		}
	}
}

func TestRetriesConnectionErrors429And5xx(t *testing.T) {
	srv := newServer(t, http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusOK)
	s := New(Options{URL: mustURL(t, srv.URL), BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	if err := s.Send(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if n := srv.requests(); n != 4 {
		t.Errorf("%d requests, want 4", n)
	}
}

func TestGivesUpAfterTheRetries(t *testing.T) {
	srv := newServer(t, http.StatusBadGateway)
	s := New(Options{URL: mustURL(t, srv.URL), Retries: 2, BaseBackoff: time.Millisecond})
	err := s.Send(context.Background(), batch)
	if err == nil || errors.Is(err, ErrRejected) || srv.requests() != 3 {
		t.Errorf("err = %v after %d requests, want a retryable error after 3", err, srv.requests())
	}
}

func TestOther4xxRejectsAtOnce(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge} {
		srv := newServer(t, status)
		s := New(Options{URL: mustURL(t, srv.URL), BaseBackoff: time.Millisecond})
		if err := s.Send(context.Background(), batch); !errors.Is(err, ErrRejected) || srv.requests() != 1 {
			t.Errorf("%d: err = %v after %d requests, want ErrRejected after 1", status, err, srv.requests())
		}
	}
}

// A Retry-After longer than what is left of the flush's deadline ends the send at
// once instead of sleeping past it.
func TestRetryAfterIsHonouredWithinTheDeadline(t *testing.T) {
	srv := newServer(t, http.StatusTooManyRequests, http.StatusOK)
	srv.header.Set("Retry-After", "30")
	s := New(Options{URL: mustURL(t, srv.URL), MaxBackoff: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.Send(ctx, batch)
	if err == nil || !strings.Contains(err.Error(), "no time left") || srv.requests() != 1 {
		t.Errorf("err = %v after %d requests, want a give-up after 1", err, srv.requests())
	}
}

func TestBackoff(t *testing.T) {
	s := New(Options{BaseBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	if got := s.backoff(0, 3*time.Second); got != 100*time.Millisecond {
		t.Errorf("Retry-After beyond MaxBackoff: %v, want the cap", got)
	}
	if got := s.backoff(0, 40*time.Millisecond); got != 40*time.Millisecond {
		t.Errorf("Retry-After: %v, want 40ms", got)
	}
	for attempt := range 10 {
		ceiling := min(10*time.Millisecond<<attempt, 100*time.Millisecond)
		for range 50 {
			if got := s.backoff(attempt, 0); got < 0 || got > ceiling {
				t.Fatalf("attempt %d: backoff %v outside [0, %v]", attempt, got, ceiling)
			}
		}
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":                              0,
		"2":                             2 * time.Second,
		"-1":                            0,
		"soon":                          0,
		"Thu, 01 Jan 2026 00:00:05 GMT": 5 * time.Second,
		"Wed, 31 Dec 2025 23:59:00 GMT": 0,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestConnectionErrorsAreRetriedAndNeverLeakTheURL(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepts atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepts.Add(1)
			c.Close() // reset before any answer
		}
	}()
	defer ln.Close()
	s := New(Options{URL: mustURL(t, "http://"+ln.Addr().String()+"/in?token=hush"), Retries: 2, BaseBackoff: time.Millisecond,
		Header: http.Header{"X-Api-Key": {"secret"}}})
	err = s.Send(context.Background(), batch)
	if err == nil {
		t.Fatal("sent to a server that closes every connection")
	}
	if strings.Contains(err.Error(), "hush") || strings.Contains(err.Error(), "secret") {
		t.Errorf("error leaks the URL or a header: %v", err)
	}
	if n := accepts.Load(); n < 3 {
		t.Errorf("%d connections, want one per attempt (3)", n)
	}
}

// An attempt that gets no answer is cut by AttemptTimeout and retried.
func TestAnAttemptWithoutAnswerIsBounded(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	defer close(release)
	s := New(Options{URL: mustURL(t, srv.URL), AttemptTimeout: 50 * time.Millisecond, BaseBackoff: time.Millisecond})
	if err := s.Send(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d calls, want 2", n)
	}
}

// connKey marks each request with the connection it came on.
type connKey struct{}

// A kept-alive connection is reused between sends; one idle across a freeze (the
// wall clock moved past IdleTimeout) is dropped first, so the next send opens a new
// connection instead of hanging on one the peer forgot. The server here plays the
// forgetful peer: a second request on an old connection never gets an answer.
func TestAConnectionStaleAfterAFreezeDoesNotHangTheNextSend(t *testing.T) {
	var conns atomic.Int32
	type connState struct{ requests atomic.Int32 }
	release := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := r.Context().Value(connKey{}).(*connState)
		if st.requests.Add(1) > 2 {
			select { // the connection went stale: no answer ever comes
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	srv.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		conns.Add(1)
		return context.WithValue(ctx, connKey{}, &connState{})
	}
	srv.Start()
	defer srv.Close()
	defer close(release)
	s := New(Options{URL: mustURL(t, srv.URL), AttemptTimeout: time.Minute, Retries: -1})
	for range 2 {
		if err := s.Send(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for two sends in a row, want 1 kept alive", n)
	}
	s.mu.Lock()
	s.lastUsed = s.lastUsed.Add(-time.Hour) // a freeze of an hour
	s.mu.Unlock()
	done := make(chan error, 1)
	go func() { done <- s.Send(context.Background(), batch) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the send after the freeze hangs on the stale connection")
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want a new one after the freeze", n)
	}
}

// gunzipLines decodes a gzip NDJSON body into its lines.
func gunzipLines(t *testing.T, body []byte) []string {
	t.Helper()
	zr, err := gzip.NewReader(strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// The gzip writers are pooled: bodies encoded at once, and one after another on a
// reused writer, each decode to their own records, whole.
func TestEncodeReusesGzipWritersSafely(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				want := []any{map[string]int{"g": g, "i": i}, strings.Repeat("x", 100*i)}
				body, err := Encode(want, true)
				if err != nil {
					t.Error(err)
					return
				}
				lines := gunzipLines(t, body)
				first, _ := json.Marshal(want[0])
				second, _ := json.Marshal(want[1])
				if len(lines) != 2 || lines[0] != string(first) || lines[1] != string(second) {
					t.Errorf("goroutine %d body %d decodes to %q", g, i, lines)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkEncode is one small flush's body (14 records, as one invocation's
// telemetry): gzip's state is reused, not allocated per flush.
func BenchmarkEncode(b *testing.B) {
	records := make([]any, 14)
	for i := range records {
		records[i] = map[string]string{"time": "2026-12-02T01:00:00.000Z", "type": "function", "record": "a log line of the function"}
	}
	for _, gz := range []bool{true, false} {
		name := "plain"
		if gz {
			name = "gzip"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Encode(records, gz); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
