package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"{{ cookiecutter.go_module }}/extension"
)

// benchKey is the key the clients ask the local API for; the upstream answers it.
const benchKey = "db-password"

// benchCompanion measures the local API's cache hits (see Companion).
func benchCompanion(ctx context.Context, o options, bin, logDir string, say func(string, ...any)) (Companion, error) {
	c := measuredCompanion("local-api", o,
		"cache hits of the extension's local API (the demo cache), GET /v1/<key> with the token header over keep-alive loopback connections")
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "correct horse battery staple")
	}))
	defer upstream.Close()
	port, err := freeLoopbackPort()
	if err != nil {
		return c, err
	}
	env := append(quietEnv(),
		extension.Prefix+"LOCAL_PORT="+strconv.Itoa(port),
		extension.Prefix+"UPSTREAM_URL="+upstream.URL,
		// Longer than the bench: no entry goes stale or is refreshed while timed.
		extension.Prefix+"CACHE_TTL=1h",
	)
	p, err := startCompanion(ctx, bin, env, filepath.Join(logDir, "companion-local-api.log"))
	if err != nil {
		return c, fmt.Errorf("companion: %w", err)
	}
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/v1/" + benchKey
	header := "X-" + o.ext + "-Token" // the header the function sends its session token in
	// The one miss: the upstream's value goes into the cache.
	if _, err := localAPIGet(keepAliveClient(), url, header, "miss"); err != nil {
		p.stop()
		return c, fmt.Errorf("companion: the first request: %w", err)
	}
	bare, err := startBareServer(ctx)
	if err != nil {
		p.stop()
		return c, fmt.Errorf("companion: %w", err)
	}
	defer bare.stop()
	l := &LocalAPIBench{Clients: o.companionClients}
	var p50, p99, floor, rate, loaded, cpu []float64
	for r := range o.companionRounds {
		say("companion round %d/%d: local API hits, 1 client then %d clients, %d requests each", r+1, o.companionRounds, o.companionClients, o.companionReqs)
		serial, _, err := localAPIHits(url, header, 1, o.companionReqs)
		if err != nil {
			p.stop()
			return c, fmt.Errorf("companion: %w", err)
		}
		bareTook, _, err := localAPIHits(bare.url, header, 1, o.companionReqs)
		if err != nil {
			p.stop()
			return c, fmt.Errorf("companion: the bare HTTP server: %w", err)
		}
		floor = append(floor, us(percentile(bareTook, 50)))
		cpuBefore, cpuOK := p.cpuTime()
		all, elapsed, err := localAPIHits(url, header, o.companionClients, o.companionReqs)
		if err != nil {
			p.stop()
			return c, fmt.Errorf("companion: %w", err)
		}
		// The extension's CPU per request: what a hit costs whatever else runs (the
		// warm-up's requests included, so a slight overestimate).
		if cpuAfter, ok := p.cpuTime(); ok && cpuOK {
			cpu = append(cpu, us(cpuAfter-cpuBefore)/float64(len(all)+o.companionClients*warmUp(o.companionReqs)))
		}
		p50 = append(p50, us(percentile(serial, 50)))
		p99 = append(p99, us(percentile(serial, 99)))
		rate = append(rate, float64(len(all))/elapsed.Seconds())
		loaded = append(loaded, us(percentile(all, 50)))
		c.Load = append(c.Load, loadAvg())
	}
	if err := p.stop(); err != nil {
		return c, fmt.Errorf("companion: %w", err)
	}
	l.HitP50Us, l.HitP99Us, l.HitsPerSec, l.LoadedP50Us, l.CPUPerHitUs = summarize(p50), summarize(p99), summarize(rate), summarize(loaded), summarize(cpu)
	l.BareP50Us = summarize(floor)
	c.LocalAPI = l
	return c, nil
}

// bareServerEnv makes the bench binary a bare HTTP server (see init) that answers
// every request as a cache hit at once, for the local API's floor.
const bareServerEnv = "BENCH_BARE_HTTP_SERVER"

func init() {
	if os.Getenv(bareServerEnv) != "" {
		os.Exit(bareServer())
	}
}

// bareServer serves on a free loopback port, prints its URL for benchKey, and
// stops when its stdin closes.
func bareServer() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench bare server:", err)
		return 1
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Cache", "hit")
		io.WriteString(w, "correct horse battery staple")
	}))
	fmt.Printf("http://%s/v1/%s\n", ln.Addr(), benchKey)
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// bareProcess is a running bare server.
type bareProcess struct {
	url  string
	stop func()
}

func startBareServer(ctx context.Context) (*bareProcess, error) {
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), bareServerEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("the bare HTTP server: %w", err)
	}
	stop := func() { stdin.Close(); cmd.Wait() }
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stop()
		return nil, fmt.Errorf("the bare HTTP server did not say its address: %w", err)
	}
	return &bareProcess{url: strings.TrimSpace(line), stop: stop}, nil
}

// localAPIHits has clients call at once, each on its own kept-alive connection, each
// first warming up, then making n timed requests back to back. It returns every
// timed request's duration and the time from the first timed request to the last
// answer.
func localAPIHits(url, header string, clients, n int) ([]time.Duration, time.Duration, error) {
	warm := warmUp(n)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	took := make([][]time.Duration, clients)
	errs := make([]error, clients)
	for i := range clients {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			client := keepAliveClient()
			for range warm {
				if _, err := localAPIGet(client, url, header, "hit"); err != nil {
					errs[i] = err
					ready.Done()
					return
				}
			}
			ready.Done()
			<-start
			took[i] = make([]time.Duration, 0, n)
			for range n {
				d, err := localAPIGet(client, url, header, "hit")
				if err != nil {
					errs[i] = err
					return
				}
				took[i] = append(took[i], d)
			}
		}()
	}
	ready.Wait()
	began := time.Now()
	close(start)
	done.Wait()
	elapsed := time.Since(began)
	var all []time.Duration
	for i := range clients {
		if errs[i] != nil {
			return nil, 0, errs[i]
		}
		all = append(all, took[i]...)
	}
	return all, elapsed, nil
}

// localAPIGet makes one request and checks it was answered 200 with X-Cache: want.
func localAPIGet(client *http.Client, url, header, want string) (time.Duration, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header[header] = []string{benchToken}
	began := time.Now()
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	drain(res)
	took := time.Since(began)
	if res.StatusCode != http.StatusOK || res.Header.Get("X-Cache") != want {
		return 0, fmt.Errorf("GET %s: status %d, X-Cache %q, want 200 and %q", url, res.StatusCode, res.Header.Get("X-Cache"), want)
	}
	return took, nil
}

// cpuTime is the CPU time (user and system) the process has used so far, from
// /proc/<pid>/stat; ok is false where there is no /proc.
func (p *companionProcess) cpuTime() (d time.Duration, ok bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name, in parentheses, may hold spaces: count fields after it.
	_, rest, found := strings.Cut(string(data), ") ")
	fields := strings.Fields(rest)
	if !found || len(fields) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	const ticksPerSecond = 100 // USER_HZ, 100 on every Linux Lambda runs
	return time.Duration(utime+stime) * time.Second / ticksPerSecond, true
}
