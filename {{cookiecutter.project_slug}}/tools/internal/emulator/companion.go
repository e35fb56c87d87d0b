package emulator

import (
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
}

// RegisterFlags adds the companion flags.
func (c *CompanionConfig) RegisterFlags(flags *flag.FlagSet) {
	flags.StringVar(&c.LocalAPIKey, "local-api-key", "", "the emulated function calls the extension's local API, GET /v1/`KEY` with its session token, in its init and on every invocation (local-api bakes)")
}

// companionState is what the emulated function knows of the companion.
type companionState struct {
	localAddr string // 127.0.0.1:PREFIX_LOCAL_PORT, as the extension got it
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
// call to the local API waits, as in Lambda, for the extension's constructor.
func (e *Emulator) functionInit() {
	if e.cfg.Companion.LocalAPIKey == "" {
		return
	}
	e.fn.initDone.Add(1)
	go func() {
		defer e.fn.initDone.Done()
		e.callLocalAPI("function init")
	}()
}

// functionInvoke is the emulated function's work for one invocation.
func (e *Emulator) functionInvoke(requestID string) {
	if e.cfg.Companion.LocalAPIKey != "" {
		e.callLocalAPI(requestID)
	}
}

var localAPIClient = &http.Client{Timeout: localAPITimeout}

// callLocalAPI makes one call and puts it on the timeline: status, X-Cache, time.
func (e *Emulator) callLocalAPI(who string) {
	started := time.Now()
	path := "/v1/" + url.PathEscape(e.cfg.Companion.LocalAPIKey)
	detail := who + ": GET " + path + " "
	req, err := http.NewRequest(http.MethodGet, "http://"+e.fn.localAddr+path, nil)
	if err == nil {
		req.Header.Set("X-"+e.name+"-Token", e.fn.token)
		var res *http.Response
		if res, err = localAPIClient.Do(req); err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			detail += fmt.Sprintf("-> %d", res.StatusCode)
			if how := res.Header.Get("X-Cache"); how != "" {
				detail += " " + how
			}
			detail += " in " + fmtDur(time.Since(started))
		}
	}
	if err != nil {
		detail += "failed: " + err.Error()
	}
	// The entry goes where its start belongs: other entries came while it ran.
	e.mu.Lock()
	defer e.mu.Unlock()
	entry := Entry{At: e.since(started), What: "local API", Detail: detail}
	i := sort.Search(len(e.report.Timeline), func(i int) bool { return e.report.Timeline[i].At > entry.At })
	e.report.Timeline = slices.Insert(e.report.Timeline, i, entry)
}
