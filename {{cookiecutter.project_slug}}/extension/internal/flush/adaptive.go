package flush

import "time"

// AdaptiveState is the adaptive policy's switch. It starts flushing at the end of
// every invocation; after After gaps in a row between invocations of at most Gap,
// it switches to the background (data then waits through freezes no longer than
// about Gap); one longer gap switches it back. Use it from one goroutine.
type AdaptiveState struct {
	Gap   time.Duration
	After int

	last       time.Time
	short      int
	background bool
}

// Observe records an invocation that arrived at now and reports whether its data
// goes out in the background, and whether that changed with this invocation.
func (a *AdaptiveState) Observe(now time.Time) (background, switched bool) {
	if !a.last.IsZero() && now.Sub(a.last) <= a.Gap {
		a.short++
	} else {
		a.short = 0
	}
	a.last = now
	was := a.background
	a.background = a.short >= a.After
	return a.background, a.background != was
}
