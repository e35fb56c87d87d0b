package runtimeproxy

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// lambdaHeaders are the headers Lambda sends with an event; all must reach the runtime.
var lambdaHeaders = map[string]string{
	"Lambda-Runtime-Aws-Request-Id":       "req-1",
	"Lambda-Runtime-Deadline-Ms":          "1767225600000",
	"Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:fn",
	"Lambda-Runtime-Trace-Id":             "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
	"Lambda-Runtime-Client-Context":       `{"client":{"app_title":"a"}}`,
	"Lambda-Runtime-Cognito-Identity":     `{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}`,
	"Content-Type":                        "application/json",
}

// fakeRuntimeAPI is Lambda's side: one event on /next, and it records what it gets.
type fakeRuntimeAPI struct {
	*httptest.Server
	mu       sync.Mutex
	got      []seen
	onStream func(r *http.Request) // called for a streamed response, before reading
}

type seen struct {
	method, uri string
	header      http.Header
	body        string
	trailer     http.Header
}

func newFake(t *testing.T) *fakeRuntimeAPI {
	f := &fakeRuntimeAPI{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.onStream != nil && r.Header.Get(HeaderResponseMode) == "streaming" {
			f.onStream(r)
		}
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.got = append(f.got, seen{r.Method, r.RequestURI, r.Header.Clone(), string(body), r.Trailer.Clone()})
		f.mu.Unlock()
		switch {
		case r.URL.Path == NextPath:
			for k, v := range lambdaHeaders {
				w.Header().Set(k, v)
			}
			io.WriteString(w, `{"user":"alice","n":1}`)
		case strings.HasSuffix(r.URL.Path, "/response"), strings.HasSuffix(r.URL.Path, "/error"):
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, `{"status":"OK"}`)
		default:
			w.Header().Set("X-Fake", "unknown path")
			w.WriteHeader(http.StatusTeapot)
			io.WriteString(w, "unknown: "+r.RequestURI)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeRuntimeAPI) last() seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.got[len(f.got)-1]
}

func startProxy(t *testing.T, upstream string, hooks Hooks) (*Proxy, string) {
	t.Helper()
	p, err := New(upstream, slog.New(slog.DiscardHandler), Options{})
	if err != nil {
		t.Fatal(err)
	}
	p.SetHooks(hooks)
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv.URL
}

func TestEventsPassWithEveryHeader(t *testing.T) {
	f := newFake(t)
	var hooked *Event
	_, url := startProxy(t, strings.TrimPrefix(f.URL, "http://"), Hooks{Event: func(_ context.Context, ev *Event) error {
		hooked = &Event{RequestID: ev.RequestID, Header: ev.Header.Clone(), Payload: ev.Payload}
		ev.Payload = []byte(`{"changed":true}`)
		return nil
	}})
	res, err := http.Get(url + NextPath)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for k, v := range lambdaHeaders {
		if got := res.Header.Get(k); got != v {
			t.Errorf("runtime got %s = %q, want %q", k, got, v)
		}
	}
	if string(body) != `{"changed":true}` || res.ContentLength != int64(len(body)) {
		t.Errorf("runtime got body %q (length %d), want the hook's", body, res.ContentLength)
	}
	if hooked == nil || hooked.RequestID != "req-1" || string(hooked.Payload) != `{"user":"alice","n":1}` ||
		hooked.Header.Get("Lambda-Runtime-Cognito-Identity") == "" {
		t.Errorf("hook saw %+v", hooked)
	}
}

