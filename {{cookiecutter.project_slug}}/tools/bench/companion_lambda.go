package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"{{ cookiecutter.go_module }}/extension"
)

// The companion benchmark's harness: the extension as a child process, registered
// with a stand-in Extensions API that parks it in /event/next until the bench is
// done, so that nothing but the companion's requests runs in it while they are timed.
// (The emulator plays whole lifecycles; here the extension must stay thawed and idle
// for as long as the clients call.)

// benchToken stands in for AWS_SESSION_TOKEN: as long as a real one (they run to
// about a thousand characters), so that the token check compares as much.
var benchToken = strings.Repeat("IQoJb3JpZ2luX2VjEBenchSessionToken", 30)

// standIn is the Extensions API (and, for a proxy's upstream, the Runtime API) the
// extension under test talks to.
type standIn struct {
	srv     *http.Server
	ln      net.Listener
	waiting chan struct{} // closed at the extension's first /event/next
	once    sync.Once
	release chan struct{} // closed to answer /event/next with SHUTDOWN
	mu      sync.Mutex
	errors  []string // init/error and exit/error reports
}

func newStandIn() (*standIn, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &standIn{ln: ln, waiting: make(chan struct{}), release: make(chan struct{})}
	mux := http.NewServeMux()
	const api = "/2020-01-01/extension"
	mux.HandleFunc("POST "+api+"/register", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Lambda-Extension-Identifier", "bench-extension-id")
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"functionName":"bench-function","functionVersion":"$LATEST","handler":"bench.handler"}`)
	})
	mux.HandleFunc("GET "+api+"/event/next", func(w http.ResponseWriter, r *http.Request) {
		s.once.Do(func() { close(s.waiting) })
		select {
		case <-s.release:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"eventType":"SHUTDOWN","shutdownReason":"spindown","deadlineMs":%d}`, time.Now().Add(2*time.Second).UnixMilli())
	})
	for _, op := range []string{"init/error", "exit/error"} {
		mux.HandleFunc("POST "+api+"/"+op, func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
			s.mu.Lock()
			s.errors = append(s.errors, op+": "+r.Header.Get("Lambda-Extension-Function-Error-Type")+" "+string(body))
			s.mu.Unlock()
			io.WriteString(w, `{"status":"OK"}`)
		})
	}
	mux.HandleFunc("PUT /2022-07-01/telemetry", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "OK")
	})
	// The Runtime API, for a proxy's upstream and the direct round trip: every next
	// is answered at once with the same small event.
	mux.HandleFunc("GET "+runtimeNextPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", "8476a536-e9f4-11e8-9739-2dfe598c3fcd")
		w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10))
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"key1":"value1","key2":"value2","key3":"value3"}`)
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"status":"OK"}`)
	})
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

const runtimeNextPath = "/2018-06-01/runtime/invocation/next"

func (s *standIn) addr() string { return s.ln.Addr().String() }

func (s *standIn) close() { s.srv.Close() }

// companionProcess is the extension under test.
type companionProcess struct {
	cmd    *exec.Cmd
	api    *standIn
	exited chan error
}

// startCompanion starts bin with env (and the Lambda variables) against a new
// stand-in API and returns once the extension waits in /event/next.
func startCompanion(ctx context.Context, bin string, env []string, logPath string) (*companionProcess, error) {
	api, err := newStandIn()
	if err != nil {
		return nil, err
	}
	log, err := os.Create(logPath)
	if err != nil {
		api.close()
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append([]string{
		"AWS_LAMBDA_RUNTIME_API=" + api.addr(),
		"AWS_LAMBDA_FUNCTION_NAME=bench-function",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_REGION=us-east-1",
		"AWS_SESSION_TOKEN=" + benchToken,
		"TZ=:UTC",
		"PATH=/usr/local/bin:/usr/bin:/bin",
	}, env...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		api.close()
		return nil, err
	}
	p := &companionProcess{cmd: cmd, api: api, exited: make(chan error, 1)}
	go func() {
		p.exited <- cmd.Wait()
		log.Close()
	}()
	select {
	case <-api.waiting:
		return p, nil
	case err := <-p.exited:
		api.close()
		return nil, fmt.Errorf("the extension exited before its first /event/next: %v (output: %s)", err, logPath)
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
		api.close()
		return nil, fmt.Errorf("the extension did not reach /event/next within 10s (output: %s)", logPath)
	}
}

// stop answers the extension's /event/next with SHUTDOWN and waits for a clean exit.
func (p *companionProcess) stop() error {
	defer p.api.close()
	close(p.api.release)
	var err error
	select {
	case err = <-p.exited:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
		err = errors.New("it did not exit within 5s of SHUTDOWN")
	}
	p.api.mu.Lock()
	defer p.api.mu.Unlock()
	if len(p.api.errors) > 0 {
		return fmt.Errorf("the extension reported %s", strings.Join(p.api.errors, "; "))
	}
	return err
}

// measuredCompanion is the figures of a companion this variant has, before any.
func measuredCompanion(kind string, o options, description string) Companion {
	return Companion{Kind: kind, Available: true, Description: description,
		Rounds: o.companionRounds, Requests: o.companionReqs, Load: [][]float64{}}
}

// warmUp is the untimed requests (round trips) a client makes before n timed ones:
// connections open, buffers and caches warm.
func warmUp(n int) int { return max(50, n/10) }

// keepAliveClient is one client with one connection, kept alive between requests.
func keepAliveClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true, ForceAttemptHTTP2: false},
		Timeout:   10 * time.Second,
	}
}

// drain reads a response to its end (so that the connection is reused) and closes it.
func drain(res *http.Response) {
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
}

// freeLoopbackPort is a loopback port nobody listened on a moment ago.
func freeLoopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// quietEnv keeps the extension's other servers out of the way: the telemetry
// listener (in bakes that have one) on any free port.
func quietEnv() []string {
	return []string{extension.Prefix + "TELEMETRY_PORT=0"}
}
