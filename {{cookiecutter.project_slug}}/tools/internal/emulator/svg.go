package emulator

// The run as a picture (tools/emulator -svg; make local writes build/local/timeline.svg):
// three lanes on the timeline's clock. Lambda: init, each invocation, SHUTDOWN and its
// deadline, a fault. The extension: its process, the time it held each INVOKE before
// calling next again, SHUTDOWN to exit, the idle windows it spent frozen (-freeze),
// its lifecycle log lines (with the "records" line: what it flushed) and error
// reports. Telemetry: the subscription and each delivery of Lambda's buffered records
// to the extension's listener (a flush of the Telemetry API's buffer).
//
// Every shape carries a class (lane, init, invocation, ext-invoke, ext-shutdown,
// freeze, shutdown, deadline, fault, delivery, subscribe, log, error-report, exit)
// and a tooltip; tests find them by class.

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"{{ cookiecutter.go_module }}/tools/internal/svg"
)

// Colours of the picture (named so no colour reads like a number).
const (
	colInit     = "#a0cbe8"
	colInvoke   = "#4e79a7"
	colExt      = "#f28e2b"
	colShutdown = "#b07aa1"
	colFreeze   = "#bab0ac"
	colDelivery = "#59a14f"
	colDeadline = "#e15759"
	colLog      = "#5f5f5f"
	colLane     = "#f4f4f4"
	colText     = "#2b2b2b"
)

// Geometry, in pixels.
const (
	svgWidth   = 1000.0
	svgLeft    = 110.0 // lane names
	svgRight   = 30.0
	svgTop     = 62.0
	laneHeight = 70.0
	barY       = 26.0 // bar offset in a lane
	barHeight  = 18.0
	minSpan    = 2.0 // the narrowest a span is drawn, so a 50µs INVOKE still shows
)

// lanes are the picture's lanes, top to bottom.
var lanes = []string{"Lambda", "extension", "telemetry"}

// timelinePic is the picture being drawn.
type timelinePic struct {
	d      *svg.Doc
	span   time.Duration // time at the right edge of the plot
	labels [][2][]span   // per lane and row, the x ranges labels took
}

// span is a range of x taken by a label.
type span struct{ from, to float64 }

func (p *timelinePic) x(at time.Duration) float64 {
	if at < 0 {
		at = 0
	}
	return svgLeft + float64(at)/float64(p.span)*(svgWidth-svgLeft-svgRight)
}

func laneTop(lane int) float64 { return svgTop + float64(lane)*laneHeight }

// label writes text starting at x in a lane (ending at x near the right edge), above
// the bar (row 0) or below it (row 1), whichever is free; it leaves it out when both
// are taken (the shape's tooltip stays).
func (p *timelinePic) label(lane int, x float64, text string) {
	w := svg.TextWidth(text, 11)
	from, anchor := x, "start"
	if x+w > svgWidth-2 {
		from, anchor = x-w, "end"
	}
	rows := [2]float64{laneTop(lane) + barY - 6, laneTop(lane) + barY + barHeight + 14}
	for row := range rows {
		if p.free(lane, row, from, from+w) {
			p.labels[lane][row] = append(p.labels[lane][row], span{from, from + w})
			p.d.Elem("text", text, svg.A("x", x), svg.A("y", rows[row]), svg.A("font-size", 11),
				svg.A("text-anchor", anchor), svg.A("fill", colText))
			return
		}
	}
}

func (p *timelinePic) free(lane, row int, from, to float64) bool {
	for _, s := range p.labels[lane][row] {
		if from < s.to+4 && to > s.from-4 {
			return false
		}
	}
	return true
}

// bar draws a span of a lane.
func (p *timelinePic) bar(lane int, from, to time.Duration, class, fill, tip string) float64 {
	x0, x1 := p.x(from), p.x(to)
	w := math.Max(x1-x0, minSpan)
	p.d.Shape("rect", tip, svg.A("class", class), svg.A("x", x0), svg.A("y", laneTop(lane)+barY),
		svg.A("width", w), svg.A("height", barHeight), svg.A("fill", fill))
	return w
}

// marker draws a small diamond on a lane at at.
func (p *timelinePic) marker(lane int, at time.Duration, class, fill, tip string) {
	x, y := p.x(at), laneTop(lane)+barY+barHeight/2
	pts := fmt.Sprintf("%s,%s %s,%s %s,%s %s,%s", svg.Num(x), svg.Num(y-6), svg.Num(x+5), svg.Num(y), svg.Num(x), svg.Num(y+6), svg.Num(x-5), svg.Num(y))
	p.d.Shape("polygon", tip, svg.A("class", class), svg.A("points", pts), svg.A("fill", fill), svg.A("stroke", "white"), svg.A("stroke-width", 1))
}

