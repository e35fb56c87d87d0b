package processor

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"{{ cookiecutter.go_module }}/extension/telemetry"
)

// sampleBatch is what Lambda delivers around one cold invocation, plus records the
// default processing leaves alone.
const sampleBatch = `[
{"time":"2024-05-01T10:00:00.000Z","type":"platform.initStart","record":{"initializationType":"on-demand","phase":"init"}},
{"time":"2024-05-01T10:00:00.200Z","type":"platform.start","record":{"requestId":"r1","version":"$LATEST"}},
{"time":"2024-05-01T10:00:00.210Z","type":"function","record":"2024-05-01T10:00:00.210Z\tr1\tINFO\tprocessing order 42\n"},
{"time":"2024-05-01T10:00:00.220Z","type":"function","record":{"timestamp":"2024-05-01T10:00:00.220Z","level":"ERROR","requestId":"r1","message":"order 42 failed"}},
{"time":"2024-05-01T10:00:00.230Z","type":"extension","record":"{\"msg\":\"an extension's own line\"}"},
{"time":"2024-05-01T10:00:00.240Z","type":"platform.runtimeDone","record":{"requestId":"r1","status":"success","metrics":{"durationMs":30.5}}},
{"time":"2024-05-01T10:00:00.250Z","type":"platform.report","record":{"requestId":"r1","status":"success","metrics":{"durationMs":31.25,"billedDurationMs":32,"memorySizeMB":128,"maxMemoryUsedMB":45,"initDurationMs":180.5}}},
{"time":"2024-05-01T10:00:01.250Z","type":"platform.report","record":{"requestId":"r2","status":"timeout","errorType":"Sandbox.Timedout","metrics":{"durationMs":3000,"billedDurationMs":3000,"memorySizeMB":128,"maxMemoryUsedMB":46}}},
{"time":"2024-05-01T10:00:01.300Z","type":"platform.logsDropped","record":{"reason":"Consumer seems to have fallen behind","droppedRecords":7,"droppedBytes":700}},
{"time":"2024-05-01T10:00:01.400Z","type":"platform.somethingNew","record":{"a":1}}
]`

func parseSample(t *testing.T) []telemetry.Record {
	t.Helper()
	records, err := telemetry.Parse([]byte(sampleBatch))
	if err != nil {
		t.Fatal(err)
	}
	return records
}

// logLines decodes JSON log lines into maps.
func logLines(t *testing.T, logs *bytes.Buffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if line == "" {
			continue
		}
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		lines = append(lines, entry)
	}
	return lines
}

func TestDefaultTelemetryHandling(t *testing.T) {
	var logs bytes.Buffer
	p := &Processor{log: slog.New(slog.NewJSONHandler(&logs, nil))}
	for _, rec := range parseSample(t) {
		p.handleTelemetry(rec)
	}

	var got []string
	for _, line := range logLines(t, &logs) {
		got = append(got, line["msg"].(string))
		switch line["msg"] {
		case "invocation report":
			if line["request_id"] == "r1" {
				want := map[string]any{"status": "success", "duration_ms": 31.25, "billed_duration_ms": 32.0,
					"memory_size_mb": 128.0, "max_memory_used_mb": 45.0, "init_duration_ms": 180.5}
				for k, v := range want {
					if line[k] != v {
						t.Errorf("report r1: %s = %v, want %v", k, line[k], v)
					}
				}
			} else if _, cold := line["init_duration_ms"]; cold || line["error_type"] != "Sandbox.Timedout" {
				t.Errorf("warm report: %v", line)
			}
		case "function log":
			if line["request_id"] == "r1" && (line["message"] != "order 42 failed" || line["function_level"] != "ERROR") {
				t.Errorf("JSON-format line: %v", line)
			}
			if line["request_id"] == nil && line["message"] != "2024-05-01T10:00:00.210Z\tr1\tINFO\tprocessing order 42\n" {
				t.Errorf("text line: %v", line)
			}
		case "Lambda dropped telemetry records":
			if line["dropped_records"] != 7.0 || line["level"] != "WARN" {
				t.Errorf("drop line: %v", line)
			}
		}
	}
	want := "function log,function log,invocation report,invocation report,Lambda dropped telemetry records"
	if strings.Join(got, ",") != want {
		t.Errorf("log lines:\n%s\nwant (no line for extension, start, runtimeDone, unknown records):\n%s", strings.Join(got, ","), want)
	}
}
