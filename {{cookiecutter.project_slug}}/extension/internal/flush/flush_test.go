package flush

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Policy
	}{
		{"adaptive", Policy{Kind: Adaptive}},
		{"END", Policy{Kind: End}},
		{" continuous ", Policy{Kind: Continuous}},
		{"periodic:10s", Policy{Kind: Periodic, Interval: 10 * time.Second}},
		{"periodic:250", Policy{Kind: Periodic, Interval: 250 * time.Millisecond}},
	} {
		got, err := Parse(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if again, err := Parse(got.String()); err != nil || again != got {
			t.Errorf("Parse(%q.String()) = %+v, %v", tt.in, again, err)
		}
	}
	for _, bad := range []string{"", "sometimes", "periodic", "periodic:", "periodic:1ms", "periodic:2h", "periodic:-5s", "periodic:x", "periodic:99999999999999999"} {
		if got, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", bad, got)
		}
	}
}

func TestBackground(t *testing.T) {
	for kind, want := range map[Kind]bool{Adaptive: false, End: false, Periodic: true, Continuous: true} {
		if got := (Policy{Kind: kind}).Background(); got != want {
			t.Errorf("%v.Background() = %v", Policy{Kind: kind}, got)
		}
	}
}

// The switch follows the gaps between invocations on a made-up clock.
func TestAdaptiveSwitchesOnShortGapsAndBack(t *testing.T) {
	a := AdaptiveState{Gap: time.Second, After: 3}
	now := time.Unix(1_700_000_000, 0)
	steps := []struct {
		gap                  time.Duration
		background, switched bool
	}{
		{0, false, false}, // the first invocation: no gap yet
		{200 * time.Millisecond, false, false},
		{200 * time.Millisecond, false, false},
		{time.Second, true, true}, // the 3rd short gap in a row (Gap itself counts)
		{100 * time.Millisecond, true, false},
		{5 * time.Second, false, true},         // traffic thinned
		{100 * time.Millisecond, false, false}, // short gaps count again from zero
	}
	for i, s := range steps {
		now = now.Add(s.gap)
		bg, sw := a.Observe(now)
		if bg != s.background || sw != s.switched {
			t.Errorf("step %d (gap %v): background=%v switched=%v, want %v %v", i, s.gap, bg, sw, s.background, s.switched)
		}
	}
}
