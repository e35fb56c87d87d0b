package e2e

// Load tests of the telemetry listener and a soak of the whole extension, run by
// make test-all. Memory figures come from the kernel (VmHWM, the peak resident set of
// the extension's process), with the extension built without the race detector.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/extension"
	"{{ cookiecutter.go_module }}/tools/internal/emulator"
)

// plainTarget is the real extension without -race: the race detector multiplies
// memory use, and these tests measure it.
var plainTarget = &target{name: extensionName, dir: filepath.Join("..", ".."), pkg: "./cmd/" + extensionName, noRace: true}

const maxAttackRSS = 64 << 20

// listenerHeaderTimeout is the listener's limit for a request head
// (extension/internal/loopback.ReadHeaderTimeout, which this module cannot import):
// a connection whose head has not arrived by then is closed, as a stalled client's.
const listenerHeaderTimeout = 2 * time.Second

// headTimer tells when the request head went out: the transport writes the head and
// the body's first chunk through a 4 KB buffer, so by the body's second Read the head
// is on the wire.
type headTimer struct {
	r     io.Reader
	reads int
	sent  time.Time
}

func (h *headTimer) Read(p []byte) (int, error) {
	if h.reads++; h.reads == 2 {
		h.sent = time.Now()
	}
	return h.r.Read(p)
}

// slowHead reports whether a request's head went out (or never did) a whole header
// timeout after its connection was made: the listener was right to close it. On a
// starved machine the attackers' own goroutines can be that slow.
func slowHead(connected time.Time, h *headTimer) bool {
	return !connected.IsZero() && (h.sent.IsZero() || h.sent.Sub(connected) >= listenerHeaderTimeout)
}

