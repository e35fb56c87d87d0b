package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func ptr(v float64) *float64 { return &v }

// sampleResults has every figure the budgets and the chart look at.
func sampleResults() *Results {
	r := &Results{
		Extension: "order-shipper", Processing: "async",
		Runtime: map[string]Runtime{
			"ours": {InitMs: Summary{Median: 12}, InvokeP50Us: Summary{Median: 200}, InvokeP99Us: Summary{Median: 400}, PeakRSSBytes: Summary{Median: 12 << 20}, ShutdownMs: Summary{Median: 150}},
			"bare": {InitMs: Summary{Median: 4}, InvokeP50Us: Summary{Median: 150}, InvokeP99Us: Summary{Median: 350}, PeakRSSBytes: Summary{Median: 8 << 20}, ShutdownMs: Summary{Median: 1}},
		},
		Sizes: map[string]map[string]Size{
			"amd64": {"ours": {BinaryBytes: 6_800_000, LayerZipBytes: 2_900_000}, "bare": {BinaryBytes: 6_100_000, LayerZipBytes: 2_600_000}},
		},
		Work: Work{WorkMs: 50, Modes: map[string]*WorkMode{
			"sync":  {Available: true, AddedP50Ms: Summary{Median: 51}},
			"async": {Available: true, AddedP50Ms: Summary{Median: 0.7}},
		}, Baseline: Baseline{AddedP50Ms: Summary{Median: 0.6}}},
		Telemetry: Telemetry{Available: true, RecordsPerSec: Summary{Median: 120_000}},
	}
	r.Ratios.Init, r.Ratios.InvokeP50, r.Ratios.PeakRSS = ptr(3), ptr(200.0/150), ptr(1.5)
	return r
}

func TestBudgets(t *testing.T) {
	r := sampleResults()
	file := budgetFile{
		BinaryBytes:   map[string]float64{"amd64": 8_000_000, "arm64": 1},
		LayerZipBytes: map[string]float64{"amd64": 2_500_000},
		Bench: map[string]float64{
			"init_ratio_max": 2.5, "invoke_p50_ratio_max": 2.5, "peak_rss_ratio_max": 2,
			"async_added_p50_ms_max": 1, "telemetry_records_per_s_min": 150_000, "inti_ratio_max": 2,
		},
	}
	r.Budgets = r.checkBudgets("budgets.json", true, file)

	cells := map[string]string{
		"init":                    "<= 2.5 x bare: over budget (budgets.json bench.init_ratio_max)",
		"invoke_p50":              "<= 2.5 x bare: within",
		"peak_rss":                "<= 2 x bare: within",
		"invoke_p99":              "", // no budget in the file
		"async_added_p50":         "<= 1 ms: within",
		"telemetry_records_per_s": ">= 150,000 records/s: over budget (budgets.json bench.telemetry_records_per_s_min)",
		"binary_amd64":            "<= 8,000,000 bytes: within",
		"layer_zip_amd64":         "<= 2,500,000 bytes: over budget (budgets.json layer_zip_bytes.amd64)",
	}
	for figure, want := range cells {
		if got := r.budget(figure); got != want {
			t.Errorf("budget(%q) = %q, want %q", figure, got, want)
		}
	}
	if !slices.Equal(r.Budgets.Unknown, []string{"bench.inti_ratio_max"}) {
		t.Errorf("unknown keys %q", r.Budgets.Unknown)
	}
	summary := strings.Join(r.budgetSummary(), "\n")
	for _, want := range []string{
		"budgets (budgets.json): 4 within, 3 over",
		"over budget: init is 3.00 x bare, budget <= 2.5 x bare (budgets.json bench.init_ratio_max)",
		"over budget: layer_zip_amd64 is 2,900,000 bytes, budget <= 2,500,000 bytes (budgets.json layer_zip_bytes.amd64)",
		"bench.inti_ratio_max in budgets.json is not a figure the bench measures",
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary does not say %q:\n%s", want, summary)
		}
	}
	if strings.Contains(summary, "MISSED") {
		t.Errorf("summary:\n%s", summary)
	}
}

func TestBudgetsOfAVariantWithoutTheFigure(t *testing.T) {
	r := sampleResults()
	r.Work.Modes["async"] = &WorkMode{Available: false, Reason: "n/a"}
	r.Budgets = r.checkBudgets("budgets.json", true, budgetFile{Bench: map[string]float64{"async_added_p50_ms_max": 1}})

	if got := r.budget("async_added_p50"); got != "<= 1 ms: n/a" {
		t.Errorf("budget = %q", got)
	}
	if got := r.budgetSummary()[0]; got != "budgets (budgets.json): 0 within, 0 over, 1 not measured in this variant" {
		t.Errorf("summary %q", got)
	}
}

func TestReadBudgets(t *testing.T) {
	dir := t.TempDir()
	if _, found, err := readBudgets(filepath.Join(dir, "budgets.json")); found || err != nil {
		t.Errorf("missing file: found %v, err %v; want no budgets and no error", found, err)
	}
	path := filepath.Join(dir, "budgets.json")
	os.WriteFile(path, []byte(`{"_about":"x","binary_bytes":{"amd64":8000000},"bench":{"init_ratio_max":2.5}}`), 0o644)
	b, found, err := readBudgets(path)
	if err != nil || !found || b.BinaryBytes["amd64"] != 8_000_000 || b.Bench["init_ratio_max"] != 2.5 {
		t.Errorf("readBudgets = %+v, %v, %v", b, found, err)
	}
	os.WriteFile(path, []byte(`{"bench":{"init_ratio_max":"high"}}`), 0o644)
	if _, _, err := readBudgets(path); err == nil || !strings.Contains(err.Error(), "budgets.json") {
		t.Errorf("malformed file: err %v", err)
	}
}

func TestChartSVG(t *testing.T) {
	r := sampleResults()
	r.Budgets = r.checkBudgets("budgets.json", true, budgetFile{Bench: map[string]float64{"init_ratio_max": 2.5}})
	data := chartSVG(r)

	dec := xml.NewDecoder(bytes.NewReader(data))
	count := map[string][]string{}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, data)
		}
		if el, ok := tok.(xml.StartElement); ok {
			var class, figure string
			for _, a := range el.Attr {
				switch a.Name.Local {
				case "class":
					class = a.Value
				case "data-figure":
					figure = a.Value
				}
			}
			if class != "" && figure != "" {
				count[class] = append(count[class], figure)
			}
		}
	}
	// A bar of ours per figure, one of bare for each but the listener's throughput.
	figures := []string{"init", "invoke_p50", "invoke_p99", "peak_rss", "shutdown", "binary_amd64", "layer_zip_amd64", "sync_added_p50", "async_added_p50", "telemetry_records_per_s"}
	if !slices.Equal(count["ours"], figures) {
		t.Errorf("ours bars %q", count["ours"])
	}
	if !slices.Equal(count["bare"], figures[:len(figures)-1]) {
		t.Errorf("bare bars %q", count["bare"])
	}
	if !slices.Equal(count["budget"], []string{"init"}) {
		t.Errorf("budget lines %q", count["budget"])
	}
	if !strings.Contains(string(data), "over budget: init") {
		t.Error("the chart does not say init is over budget")
	}
}