// vline draws a line across every lane at at.
func (p *timelinePic) vline(at time.Duration, class, stroke, dash, tip string) {
	x := p.x(at)
	attrs := []svg.Attr{svg.A("class", class), svg.A("x1", x), svg.A("x2", x), svg.A("y1", svgTop-6),
		svg.A("y2", laneTop(len(lanes))), svg.A("stroke", stroke), svg.A("stroke-width", 2)}
	if dash != "" {
		attrs = append(attrs, svg.A("stroke-dasharray", dash))
	}
	p.d.Shape("line", tip, attrs...)
}

// end is the latest time the picture must show, and the SHUTDOWN deadline when it is
// so far past everything else that it is drawn at the right edge instead.
func (r *Report) svgEnd() (end time.Duration, offscale bool) {
	for _, e := range r.Timeline {
		end = max(end, e.At)
	}
	if r.Exited {
		end = max(end, r.ExitAt)
	}
	for _, d := range r.Deliveries {
		end = max(end, d.To)
	}
	for _, l := range r.Logs {
		end = max(end, l.At)
	}
	if s := r.Shutdown; s != nil {
		deadline := s.At + s.Deadline
		// A 2s deadline after a 300ms run would squeeze the run into a corner: show it
		// to scale when it is at most three times the rest.
		if deadline <= 3*max(end, time.Millisecond) {
			end = max(end, deadline)
		} else {
			offscale = true
		}
	}
	return max(end, time.Millisecond), offscale
}

// SVG draws the run as an SVG document (see svg.go's comment for what it shows).
func (r *Report) SVG() []byte {
	end, offscale := r.svgEnd()
	p := &timelinePic{span: end + end/25, labels: make([][2][]span, len(lanes))}
	axisY := laneTop(len(lanes)) + 8
	legendY := axisY + 54
	height := legendY + 30

	fault := string(r.Fault)
	if fault == "" {
		fault = "none"
	}
	title := fmt.Sprintf("%s under the Lambda emulator: outcome %s", r.Extension, r.Outcome)
	p.d = svg.New(svgWidth, height, title, "")
	d := p.d
	d.Elem("rect", "", svg.A("width", svgWidth), svg.A("height", height), svg.A("fill", "white"))
	d.Elem("text", title, svg.A("x", 12), svg.A("y", 22), svg.A("font-size", 15), svg.A("font-weight", "bold"), svg.A("fill", colText))
	sub := fmt.Sprintf("fault %s · %s · exit %s · %s", fault, plural(len(r.Invokes), "INVOKE"), r.exitText(), plural(len(r.Violations), "violation"))
	if !r.Started.IsZero() {
		sub += " · started " + r.Started.UTC().Format("2006-01-02 15:04:05.000 UTC")
	}
	d.Elem("text", sub, svg.A("x", 12), svg.A("y", 42), svg.A("font-size", 12), svg.A("fill", colText))

	for i, name := range lanes {
		y := laneTop(i)
		d.Shape("rect", "", svg.A("class", "lane"), svg.A("data-lane", name), svg.A("x", svgLeft), svg.A("y", y+4),
			svg.A("width", svgWidth-svgLeft-svgRight), svg.A("height", laneHeight-8), svg.A("fill", colLane))
		d.Elem("text", name, svg.A("class", "lane-name"), svg.A("x", 12), svg.A("y", y+barY+barHeight-4), svg.A("font-size", 13), svg.A("font-weight", "bold"), svg.A("fill", colText))
	}

	r.drawLambda(p)
	r.drawExtension(p)
	r.drawTelemetry(p)
	r.drawAcross(p, offscale)
	p.axis(axisY)
	legend(d, legendY)
	return d.Bytes()
}

func (r *Report) exitText() string {
	switch {
	case !r.Exited:
		return "none"
	case r.Signal != "":
		return "signal " + r.Signal
	default:
		return "code " + strconv.Itoa(r.ExitCode)
	}
}

func (r *Report) drawLambda(p *timelinePic) {
	const lane = 0
	if r.InitDone {
		p.bar(lane, 0, r.Init, "init", colInit, "init: start -> first /event/next, "+fmtDur(r.Init))
		p.label(lane, p.x(0), "init "+fmtDur(r.Init))
	}
	for i, inv := range r.Invokes {
		end := inv.At + inv.Duration
		if !inv.BackInNext {
			end = r.ExitAt
		}
		tip := fmt.Sprintf("INVOKE %d, request %s, at +%s: the invocation took %s (the extension back in next after %s)",
			i+1, inv.RequestID, fmtDur(inv.At), fmtDur(inv.Duration), fmtDur(inv.Extension))
		if !inv.BackInNext {
			tip = fmt.Sprintf("INVOKE %d, request %s, at +%s: the extension never came back to next", i+1, inv.RequestID, fmtDur(inv.At))
		}
		p.bar(lane, inv.At, end, "invocation", colInvoke, tip)
		p.label(lane, p.x(inv.At), fmt.Sprintf("INVOKE %d", i+1))
	}
}

