package extension

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/extension/internal/extapi"
	"{{ cookiecutter.go_module }}/extension/internal/extapi/extapitest"
)

// Many extensions run at once in this package's tests: any free port by default.
func init() { proxyPortDefault = 0 }

func TestTheProxyDefaultPort(t *testing.T) {
	if defaultProxyPort == 9001 || defaultProxyPort < 1024 {
		t.Errorf("default port %d", defaultProxyPort)
	}
}

// hooked is a Handler with runtime hooks that records what they saw.
type hooked struct {
	recorder
	events, results []string
}

func (h *hooked) RuntimeEvent(_ context.Context, ev *RuntimeEvent) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, ev.RequestID)
	return nil
}

func (h *hooked) RuntimeResult(_ context.Context, res *RuntimeResult) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.results = append(h.results, res.RequestID+" "+string(res.Body))
	res.Body = []byte(strings.ToUpper(string(res.Body)))
	return nil
}

// fakeLambda is the Runtime API's side the proxy forwards to.
func fakeLambda(t *testing.T) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+string(body))
		mu.Unlock()
		if strings.HasSuffix(r.URL.Path, "/next") {
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", "req-1")
			io.WriteString(w, `{"in":1}`)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

func TestTheProxyRunsTheHooks(t *testing.T) {
	srv := extapitest.New(t)
	lambda, got := fakeLambda(t)
	port := freePort(t)
	h := &hooked{}
	_, wait := start(t, context.Background(), srv, map[string]string{
		Prefix + "PROXY_PORT":     strconv.Itoa(port),
		Prefix + "PROXY_UPSTREAM": strings.TrimPrefix(lambda.URL, "http://"),
	}, func(x *Extension) (Handler, error) {
		x.HookRuntime(h)
		return h, nil
	})
	waitForNext(t, srv)
	base := "http://127.0.0.1:" + strconv.Itoa(port) + "/2018-06-01/runtime/invocation/"
	res, err := http.Get(base + "next")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != `{"in":1}` || res.Header.Get("Lambda-Runtime-Aws-Request-Id") != "req-1" {
		t.Errorf("the runtime got %q %v", body, res.Header)
	}
	res, err = http.Post(base+"req-1/response", "application/json", strings.NewReader("ok"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Errorf("status %d", res.StatusCode)
	}
	srv.Push(extapi.Event{EventType: "SHUTDOWN", ShutdownReason: "spindown", DeadlineMs: time.Now().Add(2 * time.Second).UnixMilli()})
	r := wait()
	if r.code != 0 {
		t.Fatalf("exit code %d:\n%s", r.code, r.logText())
	}
	if want := "POST /2018-06-01/runtime/invocation/req-1/response OK"; got()[1] != want {
		t.Errorf("Lambda got %q, want %q", got(), want)
	}
	if len(h.events) != 1 || h.events[0] != "req-1" || len(h.results) != 1 || h.results[0] != "req-1 ok" {
		t.Errorf("hooks saw %v %v", h.events, h.results)
	}
	rec := recordsLine(t, r.logText())
	if rec["proxy_events"] != 1.0 || rec["proxy_results"] != 1.0 {
		t.Errorf("records line %v", rec)
	}
}

func TestTheProxyDefaultsToTheRuntimeAPI(t *testing.T) {
	srv := extapitest.New(t)
	port := freePort(t)
	_, wait := start(t, context.Background(), srv, map[string]string{Prefix + "PROXY_PORT": strconv.Itoa(port)}, handlerOf(&recorder{}))
	waitForNext(t, srv)
	// extapitest is the Runtime API here: it refuses a call without an extension id.
	res, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/2020-01-01/extension/event/next")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden || !json.Valid(body) {
		t.Errorf("got %d %q, want the Runtime API's own 403", res.StatusCode, body)
	}
	srv.Push(extapi.Event{EventType: "SHUTDOWN", ShutdownReason: "spindown"})
	wait()
}

func TestProxySettingsAreChecked(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	inUse := strconv.Itoa(taken.Addr().(*net.TCPAddr).Port)
	for _, tc := range []struct {
		name, errorType, mention string
		env                      map[string]string
		hooks                    any
	}{
		{"port 9001", errorTypeConfig, "PROXY_PORT", map[string]string{Prefix + "PROXY_PORT": "9001"}, nil},
		{"upstream not host:port", errorTypeConfig, "PROXY_UPSTREAM", map[string]string{Prefix + "PROXY_UPSTREAM": "http://x"}, nil},
		{"upstream is itself", errorTypeConfig, "PROXY_UPSTREAM", map[string]string{Prefix + "PROXY_PORT": "4999", Prefix + "PROXY_UPSTREAM": "127.0.0.1:4999"}, nil},
		{"upstream timeout too short", errorTypeConfig, "PROXY_UPSTREAM_TIMEOUT", map[string]string{Prefix + "PROXY_UPSTREAM_TIMEOUT": "10ms"}, nil},
		{"upstream timeout too long", errorTypeConfig, "PROXY_UPSTREAM_TIMEOUT", map[string]string{Prefix + "PROXY_UPSTREAM_TIMEOUT": "2m"}, nil},
		{"port in use", errorTypeInit, "in use", map[string]string{Prefix + "PROXY_PORT": inUse}, nil},
		{"hooks without hooks", errorTypeInit, "neither", nil, 42},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := extapitest.New(t)
			_, wait := start(t, context.Background(), srv, tc.env, func(x *Extension) (Handler, error) {
				if tc.hooks != nil {
					x.HookRuntime(tc.hooks)
				}
				return &recorder{}, nil
			})
			r := wait()
			req, ok := r.lastRequest("/init/error")
			if r.code != 1 || !ok || req.Header.Get("Lambda-Extension-Function-Error-Type") != tc.errorType ||
				!strings.Contains(string(req.Body), tc.mention) {
				t.Errorf("code %d, init/error %+v\n%s", r.code, req, r.logText())
			}
			recordsLine(t, r.logText())
		})
	}
}
