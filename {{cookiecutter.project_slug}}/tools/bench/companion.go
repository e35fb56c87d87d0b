package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Companion is the companion benchmark's figures, or why there are none. It runs the
// extension as built (cmd/NAME, the demo processor included) as a child process,
// registered with a stand-in Extensions API the bench serves, parked in
// /event/next, and calls its companion on loopback the way the function does:
//
//   - local-api: GET /v1/<key> with the token header, a cache hit (the first request
//     was the one miss, from a local upstream), over keep-alive connections: the
//     latency of one client calling back to back, then the throughput of -companion-
//     clients clients calling at once;
//   - runtime-proxy: one invocation's Runtime API round trip (GET next, POST
//     response) straight to a stand-in Runtime API and through the extension's proxy
//     to the same, taking turns; the proxy's cost is proxied minus direct.
//
// Every round warms its connections up first; the figures are the median [min – max]
// over -companion-rounds rounds.
type Companion struct {
	Kind        string `json:"kind"` // "none", "local-api" or "runtime-proxy"
	Available   bool   `json:"available"`
	Reason      string `json:"reason,omitempty"`
	Description string `json:"description,omitempty"`
	Rounds      int    `json:"rounds"`
	Requests    int    `json:"requests"` // timed requests (round trips) per round and client
	// Load is the 1, 5 and 15 minute load average after each round: the figures
	// depend on what else the machine runs.
	Load     [][]float64    `json:"load"`
	LocalAPI *LocalAPIBench `json:"local_api,omitempty"`
	Proxy    *ProxyBench    `json:"runtime_proxy,omitempty"`
}

// LocalAPIBench is the local API's cache hits.
type LocalAPIBench struct {
	// HitP50Us and HitP99Us are one client's requests, back to back.
	HitP50Us Summary `json:"hit_p50_us"`
	HitP99Us Summary `json:"hit_p99_us"`
	// BareP50Us is the same client against a bare HTTP server in a process of its own
	// (the bench binary, answering at once): the machine's floor for a loopback
	// request between two processes, which no local API can beat.
	BareP50Us Summary `json:"bare_p50_us"`
	// Clients call at once for HitsPerSec: requests answered per second.
	Clients    int     `json:"clients"`
	HitsPerSec Summary `json:"hits_per_s"`
	// LoadedP50Us is the median request while the clients call at once.
	LoadedP50Us Summary `json:"loaded_p50_us"`
	// CPUPerHitUs is the extension process's CPU time (user and system) per request
	// while the clients call: what a hit costs, whatever else the machine runs. No
	// samples where the system does not say (no /proc).
	CPUPerHitUs Summary `json:"cpu_per_hit_us"`
}

// ProxyBench is the Runtime API round trip straight and through the proxy.
type ProxyBench struct {
	DirectP50Us  Summary `json:"direct_p50_us"`
	DirectP99Us  Summary `json:"direct_p99_us"`
	ProxiedP50Us Summary `json:"proxied_p50_us"`
	ProxiedP99Us Summary `json:"proxied_p99_us"`
	// AddedP50Us is proxied minus direct p50, per round.
	AddedP50Us Summary `json:"added_p50_us"`
}

func (r *Results) localAPIFigure(f func(*LocalAPIBench) Summary) *float64 {
	if !r.Companion.Available || r.Companion.LocalAPI == nil {
		return nil
	}
	v := f(r.Companion.LocalAPI).Median
	return &v
}

func (r *Results) proxyFigure(f func(*ProxyBench) Summary) *float64 {
	if !r.Companion.Available || r.Companion.Proxy == nil {
		return nil
	}
	v := f(r.Companion.Proxy).Median
	return &v
}

func writeCompanionTable(out io.Writer, r *Results) {
	c := r.Companion
	if !c.Available {
		fmt.Fprintf(out, "\ncompanion: %s\n", c.Reason)
		return
	}
	load := make([]string, len(c.Load))
	for i, l := range c.Load {
		load[i] = fmtLoad(l[:min(1, len(l))])
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	switch {
	case c.LocalAPI != nil:
		l := c.LocalAPI
		fmt.Fprintf(out, "\ncompanion (local API): cache hits, GET /v1/<key> with the token header over keep-alive loopback connections;\n")
		fmt.Fprintf(out, "%d rounds: %d requests of 1 client back to back, then %d requests each of %d clients at once\n", c.Rounds, c.Requests, c.Requests, l.Clients)
		fmt.Fprintln(tw, "figure\tvalue\tbudget")
		fmt.Fprintf(tw, "local API hit p50 (1 client)\t%s\t%s\n", spread(l.HitP50Us, fmtUsFine), r.budget("local_api_hit_p50"))
		fmt.Fprintf(tw, "local API hit p99 (1 client)\t%s\t%s\n", spread(l.HitP99Us, fmtUsFine), r.budget("local_api_hit_p99"))
		fmt.Fprintf(tw, "bare server p50 (1 client)\t%s\t\n", spread(l.BareP50Us, fmtUsFine))
		fmt.Fprintf(tw, "local API hits/s (%d clients)\t%s\t%s\n", l.Clients, spread(l.HitsPerSec, fmtReqRate), r.budget("local_api_hits_per_s"))
		fmt.Fprintf(tw, "local API hit p50 (%d clients)\t%s\t\n", l.Clients, spread(l.LoadedP50Us, fmtUsFine))
		fmt.Fprintf(tw, "extension CPU per hit\t%s\t\n", spread(l.CPUPerHitUs, fmtUsFine))
	case c.Proxy != nil:
		p := c.Proxy
		fmt.Fprintf(out, "\ncompanion (runtime proxy): one invocation's round trip (GET next, POST response) over keep-alive loopback connections;\n")
		fmt.Fprintf(out, "%d rounds x %d round trips, straight to a stand-in Runtime API and through the proxy, taking turns\n", c.Rounds, c.Requests)
		fmt.Fprintln(tw, "figure\tdirect\tproxied\tadded\tbudget")
		fmt.Fprintf(tw, "round trip p50\t%s\t%s\t%s\t%s\n", spread(p.DirectP50Us, fmtUsFine), spread(p.ProxiedP50Us, fmtUsFine), spread(p.AddedP50Us, fmtUsFine), r.budget("proxy_added_p50"))
		fmt.Fprintf(tw, "round trip p99\t%s\t%s\t\t\n", spread(p.DirectP99Us, fmtUsFine), spread(p.ProxiedP99Us, fmtUsFine))
	}
	tw.Flush()
	fmt.Fprintf(out, "load average (1 min) after each round: %s\n", strings.Join(load, ", "))
}

// fmtUsFine is fmtUs with one decimal under 100 µs: the companions' figures are tens
// of microseconds.
func fmtUsFine(v float64) string {
	if v < 100 && v > -100 {
		return fmt.Sprintf("%.1f µs", v)
	}
	return fmtUs(v)
}

func fmtReqRate(v float64) string { return commas(int64(v)) + " req/s" }
