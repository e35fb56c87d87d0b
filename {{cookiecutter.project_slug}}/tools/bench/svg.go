package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"{{ cookiecutter.go_module }}/tools/internal/svg"
)

// The chart make bench writes next to results.json (build/bench/results.svg): per
// figure, a bar for ours and one for the bare extension (medians over the rounds) on
// the figure's own scale, the value at the end of each, and the budget from
// budgets.json as a dashed line (ours turns red when over it). Every bar has the
// class "ours" or "bare" and the figure's name in data-figure.

// chartRow is one figure of the chart.
type chartRow struct {
	figure string // as in the budgets ("init", "binary_amd64")
	label  string
	ours   float64
	bare   *float64 // nil: no bare figure (the telemetry listener)
	format func(float64) string
	budget *float64 // the budget in the figure's unit, nil for none
	over   bool
}

const (
	chartWidth  = 900.0
	chartLabel  = 250.0 // the figure names
	chartValues = 120.0 // room for the value after the longest bar
	chartRowH   = 46.0
	chartTop    = 70.0
	colOurs     = "#f28e2b"
	colBare     = "#4e79a7"
	colOver     = "#e15759"
	colGrid     = "#f4f4f4"
	colInk      = "#2b2b2b"
)

func (r *Results) chartRows() []chartRow {
	var rows []chartRow
	add := func(figure, label string, ours float64, bare *float64, format func(float64) string) {
		row := chartRow{figure: figure, label: label, ours: ours, bare: bare, format: format}
		for _, c := range r.Budgets.Checks {
			if c.Figure != figure || c.Within == nil {
				continue
			}
			limit := c.Limit
			if c.Unit == "ratio" {
				if bare == nil {
					continue
				}
				limit *= *bare
			}
			row.budget, row.over = &limit, !*c.Within
		}
		rows = append(rows, row)
	}
	ptr := func(v float64) *float64 { return &v }
	ours, bare := r.Runtime["ours"], r.Runtime["bare"]
	add("init", "init (start -> first next)", ours.InitMs.Median, ptr(bare.InitMs.Median), fmtMs)
	add("invoke_p50", "invoke overhead p50", ours.InvokeP50Us.Median, ptr(bare.InvokeP50Us.Median), fmtUs)
	add("invoke_p99", "invoke overhead p99", ours.InvokeP99Us.Median, ptr(bare.InvokeP99Us.Median), fmtUs)
	if ours.PeakRSSBytes.Median >= 0 && bare.PeakRSSBytes.Median >= 0 {
		add("peak_rss", "peak RSS", ours.PeakRSSBytes.Median, ptr(bare.PeakRSSBytes.Median), fmtMiB)
	}
	add("shutdown", "shutdown (SHUTDOWN -> exit)", ours.ShutdownMs.Median, ptr(bare.ShutdownMs.Median), fmtMs)
	mb := func(v float64) string { return fmtMB(int64(v)) }
	for _, arch := range sortedKeys(r.Sizes) {
		s := r.Sizes[arch]
		add("binary_"+arch, "binary "+arch+" (stripped)", float64(s["ours"].BinaryBytes), ptr(float64(s["bare"].BinaryBytes)), mb)
		add("layer_zip_"+arch, "layer zip "+arch, float64(s["ours"].LayerZipBytes), ptr(float64(s["bare"].LayerZipBytes)), mb)
	}
	baseline := r.Work.Baseline.AddedP50Ms.Median
	for _, mode := range []string{"sync", "async"} {
		if v := r.workAdded(mode); v != nil {
			add(mode+"_added_p50", fmt.Sprintf("%s, %s of work: added p50", mode, fmtMs(r.Work.WorkMs)), *v, ptr(baseline), fmtMs)
		}
	}
	if r.Telemetry.Available {
		add("telemetry_records_per_s", "telemetry listener, records/s", r.Telemetry.RecordsPerSec.Median, nil,
			func(v float64) string { return fmtRate(v) + " records/s" })
	}
	// The companion: the local API's bare counterpart is a bare HTTP server in a
	// process of its own; the proxy's is the direct round trip.
	if v := r.localAPIFigure(func(l *LocalAPIBench) Summary { return l.HitP50Us }); v != nil {
		add("local_api_hit_p50", "local API hit p50 (1 client)", *v, r.localAPIFigure(func(l *LocalAPIBench) Summary { return l.BareP50Us }), fmtUsFine)
	}
	if v := r.localAPIFigure(func(l *LocalAPIBench) Summary { return l.HitsPerSec }); v != nil {
		add("local_api_hits_per_s", fmt.Sprintf("local API hits/s (%d clients)", r.Companion.LocalAPI.Clients), *v, nil, fmtReqRate)
	}
	if p := r.Companion.Proxy; r.Companion.Available && p != nil {
		add("proxy_round_trip_p50", "Runtime API round trip p50 (proxied)", p.ProxiedP50Us.Median, ptr(p.DirectP50Us.Median), fmtUsFine)
	}
	return rows
}

