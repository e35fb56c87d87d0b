package extension

import (
	"context"
	"log/slog"
	"time"
)

// Counter is an optional capability of what a companion serves (a local API handler,
// runtime hooks): its counts join the records line after the built-in ones, e.g. a
// cache's hits and misses. Counts is called once, as the process ends.
type Counter interface {
	Counts() []slog.Attr
}

// companionStopTimeout bounds closing the companion's server at SHUTDOWN: the runtime
// is done by then, so only stalled clients remain.
const companionStopTimeout = 100 * time.Millisecond

// countsOf returns v's counts as attributes for the records line, or nil.
func countsOf(v any) []any {
	c, ok := v.(Counter)
	if !ok {
		return nil
	}
	var attrs []any
	for _, a := range c.Counts() {
		attrs = append(attrs, a)
	}
	return attrs
}

// stopWithin bounds stop by companionStopTimeout and ctx.
func stopWithin(ctx context.Context, stop func(context.Context) error) error {
	sctx, cancel := context.WithTimeout(ctx, companionStopTimeout)
	defer cancel()
	return stop(sctx)
}
