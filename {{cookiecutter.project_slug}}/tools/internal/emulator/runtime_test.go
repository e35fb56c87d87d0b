package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"{{ cookiecutter.go_module }}/extension"
)

// helperProxy is the helper extension's Runtime API proxy (modes proxy*), on
// PREFIX_PROXY_PORT, forwarding to AWS_LAMBDA_RUNTIME_API as the real one does;
// "proxy-rewrites" changes every response on its way, "proxy-changes-id" the
// request id of every event.
func helperProxy(mode string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv(extension.Prefix+"PROXY_PORT"))
	if err != nil {
		return err
	}
	target := &url.URL{Scheme: "http", Host: os.Getenv("AWS_LAMBDA_RUNTIME_API")}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			if mode == "proxy-rewrites" && strings.HasSuffix(pr.In.URL.Path, "/response") {
				body, _ := io.ReadAll(pr.In.Body)
				body = append(body, '\n')
				pr.Out.Body, pr.Out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
			}
		},
		ModifyResponse: func(res *http.Response) error {
			if mode == "proxy-changes-id" && strings.HasSuffix(res.Request.URL.Path, "/next") {
				res.Header.Set(headerRuntimeRequestID, "changed-"+res.Header.Get(headerRuntimeRequestID))
			}
			return nil
		},
	}
	go http.Serve(ln, rp)
	return nil
}

func runtimeEntries(r *Report, what string) []string {
	var details []string
	for _, e := range r.Timeline {
		if e.What == what {
			details = append(details, e.Detail)
		}
	}
	return details
}

func TestTheRuntimeGoesThroughTheProxy(t *testing.T) {
	t.Parallel()
	const invokes = 3
	r, out := runHelper(t, "proxy", Config{Invokes: invokes, Companion: CompanionConfig{RuntimeProxy: true}})
	defer logTimelineOnFailure(t, r, out)
	if !r.OK() || r.Outcome != OutcomeClean {
		t.Fatalf("outcome %s, violations %q", r.Outcome, r.Violations)
	}
	p := r.RuntimeProxy
	if !p.Enabled || !p.Ready || len(p.Invocations) != invokes || len(p.Failures) != 0 {
		t.Fatalf("runtime proxy report %+v", p)
	}
	for i, inv := range p.Invocations {
		if inv.RequestID != r.Invokes[i].RequestID || !inv.Proxied() || !inv.EventUnchanged || !inv.HeadersKept ||
			!inv.ResultUnchanged || inv.ResultBytes == 0 || inv.ReceivedBytes != inv.ResultBytes || inv.Status != http.StatusAccepted {
			t.Errorf("invocation %d: %+v (INVOKE %s)", i, inv, r.Invokes[i].RequestID)
		}
	}
	if proxied, unchanged := p.Count(); proxied != invokes || unchanged != invokes {
		t.Errorf("count %d proxied, %d unchanged", proxied, unchanged)
	}
	nexts, responses := runtimeEntries(r, "next via proxy"), runtimeEntries(r, "response via proxy")
	if len(nexts) != invokes || len(responses) != invokes {
		t.Errorf("timeline: nexts %q, responses %q", nexts, responses)
	}
	for i := range min(len(nexts), len(responses)) {
		id := r.Invokes[i].RequestID
		if !strings.HasPrefix(nexts[i], id+": event ") || !strings.Contains(nexts[i], "as sent") ||
			!strings.HasPrefix(responses[i], id+": ") || !strings.Contains(responses[i], "reached the Runtime API as sent, 202") {
			t.Errorf("invocation %d on the timeline: %q, %q", i, nexts[i], responses[i])
		}
	}
	// The runtime is ready before the first INVOKE, and gone before SHUTDOWN.
	order := func(what string) int {
		return slices.IndexFunc(r.Timeline, func(e Entry) bool { return e.What == what })
	}
	if ready, invoke, stopped, shutdown := order("runtime ready"), order("INVOKE"), order("runtime stopped"), order("SHUTDOWN"); ready < 0 || ready > invoke || stopped < 0 || stopped > shutdown {
		t.Errorf("runtime ready at %d, first INVOKE at %d, runtime stopped at %d, SHUTDOWN at %d", ready, invoke, stopped, shutdown)
	}
	var b strings.Builder
	r.WriteSummary(&b)
	if !strings.Contains(b.String(), "runtime proxy   3 invocations, 3 through the proxy both ways with their request ids; 3 of them with events, headers and responses as sent") {
		t.Errorf("summary:\n%s", b.String())
	}
	data, _ := json.Marshal(r)
	var got struct {
		RuntimeProxy *struct {
			Proxied, Unchanged int
			Invocations        []struct {
				RequestID string `json:"request_id"`
			}
		} `json:"runtime_proxy"`
	}
	if err := json.Unmarshal(data, &got); err != nil || got.RuntimeProxy == nil || got.RuntimeProxy.Proxied != invokes ||
		got.RuntimeProxy.Unchanged != invokes || got.RuntimeProxy.Invocations[0].RequestID != r.Invokes[0].RequestID {
		t.Errorf("JSON summary %s", data)
	}
}

