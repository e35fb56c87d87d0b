// Package extapitest provides a scripted fake of Lambda's Extensions API for unit
// tests, in the spirit of net/http/httptest. Tests push the answers that
// /event/next should give and inspect the requests the extension made.
package extapitest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// ID is the extension identifier the fake hands out on register.
const ID = "extapitest-id"

// Request is one request the fake received.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// Reply is a canned HTTP answer.
type Reply struct {
	Status int
	Body   string
}

// Server is a fake Extensions API. Its zero value is not usable; call New.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	requests []Request
	replies  map[string]Reply // path suffix -> forced reply
	events   chan Reply
	gone     chan struct{}
	vanish   sync.Once
}

// New starts a fake and closes it when the test ends.
func New(t testing.TB) *Server {
	s := &Server{replies: map[string]Reply{}, events: make(chan Reply, 64), gone: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	// Vanish, not Close: an /event/next still waiting when the test ends must not
	// hold Close (which waits for every active request) forever.
	t.Cleanup(s.Vanish)
	return s
}

// Addr is the host:port to use as AWS_LAMBDA_RUNTIME_API.
func (s *Server) Addr() string { return strings.TrimPrefix(s.URL, "http://") }

// Force makes every request to the path ending in suffix ("/register", "/event/next",
// "/init/error", "/exit/error") answer with status and body.
func (s *Server) Force(suffix string, status int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies[suffix] = Reply{Status: status, Body: body}
}

// Push queues the JSON of v as the answer to one /event/next call.
func (s *Server) Push(v any) {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	s.PushRaw(http.StatusOK, string(data))
}

// PushRaw queues a raw answer to one /event/next call.
func (s *Server) PushRaw(status int, body string) { s.events <- Reply{status, body} }

// Vanish makes the API go away as it does when the sandbox dies: calls waiting in
// /event/next lose their connection without an answer, and the listener closes.
func (s *Server) Vanish() {
	// Close the listener first: net/http retries an idempotent GET whose reused
	// connection dropped, and that retry must find nobody listening.
	s.Listener.Close()
	s.vanish.Do(func() { close(s.gone) })
	s.Close()
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Paths returns the paths of the requests received so far, in order.
func (s *Server) Paths() []string {
	var paths []string
	for _, r := range s.Requests() {
		paths = append(paths, r.Path)
	}
	return paths
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests = append(s.requests, Request{r.Method, r.URL.Path, r.Header.Clone(), body})
	forced, isForced := Reply{}, false
	for suffix, reply := range s.replies {
		if strings.HasSuffix(r.URL.Path, suffix) {
			forced, isForced = reply, true
		}
	}
	s.mu.Unlock()
	if isForced {
		w.WriteHeader(forced.Status)
		io.WriteString(w, forced.Body)
		return
	}

	const base = "/2020-01-01/extension"
	if r.URL.Path == base+"/register" {
		w.Header().Set("Lambda-Extension-Identifier", ID)
		io.WriteString(w, `{"functionName":"fn","functionVersion":"$LATEST","handler":"h","accountId":"123456789012","newField":1}`)
		return
	}
	if r.Header.Get("Lambda-Extension-Identifier") != ID {
		http.Error(w, `{"errorType":"Extension.MissingExtensionIdentifier"}`, http.StatusForbidden)
		return
	}
	switch r.URL.Path {
	case base + "/event/next":
		select {
		case reply := <-s.events:
			w.WriteHeader(reply.Status)
			io.WriteString(w, reply.Body)
		case <-r.Context().Done():
		case <-s.gone:
			panic(http.ErrAbortHandler) // drops the connection without an answer
		}
	case base + "/init/error", base + "/exit/error":
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"status":"OK"}`)
	default:
		http.NotFound(w, r)
	}
}