// pidOf finds the running process whose executable is binary (Linux /proc).
func pidOf(t *testing.T, binary string, deadline time.Time) int {
	t.Helper()
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && exe == binary {
				return pid
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no process runs %s", binary)
	return 0
}

var vmHWM = regexp.MustCompile(`(?m)^VmHWM:\s+(\d+) kB`)

// peakRSS is the process's peak resident set so far, in bytes; 0 once it is gone.
func peakRSS(pid int) int64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	m := vmHWM.FindSubmatch(status)
	if m == nil {
		return 0
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}

// runInBackground runs the emulator with cfg and returns the extension's output and
// a function that waits for the report.
func runInBackground(t *testing.T, tgt *target, cfg emulator.Config) (*syncBuffer, func() *emulator.Report) {
	t.Helper()
	out := &syncBuffer{}
	cfg.Binary = tgt.binary(t)
	cfg.Output = out
	cfg.Env = append(cfg.Env, raceExitEnv, extension.Prefix+"TELEMETRY_PORT=0")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	done := make(chan *emulator.Report, 1)
	go func() {
		defer cancel()
		r, err := emulator.Run(ctx, cfg)
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		done <- r
	}()
	return out, func() *emulator.Report {
		r := <-done
		if r != nil && !r.OK() {
			t.Errorf("rule violations: %q", r.Violations)
		}
		return r
	}
}

var listeningOn = regexp.MustCompile(`"msg":"subscribed to telemetry".*?"listening_on":"([^"]+)"`)

// listenerAddr waits for the extension's subscription line and returns the address
// its listener is bound to.
func listenerAddr(t *testing.T, out *syncBuffer, deadline time.Time) (string, bool) {
	t.Helper()
	for time.Now().Before(deadline) {
		if m := listeningOn.FindStringSubmatch(out.String()); m != nil {
			return m[1], true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return "", false
}

// attackBody is a well-formed batch of function records of about size bytes: what a
// local process could post to exhaust the listener.
func attackBody(size int) []byte {
	var b bytes.Buffer
	b.WriteString("[")
	line := strings.Repeat("x", 1000)
	for i := 0; b.Len() < size-1100; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"time":"2024-05-01T10:00:00.000Z","type":"function","record":"%s"}`, line)
	}
	b.WriteString("]")
	return b.Bytes()
}

// 500 concurrent 588 KB POSTs from a local process: every one is answered (but for
// those the machine left too starved to send their heads within the listener's header
// timeout, which the listener closes as stalled), the extension's peak RSS stays
// under 64 MB, and Lambda's own deliveries go on.
func TestListenerUnderAttack(t *testing.T) {
	if testing.Short() {
		t.Skip("a load test of 500 concurrent 588 KB requests: run by make test-all (no -short)")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads the peak RSS from /proc, which only Linux has")
	}
	const attackers, size, invokes = 500, 588_000, 4 // 588 KB: just under the listener's body cap at default buffering
	// SHUTDOWN waits for the attack to end (under load it can outlast the invocations).
	attacked := make(chan struct{})
	out, wait := runInBackground(t, plainTarget, emulator.Config{Invokes: invokes, Spacing: 1500 * time.Millisecond, HoldShutdown: attacked})
	deadline := time.Now().Add(30 * time.Second)
	addr, ok := listenerAddr(t, out, deadline)
	if !ok {
		wait()
		t.Skipf("the extension did not subscribe to telemetry (its handler has no Telemetry method)")
	}
	pid := pidOf(t, plainTarget.path, deadline)
	before := peakRSS(pid)

	body := attackBody(size)
	var mu sync.Mutex
	statuses := map[string]int{}
	var wg sync.WaitGroup
	began := time.Now()
	for range attackers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answer := "no answer"
			var connected time.Time
			head := &headTimer{r: bytes.NewReader(body)}
			trace := &httptrace.ClientTrace{ConnectDone: func(_, _ string, err error) {
				if err == nil {
					connected = time.Now()
				}
			}}
			req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodPost, "http://"+addr+"/telemetry", head)
			if err != nil {
				t.Error(err)
				return
			}
			req.ContentLength = int64(len(body))
			req.Header.Set("Content-Type", "application/json")
			// A client each, so that a request goes on the connection its own dial made
			// and ConnectDone above is when the listener began waiting for its head.
			client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			resp, err := client.Do(req)
			if err == nil {
				answer = strconv.Itoa(resp.StatusCode)
				resp.Body.Close()
			} else if slowHead(connected, head) {
				answer = "closed: head later than the header timeout"
			}
			mu.Lock()
			statuses[answer]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	took := time.Since(began)
	peak := peakRSS(pid)
	close(attacked)
	r := wait()
	t.Logf("%d POSTs of %d bytes answered in %s: %v; peak RSS %.1f MB before, %.1f MB after the attack",
		attackers, size, took.Round(time.Millisecond), statuses, float64(before)/(1<<20), float64(peak)/(1<<20))
	if n := statuses["no answer"]; n > 0 {
		t.Errorf("%d of %d requests got no answer (their heads were sent in time)", n, attackers)
	}
	if n := statuses["closed: head later than the header timeout"]; n > attackers/2 {
		t.Errorf("%d of %d attackers were too slow to send their heads: the attack did not test the listener", n, attackers)
	}
	if peak == 0 || peak > maxAttackRSS {
		t.Errorf("peak RSS %.1f MB, want under %d MB", float64(peak)/(1<<20), maxAttackRSS>>20)
	}
	if r != nil {
		// Lambda's own deliveries compete with the attack for the reading slots (a
		// refused one is retried by Lambda); those after it must all be taken.
		t.Logf("Lambda's deliveries: %d batches, %d refused", r.Telemetry.Batches, r.Telemetry.Refused)
		if r.Telemetry.Refused >= r.Telemetry.Batches {
			t.Errorf("the listener took none of Lambda's %d batches", r.Telemetry.Batches)
		}
		if len(r.Invokes) != invokes || !r.Exited || r.ExitCode != 0 {
			t.Errorf("invokes %d, exited %v with %d", len(r.Invokes), r.Exited, r.ExitCode)
		}
	}
}

// A soak: 30,000 invocations with telemetry on; the peak RSS after 10,000 and after
// 30,000 stays flat.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("30,000 invocations: run by make test-all (no -short)")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads the peak RSS from /proc, which only Linux has")
	}
	peaks := map[int]int64{}
	for _, invokes := range []int{10_000, 30_000} {
		out, wait := runInBackground(t, plainTarget, emulator.Config{Invokes: invokes})
		pid := pidOf(t, plainTarget.path, time.Now().Add(30*time.Second))
		var peak int64
		done := make(chan *emulator.Report, 1)
		go func() { done <- wait() }()
		var r *emulator.Report
	sample:
		for {
			select {
			case r = <-done:
				break sample
			case <-time.After(20 * time.Millisecond):
				if p := peakRSS(pid); p > peak {
					peak = p
				}
			}
		}
		peaks[invokes] = peak
		logs := parseLogs(out.String())
		rec, _ := recordsLine(t, logs)
		t.Logf("%d invocations: peak RSS %.1f MB; records %+v", invokes, float64(peak)/(1<<20), rec)
		if r == nil || len(r.Invokes) != invokes || r.ExitCode != 0 {
			t.Fatalf("the soak of %d did not complete cleanly", invokes)
		}
		if rec.Offered < invokes {
			t.Errorf("records line offered %d, want at least %d", rec.Offered, invokes)
		}
	}
	if peaks[10_000] == 0 || peaks[30_000] > peaks[10_000]+peaks[10_000]/4 {
		t.Errorf("peak RSS grew from %.1f MB (10,000 invocations) to %.1f MB (30,000): a leak?",
			float64(peaks[10_000])/(1<<20), float64(peaks[30_000])/(1<<20))
	}
}
