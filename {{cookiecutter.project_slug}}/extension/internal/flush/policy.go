// Package flush holds the async variant's flush policies: when the Batcher flushes
// what an invocation produced, relative to the event loop and to the freeze that
// follows it. It decides; the queue's worker does the flushing.
package flush

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kind is one of the policies PREFIX_FLUSH names.
type Kind int

// The policies.
const (
	// Adaptive flushes at the end of sparse invocations and in the background once
	// they come often (see Adaptive).
	Adaptive Kind = iota
	// End flushes before the extension asks for the next event.
	End
	// Periodic flushes in the background every Interval while thawed, and at the
	// next INVOKE when an interval passed during a freeze.
	Periodic
	// Continuous flushes in the background as soon as a batch is ready.
	Continuous
)

// Bounds of a periodic interval.
const (
	MinInterval = 10 * time.Millisecond
	MaxInterval = 15 * time.Minute
)

// Policy is a parsed PREFIX_FLUSH value.
type Policy struct {
	Kind     Kind
	Interval time.Duration // Periodic only
}

// Usage completes "PREFIX_FLUSH must be ..." in an error.
const Usage = "end, periodic:<duration> (e.g. periodic:10s), continuous or adaptive"

// Parse reads a PREFIX_FLUSH value, any case.
func Parse(value string) (Policy, error) {
	v := strings.ToLower(strings.TrimSpace(value))
	switch v {
	case "adaptive":
		return Policy{Kind: Adaptive}, nil
	case "end":
		return Policy{Kind: End}, nil
	case "continuous":
		return Policy{Kind: Continuous}, nil
	}
	rest, ok := strings.CutPrefix(v, "periodic:")
	if !ok {
		return Policy{}, fmt.Errorf("unknown flush policy %q", value)
	}
	d, err := parseDuration(strings.TrimSpace(rest))
	if err != nil || d < MinInterval || d > MaxInterval {
		return Policy{}, fmt.Errorf("periodic interval must be from %s to %s, got %q", MinInterval, MaxInterval, rest)
	}
	return Policy{Kind: Periodic, Interval: d}, nil
}

// parseDuration reads a Go duration or a plain number of milliseconds.
func parseDuration(s string) (time.Duration, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < 0 || ms > int64(MaxInterval/time.Millisecond) {
			return 0, fmt.Errorf("out of range")
		}
		return time.Duration(ms) * time.Millisecond, nil
	}
	return time.ParseDuration(s)
}

// Background reports whether the policy never blocks the event loop.
func (p Policy) Background() bool { return p.Kind == Periodic || p.Kind == Continuous }

func (p Policy) String() string {
	switch p.Kind {
	case End:
		return "end"
	case Periodic:
		return "periodic:" + p.Interval.String()
	case Continuous:
		return "continuous"
	}
	return "adaptive"
}
