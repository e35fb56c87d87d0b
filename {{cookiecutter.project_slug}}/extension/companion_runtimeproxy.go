package extension

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"{{ cookiecutter.go_module }}/extension/internal/config"
	"{{ cookiecutter.go_module }}/extension/internal/loopback"
	"{{ cookiecutter.go_module }}/extension/internal/runtimeproxy"
)

// The Runtime API proxy: the layer's wrapper script (/opt/<extension name>-wrapper,
// set AWS_LAMBDA_EXEC_WRAPPER to it) points the runtime's AWS_LAMBDA_RUNTIME_API at
// 127.0.0.1:PREFIX_PROXY_PORT, and the extension forwards everything to
// PREFIX_PROXY_UPSTREAM (default: the real AWS_LAMBDA_RUNTIME_API; another proxy's
// address to chain two). It listens before the extension registers, so it is there
// when the runtime starts; the runtime's requests wait until the constructor returned.
//
// The processor sees the invocations through hooks: EventHook and ResultHook, the
// optional interfaces of what it passes to HookRuntime. When the upstream is gone the
// runtime gets a 502 at once, and fails, instead of hanging; when it takes a request
// and does not answer within PREFIX_PROXY_UPSTREAM_TIMEOUT, a 504 (GET
// .../invocation/next, which long-polls, is never timed out).

// defaultProxyPort is PREFIX_PROXY_PORT's default; the wrapper script uses the same.
const defaultProxyPort = 4245

// The range of PREFIX_PROXY_UPSTREAM_TIMEOUT (default runtimeproxy.DefaultUpstreamTimeout,
// 5s): the Runtime API answers at once, so a second is plenty on a busy machine; and
// Lambda's longest function timeout (15 minutes) is far beyond any useful wait.
const (
	minUpstreamTimeout = 100 * time.Millisecond
	maxUpstreamTimeout = time.Minute
)

// RuntimeEvent is an event on its way from Lambda to the runtime: request id, Lambda's
// headers and the payload (which the hook may replace).
type RuntimeEvent = runtimeproxy.Event

// RuntimeResult is a response or an error on its way from the runtime to Lambda: the
// body (which the hook may replace, unless it was streamed), sizes and the duration.
type RuntimeResult = runtimeproxy.Result

// EventHook runs for every event before the runtime sees it, on the proxy's
// goroutine. An error is logged and the original event passes on.
type EventHook interface {
	RuntimeEvent(ctx context.Context, ev *RuntimeEvent) error
}

// ResultHook runs for every response or error before Lambda sees it (streamed ones:
// once they ended, when Lambda has the body already: a streamed body cannot be changed
// or redacted, res.Streamed says so), on the proxy's goroutine. An error is logged and
// the original passes on.
type ResultHook interface {
	RuntimeResult(ctx context.Context, res *RuntimeResult) error
}

// HookRuntime installs h's hooks: h implements EventHook, ResultHook or both (and
// Counter, to add counts to the records line). Call it from the constructor; without
// it the proxy forwards everything unchanged.
func (x *Extension) HookRuntime(h any) {
	if x.comp != nil {
		x.comp.hooks = h
	}
}

// proxyPortDefault is defaultProxyPort, except in this package's tests, which run many extensions at
// once: there it is 0 (any free port).
var proxyPortDefault = defaultProxyPort

type companion struct {
	log   *slog.Logger
	proxy *runtimeproxy.Proxy
	srv   *loopback.Server
	err   error // binding failed: reported to Lambda once registered
	hooks any   // set by HookRuntime
}

// openCompanion binds the proxy's port and starts serving, before registration.
func openCompanion(env *config.Reader, lookup config.LookupFunc, _ string, log *slog.Logger) *companion {
	c := &companion{log: log}
	timeout := env.Duration("PROXY_UPSTREAM_TIMEOUT", runtimeproxy.DefaultUpstreamTimeout, minUpstreamTimeout, maxUpstreamTimeout)
	port := env.Int("PROXY_PORT", proxyPortDefault, 0, 65535)
	if err := loopback.ValidatePort(port); err != nil {
		env.Fail("PROXY_PORT", err.Error())
		return c
	}
	runtimeAPI, _ := lookup("AWS_LAMBDA_RUNTIME_API")
	upstream := env.String("PROXY_UPSTREAM", runtimeAPI)
	host, p, err := net.SplitHostPort(upstream)
	if n, perr := strconv.Atoi(p); err != nil || perr != nil || n < 1 || n > 65535 || host == "" || strings.ContainsAny(host, "/?#@") {
		env.Fail("PROXY_UPSTREAM", fmt.Sprintf("must be host:port like AWS_LAMBDA_RUNTIME_API, got %s", config.Quote(upstream)))
		return c
	}
	if p == strconv.Itoa(port) && (host == loopback.Host || host == "localhost") {
		env.Fail("PROXY_UPSTREAM", "must not be the proxy itself ("+upstream+")")
		return c
	}
	proxy, err := runtimeproxy.New(upstream, log, runtimeproxy.Options{UpstreamTimeout: timeout})
	if err != nil {
		c.err = fmt.Errorf("runtime proxy: %w", err)
		return c
	}
	ln, err := loopback.Listen(port)
	if err != nil {
		c.err = fmt.Errorf("runtime proxy: %w", err)
		return c
	}
	c.proxy = proxy
	// No read timeout: a streamed response lasts as long as the invocation.
	c.srv = loopback.Serve(ln, proxy, loopback.Options{}, log)
	log.Info("runtime API proxy listening", "addr", c.srv.Addr().String(), "upstream", upstream, "upstream_timeout", timeout.String())
	return c
}

// start installs the hooks and releases the runtime's requests; it fails if the port
// could not be bound or the hooks value has none.
func (c *companion) start() error {
	if c == nil {
		return nil
	}
	if c.err != nil {
		return c.err
	}
	if c.proxy == nil {
		return nil
	}
	var hooks runtimeproxy.Hooks
	if h, ok := c.hooks.(EventHook); ok {
		hooks.Event = h.RuntimeEvent
	}
	if h, ok := c.hooks.(ResultHook); ok {
		hooks.Result = h.RuntimeResult
	}
	if c.hooks != nil && hooks.Event == nil && hooks.Result == nil {
		return fmt.Errorf("HookRuntime: %T implements neither EventHook nor ResultHook", c.hooks)
	}
	c.proxy.SetHooks(hooks)
	return nil
}

func (c *companion) stop(ctx context.Context) error {
	if c == nil || c.srv == nil {
		return nil
	}
	return stopWithin(ctx, c.srv.Close)
}

// counts are the proxy's on the records line, then the hooks' own.
func (c *companion) counts() []any {
	if c == nil || c.proxy == nil {
		return nil
	}
	s := c.proxy.Stats()
	attrs := []any{"proxy_events", s.Events, "proxy_results", s.Results,
		"proxy_upstream_failures", s.UpstreamFailure, "proxy_upstream_timeouts", s.UpstreamTimeout,
		"proxy_hook_errors", s.HookErrors}
	return append(attrs, countsOf(c.hooks)...)
}
