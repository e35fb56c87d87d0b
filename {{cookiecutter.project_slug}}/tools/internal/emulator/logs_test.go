package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// jsonLogsHelper is the helper extension of mode "json-logs": it logs JSON lines as
// log/slog's JSON handler does (and one line that is not JSON), around a normal
// lifecycle.
func jsonLogsHelper(call func(method, path, id string, header map[string]string, body string) (*http.Response, []byte), register func(name, events string) string) int {
	logLine := func(level, msg string, kv ...any) {
		m := map[string]any{"time": time.Now().Format(time.RFC3339Nano), "level": level, "msg": msg}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		b, _ := json.Marshal(m)
		os.Stdout.Write(append(b, '\n'))
	}
	id := register(filepathBase(os.Args[0]), `["INVOKE","SHUTDOWN"]`)
	logLine("INFO", "registered", "name", filepathBase(os.Args[0]))
	fmt.Fprintln(os.Stderr, "plain text, not JSON")
	logLine("INFO", "initialised")
	invokes := 0
	for {
		resp, data := call("GET", "/event/next", id, nil, "")
		if resp.StatusCode != http.StatusOK {
			return 1
		}
		var ev struct{ EventType string }
		if json.Unmarshal(data, &ev) != nil {
			return 1
		}
		if ev.EventType == "SHUTDOWN" {
			logLine("WARN", "shutdown complete", "reason", "spindown")
			logLine("INFO", "records", "offered", invokes, "flushed", invokes, "failed", 0, "dropped", 0, "unflushed", 0)
			return 0
		}
		invokes++
		logLine("DEBUG", "invoke", "n", invokes)
	}
}

// str and num make the fields of a string and of another JSON value.
func str(key, value string) Field { return Field{Key: key, Value: value} }
func num(key, value string) Field { return Field{Key: key, Value: value, JSON: true} }

