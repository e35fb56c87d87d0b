package main

import (
	"bytes"
	"strings"
	"testing"
)

// The companion's figures are checked against their budgets.json keys and printed,
// or said to be n/a, whichever kind the results hold.
func TestCompanionBudgetsAndTable(t *testing.T) {
	file := budgetFile{Bench: map[string]float64{
		"local_api_hit_p50_us_max": 100, "local_api_hits_per_s_min": 10_000, "proxy_added_p50_us_max": 200,
	}}
	local := sampleResults()
	local.Companion = Companion{Kind: "local-api", Available: true, Rounds: 1, Requests: 10, Load: [][]float64{[]float64{1.5, 1, 1}},
		LocalAPI: &LocalAPIBench{Clients: 4, HitP50Us: Summary{Median: 80, Samples: []float64{80}}, HitsPerSec: Summary{Median: 9_000, Samples: []float64{9_000}}}}
	proxy := sampleResults()
	proxy.Companion = Companion{Kind: "runtime-proxy", Available: true, Rounds: 1, Requests: 10, Load: [][]float64{[]float64{2, 1, 1}},
		Proxy: &ProxyBench{DirectP50Us: Summary{Median: 90, Samples: []float64{90}}, ProxiedP50Us: Summary{Median: 400, Samples: []float64{400}}, AddedP50Us: Summary{Median: 310, Samples: []float64{310}}}}
	none := sampleResults()
	none.Companion = Companion{Kind: "none", Reason: "n/a in this variant: no companion (companion=none)"}
	for _, tc := range []struct {
		name  string
		r     *Results
		cells map[string]string
		lines []string
	}{
		{"local-api", local, map[string]string{
			"local_api_hit_p50":    "<= 100 µs: within",
			"local_api_hits_per_s": ">= 10,000 req/s: over budget (budgets.json bench.local_api_hits_per_s_min)",
			"proxy_added_p50":      "<= 200 µs: n/a",
		}, []string{"local API hit p50 (1 client)   80.0 µs", "local API hits/s (4 clients)", "9,000 req/s", "load average (1 min) after each round: 1.50"}},
		{"runtime-proxy", proxy, map[string]string{
			"local_api_hit_p50": "<= 100 µs: n/a",
			"proxy_added_p50":   "<= 200 µs: over budget (budgets.json bench.proxy_added_p50_us_max)",
		}, []string{"round trip p50  90.0 µs  400 µs   310 µs", "load average (1 min) after each round: 2.00"}},
		{"none", none, map[string]string{"proxy_added_p50": "<= 200 µs: n/a"}, []string{"companion: n/a in this variant"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.r.Budgets = tc.r.checkBudgets("budgets.json", true, file)
			if len(tc.r.Budgets.Unknown) != 0 {
				t.Errorf("unknown keys %v", tc.r.Budgets.Unknown)
			}
			for figure, want := range tc.cells {
				if got := tc.r.budget(figure); got != want {
					t.Errorf("budget(%s) = %q, want %q", figure, got, want)
				}
			}
			var out bytes.Buffer
			writeCompanionTable(&out, tc.r)
			for _, line := range tc.lines {
				if !strings.Contains(out.String(), line) {
					t.Errorf("no %q in\n%s", line, out.String())
				}
			}
		})
	}
}
