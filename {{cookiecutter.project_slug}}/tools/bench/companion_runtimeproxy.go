package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"{{ cookiecutter.go_module }}/extension"
)

// benchCompanion measures what the Runtime API proxy adds to an invocation's round
// trip (see Companion).
func benchCompanion(ctx context.Context, o options, bin, logDir string, say func(string, ...any)) (Companion, error) {
	c := measuredCompanion("runtime-proxy", o,
		"one invocation's Runtime API round trip (GET next, POST response) straight to a stand-in Runtime API and through the extension's proxy (the demo hooks included), over keep-alive loopback connections")
	port, err := freeLoopbackPort()
	if err != nil {
		return c, err
	}
	// The proxy's upstream is AWS_LAMBDA_RUNTIME_API: the stand-in.
	env := append(quietEnv(), extension.Prefix+"PROXY_PORT="+strconv.Itoa(port))
	p, err := startCompanion(ctx, bin, env, filepath.Join(logDir, "companion-runtime-proxy.log"))
	if err != nil {
		return c, fmt.Errorf("companion: %w", err)
	}
	targets := map[string]string{"direct": p.api.addr(), "proxied": "127.0.0.1:" + strconv.Itoa(port)}
	sums := map[string][]float64{}
	for r := range o.companionRounds {
		say("companion round %d/%d: %d Runtime API round trips, direct and through the proxy", r+1, o.companionRounds, o.companionReqs)
		order := []string{"direct", "proxied"}
		if r%2 == 1 {
			order = []string{"proxied", "direct"}
		}
		p50 := map[string]float64{}
		for _, who := range order {
			took, err := runtimeRoundTrips(ctx, targets[who], o.companionReqs)
			if err != nil {
				p.stop()
				return c, fmt.Errorf("companion: %s: %w", who, err)
			}
			p50[who] = us(percentile(took, 50))
			sums[who+"50"] = append(sums[who+"50"], p50[who])
			sums[who+"99"] = append(sums[who+"99"], us(percentile(took, 99)))
		}
		sums["added"] = append(sums["added"], p50["proxied"]-p50["direct"])
		c.Load = append(c.Load, loadAvg())
	}
	if err := p.stop(); err != nil {
		return c, fmt.Errorf("companion: %w", err)
	}
	c.Proxy = &ProxyBench{
		DirectP50Us: summarize(sums["direct50"]), DirectP99Us: summarize(sums["direct99"]),
		ProxiedP50Us: summarize(sums["proxied50"]), ProxiedP99Us: summarize(sums["proxied99"]),
		AddedP50Us: summarize(sums["added"]),
	}
	return c, nil
}

// runtimeClientEnv makes the bench binary the stand-in runtime (see init): the
// runtime is a process of its own, as in Lambda, so that direct and proxied round
// trips both cross processes and the difference is the proxy's hop. (Measured from
// the bench process, the direct trips were goroutine hand-offs inside one process.)
const runtimeClientEnv = "BENCH_RUNTIME_CLIENT"

func init() {
	if addr := os.Getenv(runtimeClientEnv); addr != "" {
		os.Exit(runtimeClient(addr, os.Getenv(runtimeClientEnv+"_N")))
	}
}

// runtimeClient is the stand-in runtime's main: n round trips against addr, their
// durations in nanoseconds as a JSON array on stdout.
func runtimeClient(addr, n string) int {
	count, err := strconv.Atoi(n)
	if err == nil {
		var took []time.Duration
		if took, err = roundTrips(addr, count); err == nil {
			err = json.NewEncoder(os.Stdout).Encode(took)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench runtime client:", err)
		return 1
	}
	return 0
}

// runtimeRoundTrips runs the stand-in runtime for n round trips against addr.
func runtimeRoundTrips(ctx context.Context, addr string, n int) ([]time.Duration, error) {
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), runtimeClientEnv+"="+addr, runtimeClientEnv+"_N="+strconv.Itoa(n))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("runtime client: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var took []time.Duration
	if err := json.Unmarshal(out, &took); err != nil || len(took) != n {
		return nil, fmt.Errorf("runtime client: %d durations in its output (want %d): %v", len(took), n, err)
	}
	return took, nil
}

// roundTrips makes n timed invocation round trips against the Runtime API at addr on
// one kept-alive connection, after an untimed warm-up.
func roundTrips(addr string, n int) ([]time.Duration, error) {
	client := keepAliveClient()
	base := "http://" + addr + "/2018-06-01/runtime/invocation/"
	for range warmUp(n) {
		if _, err := roundTrip(client, base); err != nil {
			return nil, err
		}
	}
	took := make([]time.Duration, 0, n)
	for range n {
		d, err := roundTrip(client, base)
		if err != nil {
			return nil, err
		}
		took = append(took, d)
	}
	return took, nil
}

// roundTrip is what a runtime does per invocation: GET next, POST the response.
func roundTrip(client *http.Client, base string) (time.Duration, error) {
	began := time.Now()
	res, err := client.Get(base + "next")
	if err != nil {
		return 0, err
	}
	drain(res)
	id := res.Header.Get("Lambda-Runtime-Aws-Request-Id")
	if res.StatusCode != http.StatusOK || id == "" {
		return 0, fmt.Errorf("GET next: status %d, request id %q", res.StatusCode, id)
	}
	res, err = client.Post(base+id+"/response", "application/json", strings.NewReader(`{"statusCode":200,"body":"ok"}`))
	if err != nil {
		return 0, err
	}
	drain(res)
	if res.StatusCode != http.StatusAccepted {
		return 0, fmt.Errorf("POST response: status %d", res.StatusCode)
	}
	return time.Since(began), nil
}
