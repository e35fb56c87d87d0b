package emulator

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"{{ cookiecutter.go_module }}/extension"
)

// emulatedSessionToken is the function's AWS_SESSION_TOKEN here: a local API takes
// requests that carry it.
const emulatedSessionToken = "emulated-session-token"

// localAPITimeout bounds one call of the emulated function to the local API.
const localAPITimeout = 2 * time.Second

// CompanionConfig makes the emulated function call the extension's companion.
type CompanionConfig struct {
	// LocalAPIKey, when set, makes the function call the local API (GET /v1/<key>
	// with its session token in X-<extension name>-Token) once in its init and once
	// per invocation; every call shows on the timeline.
	LocalAPIKey string
	// RuntimeProxy, when set, runs an emulated runtime that calls the Runtime API
	// (served by the emulator, at AWS_LAMBDA_RUNTIME_API) through the extension's
	// proxy at 127.0.0.1:PREFIX_PROXY_PORT, as the layer's exec wrapper makes a real
	// runtime do; see runtime.go. Off with LMI (one runtime worker per concurrent
	// invocation is not emulated).
	RuntimeProxy bool
}

// RegisterFlags adds the companion flags.
func (c *CompanionConfig) RegisterFlags(flags *flag.FlagSet) {
	flags.StringVar(&c.LocalAPIKey, "local-api-key", "", "the emulated function calls the extension's local API, GET /v1/`KEY` with its session token, in its init and on every invocation (local-api bakes)")
	flags.BoolVar(&c.RuntimeProxy, "runtime-proxy", false, "run an emulated runtime that gets each invocation and posts its response through the extension's Runtime API proxy, 127.0.0.1:"+extension.Prefix+"PROXY_PORT (runtime-proxy bakes; make local sets it; off with -lmi)")
}

// companionState is what the emulated function knows of the companion.
type companionState struct {
	localAddr string // 127.0.0.1:PREFIX_LOCAL_PORT, as the extension got it
	proxyAddr string // 127.0.0.1:PREFIX_PROXY_PORT, as the extension got it
	token     string // AWS_SESSION_TOKEN, as the extension got it
	initDone  sync.WaitGroup
}

// configure reads the ports and the token from the extension's environment (the
// last of duplicate entries wins, as with os/exec).
func (s *companionState) configure(env []string) {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case extension.Prefix + "LOCAL_PORT":
			s.localAddr = net.JoinHostPort("127.0.0.1", v)
		case extension.Prefix + "PROXY_PORT":
			s.proxyAddr = net.JoinHostPort("127.0.0.1", v)
		case "AWS_SESSION_TOKEN":
			s.token = v
		}
	}
}

// companionEnv gives the extension's companion (a local API, a Runtime API proxy) a
// free port each, as PREFIX_LOCAL_PORT and PREFIX_PROXY_PORT: emulated extensions run
// side by side (tests, bench), and a fixed default port would collide. It also sets
// the function's session token. Config.Env overrides them. Bakes without a companion
// ignore them. The prefix is the extension's own (extension.Prefix), whatever the
// binary's file name.
func companionEnv() []string {
	prefix := extension.Prefix
	env := []string{"AWS_SESSION_TOKEN=" + emulatedSessionToken}
	for _, name := range []string{"LOCAL_PORT", "PROXY_PORT"} {
		if port, err := freePort(); err == nil {
			env = append(env, prefix+name+"="+strconv.Itoa(port))
		}
	}
	return env
}

// freePort is a loopback port nobody listened on a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// functionInit runs the emulated function's init once the extension registered: its
// call to the local API, and the runtime's first next through the proxy, wait, as in
// Lambda, for the extension's constructor.
func (e *Emulator) functionInit() {
	if e.cfg.Companion.RuntimeProxy {
		e.startRuntime()
	}
	if e.cfg.Companion.LocalAPIKey == "" {
		return
	}
	e.fn.initDone.Add(1)
	go func() {
		defer e.fn.initDone.Done()
		e.callLocalAPI("function init")
	}()
}

// functionInvoke is the emulated function's work for invocation i, delivered at
// delivered; the function returned once the returned func returns (see runtime.go).
func (e *Emulator) functionInvoke(i int, requestID string, delivered, deadline time.Time, trace string) (returned func()) {
	returned = func() {}
	if e.cfg.Companion.RuntimeProxy {
		returned = e.runtimeInvoke(i, requestID, delivered, deadline, trace)
	}
	if e.cfg.Companion.LocalAPIKey != "" {
		e.callLocalAPI(requestID)
	}
	return returned
}

var localAPIClient = &http.Client{Timeout: localAPITimeout}

// callLocalAPI makes one call and puts it on the timeline: status, X-Cache, time.
func (e *Emulator) callLocalAPI(who string) {
	path := "/v1/" + url.PathEscape(e.cfg.Companion.LocalAPIKey)
	c := functionCall(context.Background(), localAPIClient, http.MethodGet, "http://"+e.fn.localAddr+path,
		http.Header{"X-" + e.name + "-Token": {e.fn.token}}, nil)
	detail := who + ": GET " + path + " "
	if c.err != nil {
		detail += "failed: " + c.err.Error()
	} else {
		detail += fmt.Sprintf("-> %d", c.status)
		if how := c.header.Get("X-Cache"); how != "" {
			detail += " " + how
		}
		detail += " in " + fmtDur(c.took)
	}
	e.functionEntry(c.started, "local API", detail)
}

// call is one HTTP call of the emulated function (to the local API, or the runtime's
// to the Runtime API through the proxy), as it saw it.
type call struct {
	started time.Time
	took    time.Duration // until the whole answer was read
	status  int
	header  http.Header
	body    []byte
	err     error
}

// functionCall makes one call of the emulated function and reads the whole answer.
func functionCall(ctx context.Context, client *http.Client, method, url string, header http.Header, body []byte) call {
	c := call{started: time.Now()}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		c.err = err
		return c
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	res, err := client.Do(req)
	if err != nil {
		c.err = err
		return c
	}
	defer res.Body.Close()
	c.body, c.err = io.ReadAll(io.LimitReader(res.Body, maxBody))
	c.took = time.Since(c.started)
	c.status, c.header = res.StatusCode, res.Header
	return c
}

// functionEntry puts an entry of the emulated function on the timeline where its
// start belongs (other entries came while the call ran), and passes it on live.
func (e *Emulator) functionEntry(started time.Time, what, detail string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	entry := Entry{At: e.since(started), What: what, Detail: detail}
	i := sort.Search(len(e.report.Timeline), func(i int) bool { return e.report.Timeline[i].At > entry.At })
	e.report.Timeline = slices.Insert(e.report.Timeline, i, entry)
	if e.cfg.OnEvent != nil {
		e.cfg.OnEvent(entry)
	}
}
