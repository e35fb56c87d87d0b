package e2e

import (
	"net/http"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/tools/internal/emulator"
)

// The emulated runtime calls the Runtime API through the extension's proxy, as the
// layer's exec wrapper makes a real runtime do: every invocation goes through it both
// ways under its own request id, with Lambda's headers, and with nothing configured
// to change them the bytes arrive as sent. Frozen between invocations too.
func TestTheRuntimeGoesThroughTheProxy(t *testing.T) {
	const invokes = 4
	for _, tc := range []struct {
		name string
		cfg  emulator.Config
	}{
		{"thawed", emulator.Config{Invokes: invokes, FunctionDuration: 5 * time.Millisecond}},
		{"frozen between invocations", emulator.Config{Invokes: invokes, Spacing: 50 * time.Millisecond, Freeze: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Companion.RuntimeProxy = true
			runE2E(t, e2eCase{
				name: "runtime proxy",
				cfg:  cfg,
				check: func(t *testing.T, r *emulator.Report, logs []logLine) {
					cleanShutdown(invokes)(t, r, logs)
					p := r.RuntimeProxy
					if !p.Ready || len(p.Invocations) != invokes || len(p.Failures) != 0 {
						t.Fatalf("runtime proxy: ready %v, %d invocations, failures %q", p.Ready, len(p.Invocations), p.Failures)
					}
					for i, inv := range p.Invocations {
						if inv.RequestID != r.Invokes[i].RequestID || inv.GotRequestID != inv.RequestID || !inv.Proxied() {
							t.Errorf("invocation %d (INVOKE %s): %+v, want it proxied both ways under its request id", i, r.Invokes[i].RequestID, inv)
						}
						if !inv.EventUnchanged || !inv.HeadersKept || !inv.ResultUnchanged || inv.ReceivedBytes != inv.ResultBytes {
							t.Errorf("invocation %d: %+v, want the event, its headers and the response unchanged", i, inv)
						}
						if inv.Status != http.StatusAccepted {
							t.Errorf("invocation %d: the runtime got %d for its response, want Lambda's 202", i, inv.Status)
						}
					}
					// The extension's own counts agree, and nothing failed on the way.
					l, _ := find(logs, "records")
					for key, want := range map[string]float64{
						"proxy_events": invokes, "proxy_results": invokes,
						"proxy_upstream_failures": 0, "proxy_upstream_timeouts": 0, "proxy_hook_errors": 0,
					} {
						if l[key] != want {
							t.Errorf("records line %s = %v, want %v", key, l[key], want)
						}
					}
				},
			})
		})
	}
}