func TestTheReportSaysWhatTheProxyChanged(t *testing.T) {
	t.Parallel()
	r, out := runHelper(t, "proxy-rewrites", Config{Invokes: 2, Companion: CompanionConfig{RuntimeProxy: true}})
	defer logTimelineOnFailure(t, r, out)
	// Changing a response (e.g. redacting it) is the proxy's right: no violation.
	if !r.OK() || r.Outcome != OutcomeClean {
		t.Fatalf("outcome %s, violations %q", r.Outcome, r.Violations)
	}
	if proxied, unchanged := r.RuntimeProxy.Count(); proxied != 2 || unchanged != 0 {
		t.Errorf("count %d proxied, %d unchanged; want 2, 0", proxied, unchanged)
	}
	for _, inv := range r.RuntimeProxy.Invocations {
		if !inv.EventUnchanged || inv.ResultUnchanged || inv.ReceivedBytes != inv.ResultBytes+1 {
			t.Errorf("invocation %+v", inv)
		}
	}
	for _, d := range runtimeEntries(r, "response via proxy") {
		if !strings.Contains(d, "reached the Runtime API changed") {
			t.Errorf("timeline: %q", d)
		}
	}
}

func TestAProxyThatLosesTheRequestIDBreaksTheInvocation(t *testing.T) {
	t.Parallel()
	r, out := runHelper(t, "proxy-changes-id", Config{Invokes: 1, Companion: CompanionConfig{RuntimeProxy: true}})
	defer logTimelineOnFailure(t, r, out)
	if !hasViolation(r, "which it never sent") || !hasViolation(r, "response did not reach the Runtime API") {
		t.Errorf("violations %q", r.Violations)
	}
	if p := r.RuntimeProxy; len(p.Invocations) != 1 || p.Invocations[0].Proxied() || p.Invocations[0].GotRequestID != "changed-"+r.Invokes[0].RequestID {
		t.Errorf("runtime proxy report %+v", p)
	}
}

func TestARuntimeWithoutAProxyFailsTheInvocation(t *testing.T) {
	t.Parallel()
	// The helper extension serves no proxy: the runtime's first next fails at once.
	r, out := runHelper(t, "good", Config{Invokes: 1, Companion: CompanionConfig{RuntimeProxy: true}})
	defer logTimelineOnFailure(t, r, out)
	if !hasViolation(r, "the runtime is gone") {
		t.Errorf("violations %q", r.Violations)
	}
	if p := r.RuntimeProxy; p.Ready || len(p.Invocations) != 0 || len(p.Failures) != 1 || !strings.HasPrefix(p.Failures[0], "GET next through the proxy: ") {
		t.Errorf("runtime proxy report %+v", p)
	}
}

func TestWithoutTheFlagThereIsNoRuntimeAPI(t *testing.T) {
	t.Parallel()
	r, out := runHelper(t, "runtime-api-call", Config{Invokes: 1})
	defer logTimelineOnFailure(t, r, out)
	if r.RuntimeProxy.Enabled || !hasViolation(r, "GET /2018-06-01/runtime/invocation/next is not part of the Extensions API") {
		t.Errorf("runtime proxy %+v, violations %q", r.RuntimeProxy, r.Violations)
	}
	data, _ := json.Marshal(r)
	if bytes.Contains(data, []byte(`"runtime_proxy"`)) {
		t.Errorf("JSON summary has a runtime_proxy: %s", data)
	}
}

func logTimelineOnFailure(t *testing.T, r *Report, out string) {
	if t.Failed() {
		var b strings.Builder
		r.WriteTimeline(&b)
		t.Logf("timeline:\n%s\noutput:\n%s", b.String(), out)
	}
}
