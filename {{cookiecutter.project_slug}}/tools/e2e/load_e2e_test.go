package e2e

// Load tests of the telemetry listener and a soak of the whole extension, run by
// make test-all. Memory figures come from the kernel (VmHWM, the peak resident set of
// the extension's process), with the extension built without the race detector.

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
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

// 500 concurrent 588 KB POSTs from a local process: every one is answered, the
// extension's peak RSS stays under 64 MB, and Lambda's own deliveries go on.
func TestListenerUnderAttack(t *testing.T) {
	if testing.Short() {
		t.Skip("a load test of 500 concurrent 588 KB requests: run by make test-all (no -short)")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads the peak RSS from /proc, which only Linux has")
	}
	const attackers, size, invokes = 500, 588_000, 4 // 588 KB: just under the listener's body cap at default buffering
	out, wait := runInBackground(t, plainTarget, emulator.Config{Invokes: invokes, Spacing: 1500 * time.Millisecond})
	deadline := time.Now().Add(30 * time.Second)
	addr, ok := listenerAddr(t, out, deadline)
	if !ok {
		wait()
		t.Skipf("the extension did not subscribe to telemetry (its handler has no Telemetry method)")
	}
	pid := pidOf(t, plainTarget.path, deadline)
	before := peakRSS(pid)

	body := attackBody(size)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: attackers}}
	var mu sync.Mutex
	statuses := map[string]int{}
	var wg sync.WaitGroup
	began := time.Now()
	for range attackers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answer := "no answer"
			resp, err := client.Post("http://"+addr+"/telemetry", "application/json", bytes.NewReader(body))
			if err == nil {
				answer = strconv.Itoa(resp.StatusCode)
				resp.Body.Close()
			}
			mu.Lock()
			statuses[answer]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	took := time.Since(began)
	peak := peakRSS(pid)
	r := wait()
	t.Logf("%d POSTs of %d bytes answered in %s: %v; peak RSS %.1f MB before, %.1f MB after the attack",
		attackers, size, took.Round(time.Millisecond), statuses, float64(before)/(1<<20), float64(peak)/(1<<20))
	if n := statuses["no answer"]; n > 0 {
		t.Errorf("%d of %d requests got no answer", n, attackers)
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