func TestResponsesGoThroughTheHook(t *testing.T) {
	f := newFake(t)
	var got *Result
	p, url := startProxy(t, strings.TrimPrefix(f.URL, "http://"), Hooks{Result: func(_ context.Context, res *Result) error {
		got = res
		res.Body = bytes.ReplaceAll(res.Body, []byte("secret"), []byte("xxxxxx"))
		return nil
	}})
	res, _ := http.Get(url + NextPath)
	res.Body.Close()
	res, err := http.Post(url+"/2018-06-01/runtime/invocation/req-1/response", "application/json", strings.NewReader(`{"token":"secret"}`))
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted || string(answer) != `{"status":"OK"}` {
		t.Errorf("runtime got %d %q, want Lambda's 202", res.StatusCode, answer)
	}
	if up := f.last(); up.body != `{"token":"xxxxxx"}` || up.uri != "/2018-06-01/runtime/invocation/req-1/response" {
		t.Errorf("Lambda got %+v", up)
	}
	if got == nil || got.RequestID != "req-1" || got.Error || got.Streamed || got.Bytes != 18 || got.EventBytes != 22 {
		t.Errorf("hook saw %+v", got)
	}
	res, _ = http.Post(url+"/2018-06-01/runtime/invocation/req-2/error", "application/json", strings.NewReader(`{"errorType":"E"}`))
	res.Body.Close()
	if got.RequestID != "req-2" || !got.Error {
		t.Errorf("error hook saw %+v", got)
	}
	if s := p.Stats(); s.Events != 1 || s.Results != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestAHookErrorPassesTheOriginal(t *testing.T) {
	f := newFake(t)
	p, url := startProxy(t, strings.TrimPrefix(f.URL, "http://"), Hooks{Result: func(_ context.Context, res *Result) error {
		res.Body = nil
		return io.ErrUnexpectedEOF
	}})
	res, _ := http.Post(url+"/2018-06-01/runtime/invocation/r/response", "text/plain", strings.NewReader("original"))
	res.Body.Close()
	if up := f.last(); up.body != "original" {
		t.Errorf("Lambda got %q", up.body)
	}
	if p.Stats().HookErrors != 1 {
		t.Errorf("stats %+v", p.Stats())
	}
}

func TestUnknownPathsPassUnchanged(t *testing.T) {
	f := newFake(t)
	_, url := startProxy(t, strings.TrimPrefix(f.URL, "http://"), Hooks{})
	for _, uri := range []string{
		"/2018-06-01/runtime/init/error",
		"/2018-06-01/runtime/invocation/r/unknown",
		"/2030-01-01/future/api?x=1&y=%2F",
	} {
		req, _ := http.NewRequest(http.MethodPost, url+uri, strings.NewReader("body"))
		req.Header.Set("Lambda-Runtime-Function-Error-Type", "Runtime.Custom")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		up := f.last()
		wantStatus, wantFake := http.StatusTeapot, true
		if strings.HasSuffix(uri, "/init/error") {
			wantStatus, wantFake = http.StatusAccepted, false
		}
		if up.uri != uri || up.body != "body" || up.header.Get("Lambda-Runtime-Function-Error-Type") != "Runtime.Custom" {
			t.Errorf("%s: Lambda got %+v", uri, up)
		}
		if res.StatusCode != wantStatus || (res.Header.Get("X-Fake") != "") != wantFake {
			t.Errorf("%s: runtime got %d %v", uri, res.StatusCode, res.Header)
		}
	}
}

// A streamed response reaches Lambda chunk by chunk, with its trailers, and the hook
// sees its size afterwards.
func TestStreamedResponsesPassChunkByChunk(t *testing.T) {
	f := newFake(t)
	firstChunk := make(chan string, 1)
	f.onStream = func(r *http.Request) {
		b := make([]byte, 5)
		n, _ := io.ReadFull(r.Body, b)
		firstChunk <- string(b[:n])
		// the rest is read by the fake's handler
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(b[:n]), r.Body))
	}
	var got *Result
	hooked := make(chan struct{})
	_, url := startProxy(t, strings.TrimPrefix(f.URL, "http://"), Hooks{Result: func(_ context.Context, res *Result) error {
		got = res
		close(hooked)
		return nil
	}})
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, url+"/2018-06-01/runtime/invocation/s1/response", pr)
	req.Header.Set(HeaderResponseMode, "streaming")
	req.Header.Set("Content-Type", "application/vnd.awslambda.http-integration-response")
	req.Trailer = http.Header{"Lambda-Runtime-Function-Error-Type": nil, "Lambda-Runtime-Function-Error-Body": nil}
	done := make(chan *http.Response, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			close(done)
			return
		}
		done <- res
	}()
	io.WriteString(pw, "hello")
	select {
	case c := <-firstChunk:
		if c != "hello" {
			t.Errorf("first chunk %q", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the first chunk did not reach Lambda before the stream ended: buffered")
	}
	io.WriteString(pw, " world")
	req.Trailer.Set("Lambda-Runtime-Function-Error-Type", "Function.Late")
	req.Trailer.Set("Lambda-Runtime-Function-Error-Body", "YmFk")
	pw.Close()
	if res := <-done; res != nil {
		res.Body.Close()
	}
	<-hooked
	up := f.last()
	if up.body != "hello world" || up.header.Get(HeaderResponseMode) != "streaming" {
		t.Errorf("Lambda got %+v", up)
	}
	if up.trailer.Get("Lambda-Runtime-Function-Error-Type") != "Function.Late" || up.trailer.Get("Lambda-Runtime-Function-Error-Body") != "YmFk" {
		t.Errorf("Lambda got trailers %v", up.trailer)
	}
	if !got.Streamed || got.Bytes != 11 || got.Body != nil || got.Status != http.StatusAccepted {
		t.Errorf("hook saw %+v", got)
	}
}

func TestAGoneUpstreamFailsAtOnce(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	gone := ln.Addr().String()
	ln.Close()
	p, url := startProxy(t, gone, Hooks{})
	res, err := http.Get(url + NextPath)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "upstream unreachable") {
		t.Errorf("runtime got %d %q, want 502 with the reason", res.StatusCode, body)
	}
	if p.Stats().UpstreamFailure != 1 {
		t.Errorf("stats %+v", p.Stats())
	}
}

