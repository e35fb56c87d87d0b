package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
)

// The project's budgets: budgets.json at the project root, the file the size gate
// (make size-check) reads too. The bench reports each figure it measured against the
// budget there as within or over budget; it never fails on one (figures move with the
// machine and its load: a gate on them would be a timing assertion).
//
//	{
//	  "binary_bytes":    {"amd64": 8000000, "arm64": 7500000},   stripped binary, per architecture
//	  "layer_zip_bytes": {"amd64": 3500000, "arm64": 3200000},   layer zip, per architecture
//	  "bench": {"init_ratio_max": 2.5, ...}                       the keys in benchBudgets
//	}
//
// A figure whose key is absent has no budget.

// budgetFile is what the bench reads of budgets.json.
type budgetFile struct {
	BinaryBytes   map[string]float64 `json:"binary_bytes"`
	LayerZipBytes map[string]float64 `json:"layer_zip_bytes"`
	Bench         map[string]float64 `json:"bench"`
}

// benchBudget is one key of the "bench" object: the figure it limits.
type benchBudget struct {
	key    string // in "bench"
	figure string // the Budget's Figure
	unit   string
	min    bool // a floor, not a ceiling
	value  func(r *Results) *float64
}

// benchBudgets are the keys "bench" may have.
var benchBudgets = []benchBudget{
	{"init_ratio_max", "init", "ratio", false, func(r *Results) *float64 { return r.Ratios.Init }},
	{"invoke_p50_ratio_max", "invoke_p50", "ratio", false, func(r *Results) *float64 { return r.Ratios.InvokeP50 }},
	{"invoke_p99_ratio_max", "invoke_p99", "ratio", false, func(r *Results) *float64 { return r.Ratios.InvokeP99 }},
	{"peak_rss_ratio_max", "peak_rss", "ratio", false, func(r *Results) *float64 { return r.Ratios.PeakRSS }},
	{"shutdown_ratio_max", "shutdown", "ratio", false, func(r *Results) *float64 { return r.Ratios.Shutdown }},
	{"sync_added_p50_ms_max", "sync_added_p50", "ms", false, func(r *Results) *float64 { return r.workAdded("sync") }},
	{"async_added_p50_ms_max", "async_added_p50", "ms", false, func(r *Results) *float64 { return r.workAdded("async") }},
	{"telemetry_records_per_s_min", "telemetry_records_per_s", "records/s", true, func(r *Results) *float64 {
		if !r.Telemetry.Available {
			return nil
		}
		v := r.Telemetry.RecordsPerSec.Median
		return &v
	}},
	{"local_api_hit_p50_us_max", "local_api_hit_p50", "µs", false, func(r *Results) *float64 {
		return r.localAPIFigure(func(l *LocalAPIBench) Summary { return l.HitP50Us })
	}},
	{"local_api_hit_p99_us_max", "local_api_hit_p99", "µs", false, func(r *Results) *float64 {
		return r.localAPIFigure(func(l *LocalAPIBench) Summary { return l.HitP99Us })
	}},
	{"local_api_hits_per_s_min", "local_api_hits_per_s", "req/s", true, func(r *Results) *float64 {
		return r.localAPIFigure(func(l *LocalAPIBench) Summary { return l.HitsPerSec })
	}},
	{"proxy_added_p50_us_max", "proxy_added_p50", "µs", false, func(r *Results) *float64 {
		return r.proxyFigure(func(p *ProxyBench) Summary { return p.AddedP50Us })
	}},
}

// BudgetReport is the figures against budgets.json, part of the results.
type BudgetReport struct {
	File  string `json:"file"`  // as given to -budgets
	Found bool   `json:"found"` // false: no such file, nothing checked
	// Unknown lists keys of "bench" the bench does not measure (a typo?).
	Unknown []string `json:"unknown"`
	Checks  []Budget `json:"checks"`
}

// Budget is one figure against its budget.
type Budget struct {
	Figure string   `json:"figure"` // e.g. "init", "binary_amd64"
	Key    string   `json:"key"`    // where in budgets.json, e.g. "bench.init_ratio_max"
	Limit  float64  `json:"limit"`
	Kind   string   `json:"kind"` // "max" or "min"
	Unit   string   `json:"unit"`
	Value  *float64 `json:"value"`  // null when not measured in this variant
	Within *bool    `json:"within"` // null when not measured
}

// readBudgets reads budgets.json; a missing file is no budgets, not an error.
func readBudgets(path string) (budgetFile, bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return budgetFile{}, false, nil
	}
	if err != nil {
		return budgetFile{}, false, fmt.Errorf("budgets: %w", err)
	}
	var b budgetFile
	if err := json.Unmarshal(data, &b); err != nil {
		return budgetFile{}, false, fmt.Errorf("budgets: %s: %w (whole numbers of bytes in binary_bytes and layer_zip_bytes, numbers in bench)", path, err)
	}
	return b, true, nil
}