func (r *Report) drawExtension(p *timelinePic) {
	const lane = 1
	d := p.d
	y := laneTop(lane) + barY + barHeight/2
	last := p.span
	if r.Exited {
		last = r.ExitAt
	}
	d.Shape("line", "the extension's process", svg.A("class", "process"), svg.A("x1", p.x(0)), svg.A("x2", p.x(last)),
		svg.A("y1", y), svg.A("y2", y), svg.A("stroke", colLog), svg.A("stroke-width", 1.5))
	for _, w := range r.Frozen {
		d.Shape("rect", fmt.Sprintf("frozen (SIGSTOP) while idle, +%s to +%s", fmtDur(w.From), fmtDur(w.To)),
			svg.A("class", "freeze"), svg.A("x", p.x(w.From)), svg.A("y", laneTop(lane)+barY-4),
			svg.A("width", math.Max(p.x(w.To)-p.x(w.From), minSpan)), svg.A("height", barHeight+8),
			svg.A("fill", colFreeze), svg.A("fill-opacity", 0.6))
		p.label(lane, p.x(w.From), "frozen")
	}
	for i, inv := range r.Invokes {
		end := inv.At + inv.Extension
		if !inv.BackInNext {
			end = r.ExitAt
		}
		p.bar(lane, inv.At, end, "ext-invoke", colExt, fmt.Sprintf("INVOKE %d: the extension called next again after %s", i+1, fmtDur(inv.Extension)))
	}
	if s := r.Shutdown; s != nil {
		end := s.At + s.Duration
		if s.Duration == 0 {
			end = r.ExitAt
		}
		p.bar(lane, s.At, end, "ext-shutdown", colShutdown, fmt.Sprintf("SHUTDOWN to exit: %s", fmtDur(end-s.At)))
	}
	// Error reports first: their labels matter most.
	for _, e := range r.ErrorReports {
		p.marker(lane, e.At, "error-report", colDeadline, fmt.Sprintf("%s: %s: %s", e.Op, e.Type, e.Message))
		p.label(lane, p.x(e.At), e.Op)
	}
	for _, l := range r.Logs {
		class, fill := "log", colLog
		if l.Level == "WARN" || l.Level == "ERROR" {
			class, fill = "log log-warn", colDeadline
		}
		p.marker(lane, l.At, class, fill, strings.TrimSpace(l.Readable()))
		if text := logLabel(l); text != "" {
			p.label(lane, p.x(l.At), text)
		}
	}
	if r.Exited {
		x := p.x(r.ExitAt)
		d.Shape("circle", "exit, "+r.exitText()+" at +"+fmtDur(r.ExitAt), svg.A("class", "exit"), svg.A("cx", x), svg.A("cy", y), svg.A("r", 5), svg.A("fill", colText))
		p.label(lane, x+6, "exit "+r.exitText())
	}
}

// logLabel is the short label of a lifecycle log line, "" for the others.
func logLabel(l LogLine) string {
	switch l.Msg {
	case "records":
		return fmt.Sprintf("records: %s/%s flushed", l.Field("flushed"), l.Field("offered"))
	case "registered", "initialised", "shutdown complete":
		return l.Msg
	}
	return ""
}

func (r *Report) drawTelemetry(p *timelinePic) {
	const lane = 2
	tel := r.Telemetry
	for _, e := range r.Timeline {
		if e.What == "telemetry" && strings.HasPrefix(e.Detail, "subscri") {
			p.marker(lane, e.At, "subscribe", colDelivery, e.Detail)
			p.label(lane, p.x(e.At), "subscribed")
		}
	}
	for _, dl := range r.Deliveries {
		tip := fmt.Sprintf("%d records delivered (%s), %d taken, +%s to +%s", dl.Records, dl.Phase, dl.Accepted, fmtDur(dl.From), fmtDur(dl.To))
		p.bar(lane, dl.From, dl.To, "delivery", colDelivery, tip)
		p.label(lane, p.x(dl.From), fmt.Sprintf("%d rec", dl.Records))
	}
	if !tel.Subscribed && tel.Subscriptions == 0 {
		p.label(lane, svgLeft+8, "no subscription")
	}
}

