package extension

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"{{ cookiecutter.go_module }}/extension/internal/config"
	"{{ cookiecutter.go_module }}/extension/internal/localapi"
	"{{ cookiecutter.go_module }}/extension/internal/loopback"
)

// The local API: an HTTP API the extension serves the function on
// 127.0.0.1:PREFIX_LOCAL_PORT. It is listening before the extension registers, so the
// function's own init can call it; requests that come before the constructor returned
// wait for it (up to 5s).
//
// Every request must carry the header X-<extension name>-Token with the function's
// AWS_SESSION_TOKEN as its value (as the AWS Parameters and Secrets extension
// requires), so that a server-side request forgery in the function cannot reach the
// API; any other request gets 401. Without AWS_SESSION_TOKEN every request gets 401.
// Bodies are capped at 1 MiB, requests must arrive within 5s, and at most 64 are
// served at once.

// defaultLocalPort is PREFIX_LOCAL_PORT's default.
const defaultLocalPort = 4244

// ServeLocalAPI makes h serve the local API. Call it from the constructor; until it
// is called (and when it never is) requests wait, then get 503. h runs on the
// server's goroutines, concurrently with Invoke. If h implements Counter its counts
// join the records line.
func (x *Extension) ServeLocalAPI(h http.Handler) {
	if x.comp != nil {
		x.comp.api = h
	}
}

// LocalAPIHeader is the header the function sends its AWS_SESSION_TOKEN in.
func (x *Extension) LocalAPIHeader() string { return localapi.TokenHeader(x.Name) }

// localPortDefault is defaultLocalPort, except in this package's tests, which run many extensions at
// once: there it is 0 (any free port).
var localPortDefault = defaultLocalPort

type companion struct {
	log   *slog.Logger
	guard *localapi.Guard
	srv   *loopback.Server
	err   error        // binding failed: reported to Lambda once registered
	api   http.Handler // set by ServeLocalAPI
}

// openCompanion binds the local API's port and starts serving, before registration.
func openCompanion(env *config.Reader, lookup config.LookupFunc, name string, log *slog.Logger) *companion {
	c := &companion{log: log}
	port := env.Int("LOCAL_PORT", localPortDefault, 0, 65535)
	if err := loopback.ValidatePort(port); err != nil {
		env.Fail("LOCAL_PORT", err.Error())
		return c
	}
	ln, err := loopback.Listen(port)
	if err != nil {
		c.err = fmt.Errorf("local API: %w", err)
		return c
	}
	token, _ := lookup("AWS_SESSION_TOKEN")
	header := localapi.TokenHeader(name)
	if token == "" {
		log.Warn("local API: AWS_SESSION_TOKEN is not set, every request will be refused (401)")
	}
	c.guard = localapi.New(header, token)
	c.srv = loopback.Serve(ln, c.guard, loopback.Options{
		ReadTimeout:  loopback.APIReadTimeout,
		MaxBodyBytes: loopback.APIMaxBodyBytes,
	}, log)
	log.Info("local API listening", "addr", c.srv.Addr().String(), "token_header", header)
	return c
}

// start hands the requests to the constructor's handler; it fails if the port could
// not be bound.
func (c *companion) start() error {
	if c == nil {
		return nil
	}
	if c.err != nil {
		return c.err
	}
	if c.guard == nil {
		return nil
	}
	if c.api == nil {
		c.log.Warn("local API: the constructor did not call ServeLocalAPI, requests get 503")
	}
	c.guard.SetHandler(c.api)
	return nil
}

func (c *companion) stop(ctx context.Context) error {
	if c == nil || c.srv == nil {
		return nil
	}
	return stopWithin(ctx, c.srv.Close)
}

// counts are the local API's on the records line: requests, those refused, and the
// handler's own counts.
func (c *companion) counts() []any {
	if c == nil || c.guard == nil {
		return nil
	}
	s := c.guard.Stats()
	attrs := []any{"local_api_requests", s.Requests, "local_api_unauthorized", s.Unauthorized, "local_api_unavailable", s.Unavailable}
	return append(attrs, countsOf(c.api)...)
}