func filepathBase(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

func TestParseLogLine(t *testing.T) {
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	arrived := start.Add(time.Second)
	tests := []struct {
		name string
		line string
		ok   bool
		want LogLine
	}{
		{
			name: "slog JSON, fields in order",
			line: `{"time":"2026-05-01T12:00:00.0123Z","level":"INFO","msg":"registered","name":"order-shipper","version":"v1.2.0","n":3,"types":["a","b"]}`,
			ok:   true,
			want: LogLine{At: 12300 * time.Microsecond, Level: "INFO", Msg: "registered", Fields: []Field{
				str("name", "order-shipper"), str("version", "v1.2.0"), num("n", "3"), num("types", `["a","b"]`),
			}},
		},
		{
			name: "objects spread into their keys, arrays kept whole",
			line: `{"level":"INFO","msg":"invocation","record":{"id":"r1","cold":true,"deep":{"a":{"b":1}}},"ids":[1,2]}`,
			ok:   true,
			want: LogLine{At: time.Second, Level: "INFO", Msg: "invocation", Fields: []Field{
				str("record.id", "r1"), num("record.cold", "true"), num("record.deep.a", `{"b":1}`), num("ids", "[1,2]"),
			}},
		},
		{
			name: "no time: the arrival",
			line: `{"level":"WARN","msg":"dropped"}`,
			ok:   true,
			want: LogLine{At: time.Second, Level: "WARN", Msg: "dropped"},
		},
		{name: "plain text", line: "panic: boom", ok: false},
		{name: "JSON without msg", line: `{"level":"INFO"}`, ok: false},
		{name: "not an object", line: `["msg"]`, ok: false},
		{name: "cut short", line: `{"msg":"records","offered":`, ok: false},
		{name: "two objects", line: `{"msg":"a"} {"msg":"b"}`, ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseLogLine([]byte(tt.line), start, arrived)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v (%+v)", ok, tt.ok, got)
			}
			if !ok {
				return
			}
			if got.At != tt.want.At || got.Level != tt.want.Level || got.Msg != tt.want.Msg || !slices.Equal(got.Fields, tt.want.Fields) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestReadable(t *testing.T) {
	tests := []struct {
		line LogLine
		want string
	}{
		{
			LogLine{At: 12300 * time.Microsecond, Level: "INFO", Msg: "registered", Fields: []Field{str("name", "order-shipper"), str("version", "v1.2.0")}},
			"   +12.3ms  INFO  registered name=order-shipper version=v1.2.0",
		},
		{
			LogLine{At: 1500 * time.Millisecond, Level: "WARN", Msg: "records", Fields: []Field{num("offered", "5"), str("reason", "queue full"), str("empty", "")}},
			`   +1.500s  WARN  records offered=5 reason="queue full" empty=""`,
		},
		{
			LogLine{At: 40 * time.Microsecond, Level: "DEBUG", Msg: "batch", Fields: []Field{num("records", `[{"id":"`+strings.Repeat("x", 200)+`"}]`)}},
			`     +40µs  DEBUG batch records=[{"id":"` + strings.Repeat("x", maxFieldValue-9) + "…",
		},
	}
	for _, tt := range tests {
		if got := tt.line.Readable(); got != tt.want {
			t.Errorf("Readable() =\n%q, want\n%q", got, tt.want)
		}
	}
}

func TestLogWriter(t *testing.T) {
	input := `{"time":"2026-05-01T12:00:00.005Z","level":"INFO","msg":"registered","name":"x"}` + "\n" +
		"plain text\n" +
		`{"time":"2026-05-01T12:00:00.006Z","level":"INFO","msg":"demo line","k":"v"}` + "\n" +
		`{"time":"2026-05-01T12:00:00.007Z","level":"ERROR","msg":"flush failed"}` + "\n" +
		`{"time":"2026-05-01T12:00:00.008Z","level":"INFO","msg":"records","offered":1,"flushed":1}` + "\n" +
		"no newline at the end"
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, format := range []LogFormat{LogsRaw, LogsReadable} {
		t.Run(string(format), func(t *testing.T) {
			var out bytes.Buffer
			var kept []LogLine
			w := newLogWriter(&out, format, func(l LogLine) { kept = append(kept, l) })
			w.start = start
			w.now = func() time.Time { return start }
			// Byte by byte: lines are put together across writes.
			for i := range len(input) {
				if n, err := w.Write([]byte{input[i]}); n != 1 || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			w.Flush()
			want := input
			if format == LogsReadable {
				want = "    +5.0ms  INFO  registered name=x\n" +
					"plain text\n" +
					"    +6.0ms  INFO  demo line k=v\n" +
					"    +7.0ms  ERROR flush failed\n" +
					"    +8.0ms  INFO  records offered=1 flushed=1\n" +
					"no newline at the end\n"
			}
			if out.String() != want {
				t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
			}
			var msgs []string
			for _, l := range kept {
				msgs = append(msgs, l.Msg)
			}
			// Lifecycle lines and errors, not the processor's other lines.
			if !slices.Equal(msgs, []string{"registered", "flush failed", "records"}) {
				t.Errorf("kept %q", msgs)
			}
			if got := kept[2].Field("flushed"); got != "1" {
				t.Errorf("records flushed = %q", got)
			}
		})
	}
}

func TestRunReadsTheLogsAndTellsEachEvent(t *testing.T) {
	t.Parallel()
	var live []Entry
	r, out := runHelper(t, "json-logs", Config{
		Invokes: 2,
		Logs:    LogsReadable,
		OnEvent: func(e Entry) { live = append(live, e) }, // called under the emulator's lock
	})
	if !r.OK() || r.Outcome != OutcomeClean {
		t.Fatalf("outcome %s, violations %v", r.Outcome, r.Violations)
	}
	// The live events are the timeline, in order.
	if !slices.Equal(live, r.Timeline) {
		t.Errorf("OnEvent saw %d entries, the timeline has %d", len(live), len(r.Timeline))
	}
	var msgs []string
	for _, l := range r.Logs {
		msgs = append(msgs, l.Msg)
	}
	if !slices.Equal(msgs, []string{"registered", "initialised", "shutdown complete", "records"}) {
		t.Errorf("kept %q", msgs)
	}
	for _, want := range []string{"  INFO  registered name=", "  DEBUG invoke n=2\n", "  WARN  shutdown complete reason=spindown\n", "\nplain text, not JSON\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not contain %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, `"msg"`) {
		t.Errorf("a JSON line passed unreadable:\n%s", out)
	}
}

func TestRunRefusesAnUnknownLogFormat(t *testing.T) {
	t.Parallel()
	if _, err := Run(t.Context(), Config{Binary: os.Args[0], Logs: "pretty"}); err == nil || !strings.Contains(err.Error(), "log format") {
		t.Errorf("Run = %v, want an unknown log format error", err)
	}
}
