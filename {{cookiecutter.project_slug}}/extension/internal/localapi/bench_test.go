package localapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/extension/internal/loopback"
)

// BenchmarkCacheHit is a cache hit through the local API as the function sees it: over
// loopback, through the server's limits and the token check, to a handler serving a
// value from memory under a mutex (as the demo cache does). serial: p50-µs is the
// median request; parallel: req/s is the throughput of 2 clients per CPU, clients
// and server in this one process (more clients only queue: make bench measures the
// extension as built, from another process). Run with
//
//	go test -run '^$' -bench CacheHit ./extension/internal/localapi
func BenchmarkCacheHit(b *testing.B) {
	var mu sync.Mutex
	values := map[string][]byte{"db-password": []byte("correct horse battery staple")}
	g := New(TokenHeader("bench"), "session-token")
	g.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		v := values[r.URL.Path[len("/v1/"):]]
		mu.Unlock()
		w.Header().Set("X-Cache", "hit")
		w.Write(v)
	}))
	ln, err := loopback.Listen(0)
	if err != nil {
		b.Fatal(err)
	}
	srv := loopback.Serve(ln, g, loopback.Options{ReadTimeout: loopback.APIReadTimeout, MaxBodyBytes: loopback.APIMaxBodyBytes}, slog.New(slog.DiscardHandler))
	defer srv.Close(context.Background())
	url := "http://" + srv.Addr().String() + "/v1/db-password"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	get := func(b *testing.B) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set(TokenHeader("bench"), "session-token")
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
	b.Run("serial", func(b *testing.B) {
		took := make([]time.Duration, 0, b.N)
		for b.Loop() {
			start := time.Now()
			get(b)
			took = append(took, time.Since(start))
		}
		slices.Sort(took)
		b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(2)
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				get(b)
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	})
}