func TestRequestsWaitForTheHooks(t *testing.T) {
	f := newFake(t)
	p, err := New(strings.TrimPrefix(f.URL, "http://"), slog.New(slog.DiscardHandler), Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	hooked := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		res, err := http.Get(srv.URL + NextPath)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	p.SetHooks(Hooks{Event: func(_ context.Context, ev *Event) error { hooked <- ev.RequestID; return nil }})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if id := <-hooked; id != "req-1" {
		t.Errorf("hook saw %q", id)
	}
}

func TestNewRefusesABadUpstream(t *testing.T) {
	if _, err := New("no-port", slog.New(slog.DiscardHandler), Options{}); err == nil {
		t.Error("accepted an upstream without a port")
	}
	if _, err := New("127.0.0.1:9001", slog.New(slog.DiscardHandler), Options{UpstreamTimeout: -time.Second}); err == nil {
		t.Error("accepted a negative upstream timeout")
	}
}

// An upstream that takes a request and never answers: the runtime gets a 504 once the
// timeout passed, with a log line, but only the wait for an answer is bounded. A next
// held longer than that, and a streamed response that takes longer than that to send,
// both go through.
func TestAHungUpstreamTimesOutButNextAndStreamsDoNot(t *testing.T) {
	hang := make(chan struct{})        // closed at the end: the hung handler returns
	releaseNext := make(chan struct{}) // closed once the timeout has surely passed
	nextArrived := make(chan struct{})
	streamStarted := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == NextPath:
			close(nextArrived)
			<-releaseNext
			w.Header().Set(HeaderRequestID, "held")
			io.WriteString(w, `{}`)
		case r.Header.Get(HeaderResponseMode) == "streaming":
			b := make([]byte, 5)
			io.ReadFull(r.Body, b)
			close(streamStarted)
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusAccepted)
		default:
			io.Copy(io.Discard, r.Body)
			<-hang
		}
	}))
	t.Cleanup(upstream.Close)
	t.Cleanup(func() { close(hang) }) // runs first: Close waits for the handlers
	logs := make(logLines, 16)
	p, err := New(strings.TrimPrefix(upstream.URL, "http://"), slog.New(slog.NewJSONHandler(logs, nil)),
		Options{UpstreamTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	p.SetHooks(Hooks{})
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)

	nextDone := make(chan *http.Response, 1)
	go func() {
		res, err := http.Get(srv.URL + NextPath)
		if err != nil {
			t.Error(err)
		}
		nextDone <- res
	}()
	<-nextArrived

	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/2018-06-01/runtime/invocation/s1/response", pr)
	req.Header.Set(HeaderResponseMode, "streaming")
	streamDone := make(chan *http.Response, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
		}
		streamDone <- res
	}()
	io.WriteString(pw, "first")
	<-streamStarted

	// Both are now older than this request's answer.
	res, err := http.Post(srv.URL+"/2018-06-01/runtime/invocation/r1/response", "application/json", strings.NewReader(`{"ok":true}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(body), "upstream did not answer POST /2018-06-01/runtime/invocation/r1/response within 50ms") {
		t.Errorf("runtime got %d %q, want 504 with the reason", res.StatusCode, body)
	}
	if s := p.Stats(); s.UpstreamTimeout != 1 || s.UpstreamFailure != 0 {
		t.Errorf("stats %+v", s)
	}
	// The proxy logs before it answers.
	select {
	case line := <-logs:
		if !strings.Contains(line, `"msg":"runtime proxy: upstream did not answer in time"`) || !strings.Contains(line, `"timeout":"50ms"`) {
			t.Errorf("log line %s", line)
		}
	default:
		t.Error("no log line for the timeout")
	}

	io.WriteString(pw, " and the rest")
	pw.Close()
	if res := <-streamDone; res == nil || res.StatusCode != http.StatusAccepted {
		t.Errorf("streamed response: %v, want Lambda's 202", res)
	} else {
		res.Body.Close()
	}
	close(releaseNext)
	if res := <-nextDone; res == nil || res.StatusCode != http.StatusOK || res.Header.Get(HeaderRequestID) != "held" {
		t.Errorf("held next: %v, want the event", res)
	} else {
		res.Body.Close()
	}
	if s := p.Stats(); s.UpstreamTimeout != 1 {
		t.Errorf("stats %+v", s)
	}
}

// logLines is a log destination that hands each line to the test.
type logLines chan string

func (l logLines) Write(p []byte) (int, error) {
	l <- string(p)
	return len(p), nil
}