// chartSVG draws the chart of r.
func chartSVG(r *Results) []byte {
	rows := r.chartRows()
	height := chartTop + float64(len(rows))*chartRowH + 50
	title := fmt.Sprintf("bench: %s (%s) against the bare extension", r.Extension, r.Processing)
	d := svg.New(chartWidth, height, title, "")
	d.Elem("rect", "", svg.A("width", chartWidth), svg.A("height", height), svg.A("fill", "white"))
	d.Elem("text", title, svg.A("x", 12), svg.A("y", 22), svg.A("font-size", 15), svg.A("font-weight", "bold"), svg.A("fill", colInk))
	m := r.Machine
	sub := fmt.Sprintf("%s/%s, %d CPUs, %s · %d rounds x %d invokes · medians, each figure on its own scale",
		m.GOOS, m.GOARCH, m.NumCPU, m.GoVersion, r.Settings.Rounds, r.Settings.Invokes)
	d.Elem("text", sub, svg.A("x", 12), svg.A("y", 42), svg.A("font-size", 12), svg.A("fill", colInk))
	legendX := 12.0
	legend := []struct{ fill, text string }{
		{colOurs, "ours"},
		{colBare, "bare"},
		{colOver, "ours, over budget"},
	}
	for _, it := range legend {
		d.Elem("rect", "", svg.A("x", legendX), svg.A("y", 50), svg.A("width", 12), svg.A("height", 12), svg.A("fill", it.fill))
		d.Elem("text", it.text, svg.A("x", legendX+16), svg.A("y", 60), svg.A("font-size", 11), svg.A("fill", colInk))
		legendX += 16 + svg.TextWidth(it.text, 11) + 18
	}
	d.Elem("line", "", svg.A("x1", legendX), svg.A("x2", legendX+18), svg.A("y1", 56), svg.A("y2", 56),
		svg.A("stroke", colOver), svg.A("stroke-width", 2), svg.A("stroke-dasharray", "4,3"))
	d.Elem("text", "budget ("+r.Budgets.File+")", svg.A("x", legendX+22), svg.A("y", 60), svg.A("font-size", 11), svg.A("fill", colInk))

	plot := chartWidth - chartLabel - chartValues
	for i, row := range rows {
		y := chartTop + float64(i)*chartRowH
		if i%2 == 0 {
			d.Elem("rect", "", svg.A("x", 0), svg.A("y", y), svg.A("width", chartWidth), svg.A("height", chartRowH), svg.A("fill", colGrid))
		}
		d.Elem("text", row.label, svg.A("class", "figure"), svg.A("x", 12), svg.A("y", y+chartRowH/2+4), svg.A("font-size", 12), svg.A("fill", colInk))
		top := row.ours
		if row.bare != nil {
			top = math.Max(top, *row.bare)
		}
		if row.budget != nil {
			top = math.Max(top, *row.budget)
		}
		scale := 0.0
		if top > 0 {
			scale = plot / top
		}
		bar := func(class string, v float64, y float64, fill, tip string) {
			w := math.Max(v*scale, 1)
			d.Shape("rect", tip, svg.A("class", class), svg.A("data-figure", row.figure), svg.A("x", chartLabel), svg.A("y", y),
				svg.A("width", w), svg.A("height", 14), svg.A("fill", fill))
			d.Elem("text", row.format(v), svg.A("x", chartLabel+w+6), svg.A("y", y+11), svg.A("font-size", 11), svg.A("fill", colInk))
		}
		fill := colOurs
		if row.over {
			fill = colOver
		}
		bar("ours", row.ours, y+7, fill, "ours: "+row.format(row.ours))
		if row.bare != nil {
			bar("bare", *row.bare, y+25, colBare, "bare: "+row.format(*row.bare))
		}
		if row.budget != nil {
			x := chartLabel + *row.budget*scale
			state := "within"
			if row.over {
				state = "over"
			}
			d.Shape("line", fmt.Sprintf("budget %s: ours is %s it", row.format(*row.budget), state),
				svg.A("class", "budget"), svg.A("data-figure", row.figure), svg.A("x1", x), svg.A("x2", x), svg.A("y1", y+3), svg.A("y2", y+chartRowH-3),
				svg.A("stroke", colOver), svg.A("stroke-width", 2), svg.A("stroke-dasharray", "4,3"))
		}
	}
	var over []string
	for _, row := range rows {
		if row.over {
			over = append(over, row.figure)
		}
	}
	foot := "no figure over its budget"
	switch {
	case !r.Budgets.Found:
		foot = "no " + r.Budgets.File + ": no budgets"
	case len(over) > 0:
		foot = "over budget: " + strings.Join(over, ", ")
	}
	d.Elem("text", foot, svg.A("x", 12), svg.A("y", height-18), svg.A("font-size", 12), svg.A("fill", colInk))
	return d.Bytes()
}

func writeSVG(path string, r *Results) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	if err := os.WriteFile(path, chartSVG(r), 0o644); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return nil
}
