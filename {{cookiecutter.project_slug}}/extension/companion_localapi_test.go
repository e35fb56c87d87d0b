package extension

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/extension/internal/extapi"
	"{{ cookiecutter.go_module }}/extension/internal/extapi/extapitest"
)

// Many extensions run at once in this package's tests: any free port by default.
func init() { localPortDefault = 0 }

func TestTheLocalAPIDefaultPort(t *testing.T) {
	if defaultLocalPort == 9001 || defaultLocalPort < 1024 {
		t.Errorf("default port %d", defaultLocalPort)
	}
}

// localAPI is a Handler whose local API answers with the key and counts requests.
type localAPI struct {
	recorder
	served int
}

func (l *localAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	l.served++
	l.mu.Unlock()
	io.WriteString(w, "value of "+r.URL.Path)
}

func (l *localAPI) Counts() []slog.Attr {
	l.mu.Lock()
	defer l.mu.Unlock()
	return []slog.Attr{slog.Int("served", l.served)}
}

func call(t *testing.T, port int, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(port)+"/v1/k", nil)
	if token != "" {
		req.Header.Set("X-my-ext-Token", token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// The function's init calls the local API while the extension is still registering:
// the request is accepted then, and answered once the constructor returned.
func TestTheLocalAPIListensBeforeRegistering(t *testing.T) {
	srv := extapitest.New(t)
	port := freePort(t)
	h := &localAPI{}
	answered := make(chan string, 1)
	constructed := make(chan struct{})
	_, wait := start(t, context.Background(), srv, map[string]string{
		Prefix + "LOCAL_PORT": strconv.Itoa(port),
		"AWS_SESSION_TOKEN":   "tok",
	}, func(x *Extension) (Handler, error) {
		// Registered, the constructor not yet returned: the port takes connections.
		go func() {
			code, body := call(t, port, "tok")
			answered <- strconv.Itoa(code) + " " + body
		}()
		<-constructed
		x.ServeLocalAPI(h)
		return h, nil
	})
	close(constructed)
	if got := <-answered; got != "200 value of /v1/k" {
		t.Errorf("the call during init got %q", got)
	}
	waitForNext(t, srv)
	if code, _ := call(t, port, "wrong"); code != http.StatusUnauthorized {
		t.Errorf("a wrong token got %d, want 401", code)
	}
	srv.Push(extapi.Event{EventType: "SHUTDOWN", ShutdownReason: "spindown", DeadlineMs: time.Now().Add(2 * time.Second).UnixMilli()})
	r := wait()
	if r.code != 0 {
		t.Fatalf("exit code %d:\n%s", r.code, r.logText())
	}
	rec := recordsLine(t, r.logText())
	if rec["local_api_requests"] != 2.0 || rec["local_api_unauthorized"] != 1.0 || rec["served"] != 1.0 {
		t.Errorf("records line %v", rec)
	}
	if _, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
		t.Error("the local API still listens after SHUTDOWN")
	}
}

func TestALocalPortInUseFailsInit(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	srv := extapitest.New(t)
	port := taken.Addr().(*net.TCPAddr).Port
	_, wait := start(t, context.Background(), srv, map[string]string{Prefix + "LOCAL_PORT": strconv.Itoa(port)}, handlerOf(&localAPI{}))
	r := wait()
	if r.code != 1 {
		t.Fatalf("exit code %d", r.code)
	}
	req, ok := r.lastRequest("/init/error")
	if !ok || req.Header.Get("Lambda-Extension-Function-Error-Type") != errorTypeInit || !strings.Contains(string(req.Body), "in use") {
		t.Errorf("init/error %+v, logs:\n%s", req, r.logText())
	}
	recordsLine(t, r.logText())
}

func TestTheRuntimeAPIPortIsRefused(t *testing.T) {
	srv := extapitest.New(t)
	_, wait := start(t, context.Background(), srv, map[string]string{Prefix + "LOCAL_PORT": "9001"}, handlerOf(&localAPI{}))
	r := wait()
	req, ok := r.lastRequest("/init/error")
	if r.code != 1 || !ok || req.Header.Get("Lambda-Extension-Function-Error-Type") != errorTypeConfig ||
		!strings.Contains(string(req.Body), Prefix+"LOCAL_PORT") {
		t.Errorf("code %d, init/error %+v", r.code, req)
	}
}

func TestWithoutServeLocalAPIRequestsGet503(t *testing.T) {
	srv := extapitest.New(t)
	port := freePort(t)
	_, wait := start(t, context.Background(), srv, map[string]string{
		Prefix + "LOCAL_PORT": strconv.Itoa(port), "AWS_SESSION_TOKEN": "tok",
	}, handlerOf(&recorder{}))
	waitForNext(t, srv)
	if code, _ := call(t, port, "tok"); code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", code)
	}
	srv.Push(extapi.Event{EventType: "SHUTDOWN", ShutdownReason: "spindown"})
	if r := wait(); r.code != 0 {
		t.Errorf("exit code %d", r.code)
	}
}
