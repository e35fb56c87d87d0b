package emulator

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"
)

// svgElements parses an SVG document (failing the test when it is not well-formed
// XML) and returns its elements' names and attributes.
func svgElements(t *testing.T, data []byte) []xml.StartElement {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(data))
	var elems []xml.StartElement
	depth := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, data)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 && (tok.Name.Local != "svg" || tok.Name.Space != "http://www.w3.org/2000/svg") {
				t.Fatalf("root element %v, want svg in the SVG namespace", tok.Name)
			}
			depth++
			elems = append(elems, tok.Copy())
		case xml.EndElement:
			depth--
		}
	}
	if depth != 0 || len(elems) == 0 {
		t.Fatalf("unbalanced or empty document (depth %d)", depth)
	}
	return elems
}

func attr(e xml.StartElement, name string) string {
	for _, a := range e.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// byClass counts elements per class (an element may have several).
func byClass(elems []xml.StartElement) map[string]int {
	n := map[string]int{}
	for _, e := range elems {
		for _, c := range strings.Fields(attr(e, "class")) {
			n[c]++
		}
	}
	return n
}

func lanesOf(elems []xml.StartElement) []string {
	var names []string
	for _, e := range elems {
		if attr(e, "class") == "lane" {
			names = append(names, attr(e, "data-lane"))
		}
	}
	return names
}

func sampleReport() *Report {
	ms := time.Millisecond
	return &Report{
		Started:   time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC),
		Extension: `odd<name>&"quoted"`,
		InitDone:  true, Init: 8 * ms, Registered: true,
		Invokes: []Invoke{
			{RequestID: "r1", At: 8 * ms, Extension: ms / 2, Duration: 20 * ms, BackInNext: true},
			{RequestID: "r2", At: 130 * ms, Extension: ms / 2, Duration: 20 * ms, BackInNext: true},
			{RequestID: "r3<&>", At: 250 * ms, Extension: 30 * ms, Duration: 30 * ms, BackInNext: true},
		},
		Frozen: []Window{
			{From: 30 * ms, To: 128 * ms},
			{From: 152 * ms, To: 248 * ms},
		},
		Shutdown: &Shutdown{Reason: "spindown", At: 300 * ms, Deadline: 2 * time.Second, Duration: 150 * ms, BeforeDeadline: true},
		Exited:   true, ExitAt: 450 * ms,
		Outcome: OutcomeClean,
		Deliveries: []Delivery{
			{Window: Window{From: 29 * ms, To: 30 * ms}, Phase: PhaseInvoke, Records: 10, Accepted: 10},
		},
		Logs: []LogLine{
			{At: 5 * ms, Level: "INFO", Msg: "registered"},
			{At: 449 * ms, Level: "INFO", Msg: "records", Fields: []Field{str("offered", "3"), str("flushed", "3")}},
		},
		Timeline: []Entry{
			{At: 0, What: "start"}, {At: 5 * ms, What: "registered"},
			{At: 7 * ms, What: "telemetry", Detail: "subscribed platform to http://sandbox.localdomain:4243/<x>"},
		},
	}
}

func TestSVGShowsEachLaneAndInvocation(t *testing.T) {
	r := sampleReport()
	elems := svgElements(t, r.SVG())

	if got := lanesOf(elems); strings.Join(got, ",") != "Lambda,extension,telemetry" {
		t.Errorf("lanes %q", got)
	}
	n := byClass(elems)
	want := map[string]int{
		"invocation": 3, "ext-invoke": 3, "init": 1, "freeze": 2, "shutdown": 1, "deadline": 1,
		"ext-shutdown": 1, "delivery": 1, "subscribe": 1, "log": 2, "exit": 1,
	}
	for class, count := range want {
		if n[class] != count {
			t.Errorf("%d elements of class %q, want %d", n[class], class, count)
		}
	}
	if n["fault"] != 0 || n["error-report"] != 0 {
		t.Errorf("fault or error report drawn for a clean run: %v", n)
	}
	// The names go in escaped, never as markup.
	if data := string(r.SVG()); !strings.Contains(data, "odd&lt;name&gt;&amp;") {
		t.Errorf("the extension's name is not escaped in:\n%s", data)
	}
}

func TestSVGOfAFailedRun(t *testing.T) {
	r := sampleReport()
	fault := 10 * time.Millisecond
	r.Fault, r.FaultAt = FaultNext500, &fault
	r.Invokes = r.Invokes[:1]
	r.Invokes[0].BackInNext = false
	r.Shutdown = nil
	r.ErrorReports = []ErrorReport{
		{Op: "exit/error", Type: "Extension.RuntimeError", Message: "next: status 500", At: 12 * time.Millisecond},
	}
	r.Outcome, r.ExitCode = OutcomeExitError, 1

	n := byClass(svgElements(t, r.SVG()))

	if n["invocation"] != 1 || n["fault"] != 1 || n["error-report"] != 1 || n["shutdown"] != 0 || n["deadline"] != 0 {
		t.Errorf("classes %v", n)
	}
}

func TestSVGOfARealRun(t *testing.T) {
	t.Parallel()
	r, _ := runHelper(t, "json-logs", Config{Invokes: 3, Spacing: 20 * time.Millisecond, Freeze: true, Logs: LogsRaw})
	elems := svgElements(t, r.SVG())

	n := byClass(elems)
	if n["invocation"] != 3 || n["shutdown"] != 1 || n["deadline"] != 1 || n["log"] != 4 {
		t.Errorf("classes %v", n)
	}
	if n["freeze"] != len(r.Frozen) { // two on unix, none elsewhere
		t.Errorf("%d freeze windows drawn, %d in the report", n["freeze"], len(r.Frozen))
	}
}
