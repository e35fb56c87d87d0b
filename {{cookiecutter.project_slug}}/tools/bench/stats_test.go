package main

import (
	"math"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		name          string
		in            []float64
		med, min, max float64
	}{
		{"none", nil, 0, 0, 0},
		{"one", []float64{3}, 3, 3, 3},
		{"odd", []float64{5, 1, 3}, 3, 1, 5},
		{"even", []float64{4, 1, 3, 2}, 2.5, 1, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := summarize(tc.in)
			if s.Median != tc.med || s.Min != tc.min || s.Max != tc.max {
				t.Errorf("summarize(%v) = %+v, want median %v min %v max %v", tc.in, s, tc.med, tc.min, tc.max)
			}
			if len(s.Samples) != len(tc.in) {
				t.Errorf("samples = %v, want %v", s.Samples, tc.in)
			}
		})
	}
}

func TestSummarizeKeepsRoundOrder(t *testing.T) {
	in := []float64{5, 1, 3}
	s := summarize(in)
	if s.Samples[0] != 5 || s.Samples[1] != 1 || s.Samples[2] != 3 || in[0] != 5 {
		t.Errorf("samples %v, input %v: order changed", s.Samples, in)
	}
}

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(100-i) * time.Millisecond // 100ms..1ms, unsorted
	}
	for _, tc := range []struct {
		name string
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 50, 0},
		{"single p50", []time.Duration{7}, 50, 7},
		{"single p99", []time.Duration{7}, 99, 7},
		{"p50 of 100", hundred, 50, 50 * time.Millisecond},
		{"p99 of 100", hundred, 99, 99 * time.Millisecond},
		{"p100 of 100", hundred, 100, 100 * time.Millisecond},
		{"p50 of 4", []time.Duration{4, 1, 3, 2}, 50, 2},
		{"p99 of 4", []time.Duration{4, 1, 3, 2}, 99, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.in, tc.p); got != tc.want {
				t.Errorf("percentile(p%v) = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
}

func TestRatio(t *testing.T) {
	if got := ratio(3, 2); got != 1.5 {
		t.Errorf("ratio(3, 2) = %v", got)
	}
	if got := ratio(1, 0); !math.IsNaN(got) {
		t.Errorf("ratio(1, 0) = %v, want NaN", got)
	}
}