func (r *Results) workAdded(mode string) *float64 {
	m := r.Work.Modes[mode]
	if m == nil || !m.Available {
		return nil
	}
	v := m.AddedP50Ms.Median
	return &v
}

// checkBudgets compares the figures with the budgets, in the table's order.
func (r *Results) checkBudgets(file string, found bool, b budgetFile) BudgetReport {
	rep := BudgetReport{File: file, Found: found, Unknown: []string{}, Checks: []Budget{}}
	add := func(figure, key string, limit float64, min bool, unit string, value *float64) {
		c := Budget{Figure: figure, Key: key, Limit: limit, Kind: "max", Unit: unit, Value: value}
		if min {
			c.Kind = "min"
		}
		if value != nil {
			within := *value <= limit
			if min {
				within = *value >= limit
			}
			c.Within = &within
		}
		rep.Checks = append(rep.Checks, c)
	}
	for _, bb := range benchBudgets {
		if limit, ok := b.Bench[bb.key]; ok {
			add(bb.figure, "bench."+bb.key, limit, bb.min, bb.unit, bb.value(r))
		}
	}
	for _, arch := range sortedKeys(r.Sizes) {
		s := r.Sizes[arch]["ours"]
		if limit, ok := b.BinaryBytes[arch]; ok {
			v := float64(s.BinaryBytes)
			add("binary_"+arch, "binary_bytes."+arch, limit, false, "bytes", &v)
		}
		if limit, ok := b.LayerZipBytes[arch]; ok {
			v := float64(s.LayerZipBytes)
			add("layer_zip_"+arch, "layer_zip_bytes."+arch, limit, false, "bytes", &v)
		}
	}
	for key := range b.Bench {
		known := false
		for _, bb := range benchBudgets {
			known = known || bb.key == key
		}
		if !known {
			rep.Unknown = append(rep.Unknown, "bench."+key)
		}
	}
	sort.Strings(rep.Unknown)
	return rep
}

// budget is the table's budget cell for a figure: "" when it has no budget.
func (r *Results) budget(figure string) string {
	for _, c := range r.Budgets.Checks {
		if c.Figure != figure {
			continue
		}
		switch {
		case c.Within == nil:
			return c.limitText() + ": n/a"
		case *c.Within:
			return c.limitText() + ": within"
		default:
			return c.limitText() + ": over budget (" + r.Budgets.File + " " + c.Key + ")"
		}
	}
	return ""
}

func (c Budget) limitText() string {
	op := "<="
	if c.Kind == "min" {
		op = ">="
	}
	switch c.Unit {
	case "ratio":
		return fmt.Sprintf("%s %s x bare", op, strconv.FormatFloat(c.Limit, 'f', -1, 64))
	case "bytes":
		return fmt.Sprintf("%s %s bytes", op, commas(int64(c.Limit)))
	case "records/s", "req/s":
		return fmt.Sprintf("%s %s %s", op, commas(int64(c.Limit)), c.Unit)
	default:
		return fmt.Sprintf("%s %s %s", op, strconv.FormatFloat(c.Limit, 'f', -1, 64), c.Unit)
	}
}

// commas writes 1234567 as 1,234,567.
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// budgetSummary is the lines after the tables: what is over budget, where to change it.
func (r *Results) budgetSummary() []string {
	rep := r.Budgets
	if !rep.Found {
		return []string{fmt.Sprintf("budgets: no %s, so no figure was checked (see README.md, Benchmarks)", rep.File)}
	}
	var lines []string
	within, over, na := 0, 0, 0
	for _, c := range rep.Checks {
		switch {
		case c.Within == nil:
			na++
		case *c.Within:
			within++
		default:
			over++
			lines = append(lines, fmt.Sprintf("over budget: %s is %s, budget %s (%s %s)", c.Figure, c.valueText(), c.limitText(), rep.File, c.Key))
		}
	}
	for _, key := range rep.Unknown {
		lines = append(lines, fmt.Sprintf("budgets: %s in %s is not a figure the bench measures; it was ignored", key, rep.File))
	}
	head := fmt.Sprintf("budgets (%s): %d within, %d over", rep.File, within, over)
	if na > 0 {
		head += fmt.Sprintf(", %d not measured in this variant", na)
	}
	return append([]string{head}, lines...)
}

func (c Budget) valueText() string {
	if c.Value == nil {
		return "n/a"
	}
	v := *c.Value
	switch c.Unit {
	case "ratio":
		return fmt.Sprintf("%.2f x bare", v)
	case "bytes":
		return commas(int64(v)) + " bytes"
	case "records/s", "req/s":
		return commas(int64(v)) + " " + c.Unit
	default:
		return fmt.Sprintf("%.2f %s", v, c.Unit)
	}
}
