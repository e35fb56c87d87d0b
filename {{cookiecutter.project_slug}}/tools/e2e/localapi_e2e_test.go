package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"{{ cookiecutter.go_module }}/tools/internal/emulator"
)

// The emulated function calls the local API in its init and on every invocation: the
// init's call is the cache's one miss (it waited for the constructor), every later one
// a hit, all on the timeline and in the records line.
func TestTheFunctionCallsTheLocalAPI(t *testing.T) {
	var fetched atomic.Int64
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		io.WriteString(w, "value of "+r.URL.Path)
	}))
	defer upstream.Close()
	const invokes = 3
	runE2E(t, e2eCase{
		name: "local API",
		cfg:  emulator.Config{Invokes: invokes, Companion: emulator.CompanionConfig{LocalAPIKey: "db-password"}},
		env:  map[string]string{"UPSTREAM_URL": upstream.URL + "/params"},
		check: func(t *testing.T, r *emulator.Report, logs []logLine) {
			cleanShutdown(invokes)(t, r, logs)
			var calls []string
			for _, e := range r.Timeline {
				if e.What == "local API" {
					calls = append(calls, e.Detail)
				}
			}
			if len(calls) != invokes+1 || !strings.HasPrefix(calls[0], "function init: GET /v1/db-password -> 200 miss") {
				t.Errorf("local API calls on the timeline: %q", calls)
			}
			for _, c := range calls[1:] {
				if !strings.Contains(c, "-> 200 hit") {
					t.Errorf("call %q, want a hit", c)
				}
			}
			if fetched.Load() != 1 {
				t.Errorf("upstream fetched %d times, want once", fetched.Load())
			}
			l, _ := find(logs, "records")
			if l["cache_misses"] != 1.0 || l["cache_hits"] != float64(invokes) || l["local_api_unauthorized"] != 0.0 {
				t.Errorf("records line %v", l)
			}
		},
	})
}