// drawAcross draws what crosses every lane: SHUTDOWN, its deadline, the fault.
func (r *Report) drawAcross(p *timelinePic, offscale bool) {
	d := p.d
	if r.FaultAt != nil {
		p.vline(*r.FaultAt, "fault", colDeadline, "2,3", "fault "+string(r.Fault)+" at +"+fmtDur(*r.FaultAt))
		p.label(0, p.x(*r.FaultAt)+3, "fault "+string(r.Fault))
	}
	s := r.Shutdown
	if s == nil {
		return
	}
	p.vline(s.At, "shutdown", colShutdown, "", fmt.Sprintf("SHUTDOWN (%s) at +%s", s.Reason, fmtDur(s.At)))
	p.label(0, p.x(s.At)+3, "SHUTDOWN")
	deadline := s.At + s.Deadline
	tip := fmt.Sprintf("SHUTDOWN deadline at +%s (%s after SHUTDOWN)", fmtDur(deadline), fmtDur(s.Deadline))
	if !offscale {
		p.vline(deadline, "deadline", colDeadline, "6,4", tip)
		p.label(0, p.x(deadline)+3, "deadline")
		return
	}
	// Off the scale: an arrow at the right edge says where it is.
	x := svgWidth - svgRight + 4
	y := laneTop(0) + barY + barHeight/2
	pts := fmt.Sprintf("%s,%s %s,%s %s,%s", svg.Num(x), svg.Num(y-7), svg.Num(x+12), svg.Num(y), svg.Num(x), svg.Num(y+7))
	d.Shape("polygon", tip, svg.A("class", "deadline"), svg.A("points", pts), svg.A("fill", colDeadline))
	text := "deadline at +" + fmtDur(deadline) + " →"
	d.Elem("text", text, svg.A("x", svgWidth-svgRight), svg.A("y", laneTop(0)+barY-6), svg.A("text-anchor", "end"),
		svg.A("font-size", 11), svg.A("fill", colDeadline))
}

// axis draws the time axis under the lanes.
func (p *timelinePic) axis(y float64) {
	d := p.d
	d.Elem("line", "", svg.A("x1", svgLeft), svg.A("x2", svgWidth-svgRight), svg.A("y1", y), svg.A("y2", y), svg.A("stroke", colText))
	step := niceStep(p.span / 8)
	for t := time.Duration(0); t <= p.span; t += step {
		x := p.x(t)
		d.Elem("line", "", svg.A("x1", x), svg.A("x2", x), svg.A("y1", y), svg.A("y2", y+5), svg.A("stroke", colText))
		d.Elem("text", fmtDur(t), svg.A("x", x), svg.A("y", y+18), svg.A("font-size", 10), svg.A("text-anchor", "middle"), svg.A("fill", colText))
	}
	d.Elem("text", "time since the extension started", svg.A("x", svgWidth-svgRight), svg.A("y", y+32), svg.A("font-size", 10), svg.A("text-anchor", "end"), svg.A("fill", colText))
}

// niceStep rounds d up to 1, 2 or 5 times a power of ten (at least 1µs).
func niceStep(d time.Duration) time.Duration {
	step := time.Microsecond
	for {
		for _, m := range []time.Duration{1, 2, 5} {
			if m*step >= d {
				return m * step
			}
		}
		step *= 10
	}
}

func legend(d *svg.Doc, y float64) {
	items := []struct{ fill, text string }{
		{colInit, "init"}, {colInvoke, "invocation"}, {colExt, "extension busy on INVOKE"},
		{colShutdown, "SHUTDOWN to exit"}, {colFreeze, "frozen"}, {colDelivery, "telemetry delivery"},
		{colLog, "log line"}, {colDeadline, "deadline, fault, error"},
	}
	x := svgLeft
	for _, it := range items {
		d.Elem("rect", "", svg.A("x", x), svg.A("y", y-10), svg.A("width", 12), svg.A("height", 12), svg.A("fill", it.fill))
		d.Elem("text", it.text, svg.A("x", x+16), svg.A("y", y), svg.A("font-size", 11), svg.A("fill", colText))
		x += 16 + svg.TextWidth(it.text, 11) + 14
	}
}

// WriteSVG writes the picture to path, creating its directory.
func (r *Report) WriteSVG(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("timeline svg: %w", err)
	}
	if err := os.WriteFile(path, r.SVG(), 0o644); err != nil {
		return fmt.Errorf("timeline svg: %w", err)
	}
	return nil
}

// plural is "1 INVOKE", "3 INVOKEs".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}
