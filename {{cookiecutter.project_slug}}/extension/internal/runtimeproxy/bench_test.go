package runtimeproxy

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkRoundTrip is one invocation's Runtime API round trip (GET next, POST
// response) straight to a fake Runtime API and through the proxy, with the demo's
// kind of hook (a result hook that reads the body). p50-µs is the median round trip;
// the proxy's cost is proxied minus direct. Run with
//
//	go test -run '^$' -bench RoundTrip ./extension/internal/runtimeproxy
func BenchmarkRoundTrip(b *testing.B) {
	lambda := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == NextPath {
			w.Header().Set(HeaderRequestID, "8476a536-e9f4-11e8-9739-2dfe598c3fcd")
			w.Header().Set("Lambda-Runtime-Deadline-Ms", "1767225600000")
			io.WriteString(w, `{"key1":"value1","key2":"value2","key3":"value3"}`)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer lambda.Close()
	p, err := New(strings.TrimPrefix(lambda.URL, "http://"), slog.New(slog.DiscardHandler), Options{})
	if err != nil {
		b.Fatal(err)
	}
	p.SetHooks(Hooks{Result: func(_ context.Context, res *Result) error { _ = len(res.Body); return nil }})
	proxy := httptest.NewServer(p)
	defer proxy.Close()
	for _, name := range []string{"direct", "proxied"} {
		target := lambda.URL
		if name == "proxied" {
			target = proxy.URL
		}
		b.Run(name, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			base := target + "/2018-06-01/runtime/invocation/"
			took := make([]time.Duration, 0, b.N)
			for b.Loop() {
				start := time.Now()
				res, err := client.Get(base + "next")
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				res, err = client.Post(base+res.Header.Get(HeaderRequestID)+"/response", "application/json", strings.NewReader(`{"statusCode":200,"body":"ok"}`))
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				took = append(took, time.Since(start))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
		})
	}
}
