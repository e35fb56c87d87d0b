package telemetry_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/extension/telemetry"
)

// Records as Lambda sends them (schema 2022-12-13), one per documented type.
var documented = []struct {
	name   string
	record string
	check  func(t *testing.T, body any)
}{
	{"platform.initStart", `{"initializationType":"on-demand","phase":"init","runtimeVersion":"python:3.12.v20","runtimeVersionArn":"arn:aws:lambda:us-east-1::runtime:abc","functionName":"fn","functionVersion":"$LATEST","instanceId":"i-1","instanceMaxMemory":128}`,
		func(t *testing.T, body any) {
			b := body.(*telemetry.InitStart)
			if b.InitializationType != "on-demand" || b.Phase != "init" || b.FunctionName != "fn" || b.InstanceMaxMemory != 128 {
				t.Errorf("%+v", b)
			}
		}},
	{"platform.initRuntimeDone", `{"initializationType":"on-demand","phase":"init","status":"success","spans":[{"name":"someTimeSpan","start":"2022-06-02T12:02:33.913Z","durationMs":70.5}]}`,
		func(t *testing.T, body any) {
			b := body.(*telemetry.InitRuntimeDone)
			if b.Status != "success" || len(b.Spans) != 1 || b.Spans[0].DurationMs != 70.5 {
				t.Errorf("%+v", b)
			}
		}},
	{"platform.initReport", `{"initializationType":"on-demand","phase":"init","status":"error","errorType":"Runtime.ExitError","metrics":{"durationMs":125.33}}`,
		func(t *testing.T, body any) {
			b := body.(*telemetry.InitReport)
			if b.Status != "error" || b.ErrorType != "Runtime.ExitError" || b.Metrics.DurationMs != 125.33 {
				t.Errorf("%+v", b)
			}
		}},
	{"platform.start", `{"requestId":"6d68ca91-49c9-448d-89b8-7ca3e6dc66aa","version":"$LATEST","tracing":{"spanId":"54565fb41ac79632","type":"X-Amzn-Trace-Id","value":"Root=1-62e900b2-710d76f009d6e7785905449a;Parent=0efbd19962d95b05;Sampled=1"}}`,
		func(t *testing.T, body any) {
			b := body.(*telemetry.Start)
			if b.RequestID != "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa" || b.Version != "$LATEST" || b.Tracing == nil || b.Tracing.SpanID != "54565fb41ac79632" {
				t.Errorf("%+v", b)
			}
		}},
	{"platform.runtimeDone", `{"requestId":"r1","status":"timeout","errorType":"Sandbox.Timedout","metrics":{"durationMs":3000.4,"producedBytes":0},"spans":[{"name":"responseLatency","start":"2022-08-02T12:01:23.521Z","durationMs":23.02}]}`,
		func(t *testing.T, body any) {
			b := body.(*telemetry.RuntimeDone)
			if b.RequestID != "r1" || b.Status != "timeout" || b.ErrorType != "Sandbox.Timedout" || b.Metrics == nil || b.Metrics.DurationMs != 3000.4 {
				t.Errorf("%+v", b)
			}
		}},
	{"platform.report", `{"requestId":"r1","status":"success","metrics":{"durationMs":12.5,"billedDurationMs":13,"memorySizeMB":128,"maxMemoryUsedMB":41,"initDurationMs":180.25}}`,
		func(t *testing.T, body any) {
			b := body.(*telemetry.Report)
			m := b.Metrics
			if b.RequestID != "r1" || b.Status != "success" || m.DurationMs != 12.5 || m.BilledDurationMs != 13 ||
				m.MemorySizeMB != 128 || m.MaxMemoryUsedMB != 41 || m.InitDurationMs == nil || *m.InitDurationMs != 180.25 {
				t.Errorf("%+v", b)
			}
		}},
	{"platform.restoreStart", `{"runtimeVersion":"java:21.v5","functionName":"fn","functionVersion":"3","instanceId":"i-2","instanceMaxMemory":1024}`,
		func(t *testing.T, body any) {
			if b := body.(*telemetry.RestoreStart); b.FunctionVersion != "3" || b.InstanceMaxMemory != 1024 {
				t.Errorf("%+v", b)
			}
		}},
	{"platform.restoreRuntimeDone", `{"status":"success"}`,
		func(t *testing.T, body any) {
			if b := body.(*telemetry.RestoreRuntimeDone); b.Status != "success" {
				t.Errorf("%+v", b)
			}
		}},
	{"platform.restoreReport", `{"status":"success","metrics":{"durationMs":15.2}}`,
		func(t *testing.T, body any) {
			if b := body.(*telemetry.RestoreReport); b.Metrics == nil || b.Metrics.DurationMs != 15.2 {
				t.Errorf("%+v", b)
			}
		}},
	{"platform.extension", `{"name":"my-ext","state":"Ready","events":["INVOKE","SHUTDOWN"]}`,
		func(t *testing.T, body any) {
			if b := body.(*telemetry.ExtensionState); b.Name != "my-ext" || b.State != "Ready" || len(b.Events) != 2 {
				t.Errorf("%+v", b)
			}
		}},
	{"platform.telemetrySubscription", `{"name":"my-ext","state":"Subscribed","types":["platform","function"]}`,
		func(t *testing.T, body any) {
			if b := body.(*telemetry.TelemetrySubscription); b.State != "Subscribed" || !reflect.DeepEqual(b.Types, []string{"platform", "function"}) {
				t.Errorf("%+v", b)
			}
		}},
	{"platform.logsDropped", `{"reason":"Consumer seems to have fallen behind as it has not acknowledged receipt of logs.","droppedRecords":123,"droppedBytes":12345}`,
		func(t *testing.T, body any) {
			if b := body.(*telemetry.LogsDropped); b.DroppedRecords != 123 || b.DroppedBytes != 12345 || !strings.Contains(b.Reason, "fallen behind") {
				t.Errorf("%+v", b)
			}
		}},
	{"function", `"2022-10-12T00:03:50.000Z\tr1\tINFO\tHello world\n"`,
		func(t *testing.T, body any) {
			if b := body.(*telemetry.Log); b.Message != "2022-10-12T00:03:50.000Z\tr1\tINFO\tHello world\n" || b.Object != nil {
				t.Errorf("%+v", b)
			}
		}},
	{"function", `{"timestamp":"2022-10-12T00:03:50.000Z","level":"ERROR","requestId":"r1","message":"order 42 failed","errorType":"Error"}`,
		func(t *testing.T, body any) {
			b := body.(*telemetry.Log)
			if b.Message != "order 42 failed" || b.Level != "ERROR" || b.RequestID != "r1" || !strings.Contains(string(b.Object), `"errorType":"Error"`) {
				t.Errorf("%+v", b)
			}
		}},
	{"function", `{"level":"INFO","message":{"order":42,"ok":true}}`,
		func(t *testing.T, body any) {
			if b := body.(*telemetry.Log); b.Message != `{"order":42,"ok":true}` || b.Level != "INFO" {
				t.Errorf("%+v", b)
			}
		}},
	{"extension", `"[my-ext] started\n"`,
		func(t *testing.T, body any) {
			if b := body.(*telemetry.Log); b.Message != "[my-ext] started\n" {
				t.Errorf("%+v", b)
			}
		}},
	{"extension", `{"time":"2022-10-12T00:03:50Z","level":"INFO","msg":"registered"}`,
		func(t *testing.T, body any) {
			if b := body.(*telemetry.Log); b.Level != "INFO" || b.Message != "" || b.Object == nil {
				t.Errorf("%+v", b)
			}
		}},
}

func batchOf(kind, record string) []byte {
	return []byte(`[{"time":"2022-10-12T00:03:50.123Z","type":"` + kind + `","record":` + record + `}]`)
}

func TestParseDocumentedTypes(t *testing.T) {
	for _, tt := range documented {
		t.Run(tt.name, func(t *testing.T) {
			records, err := telemetry.Parse(batchOf(tt.name, tt.record))
			if err != nil {
				t.Fatal(err)
			}
			if len(records) != 1 {
				t.Fatalf("got %d records", len(records))
			}
			rec := records[0]
			if rec.Type != tt.name || !rec.Time.Equal(time.Date(2022, 10, 12, 0, 3, 50, 123e6, time.UTC)) {
				t.Errorf("envelope = %q at %v", rec.Type, rec.Time)
			}
			if string(rec.Raw) != tt.record {
				t.Errorf("raw = %s, want the record as delivered", rec.Raw)
			}
			if rec.Body == nil {
				t.Fatal("no typed body")
			}
			tt.check(t, rec.Body)
		})
	}
}

func TestUnknownTypesAndShapesPassThrough(t *testing.T) {
	tests := []struct{ kind, record string }{
		{"platform.somethingNew", `{"a":1}`},
		{"platform.report", `"not an object"`},
		{"platform.report", `{"metrics":"wrong shape"}`},
		{"function", `42`},
		{"future", `null`},
	}
	for _, tt := range tests {
		t.Run(tt.kind+" "+tt.record, func(t *testing.T) {
			records, err := telemetry.Parse(batchOf(tt.kind, tt.record))
			if err != nil {
				t.Fatal(err)
			}
			if len(records) != 1 || records[0].Body != nil || records[0].Type != tt.kind || string(records[0].Raw) != tt.record {
				t.Errorf("records = %+v, want it untyped and untouched", records)
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	for _, body := range []string{
		``,
		`   `,
		`{"time":"x","type":"function","record":"a"}`,
		`[{"type":"function","record":"a"}`,
		`not json`,
		`[1, 2]`,
		`[{"time":"2022-10-12T00:03:50Z","record":"no type"}]`,
		`null`,
	} {
		t.Run(body, func(t *testing.T) {
			if _, err := telemetry.Parse([]byte(body)); !errors.Is(err, telemetry.ErrMalformedBatch) {
				t.Errorf("err = %v, want ErrMalformedBatch", err)
			}
		})
	}
}

func TestParseEmptyArrayAndOddTimes(t *testing.T) {
	records, err := telemetry.Parse([]byte(" [] "))
	if err != nil || len(records) != 0 {
		t.Fatalf("empty array: %v, %v", records, err)
	}
	records, err = telemetry.Parse([]byte(`[{"time":"yesterday","type":"function","record":"a"},{"type":"function","record":"b"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 2 || !records[0].Time.IsZero() || records[1].Body.(*telemetry.Log).Message != "b" {
		t.Errorf("records = %+v, want both kept with zero times", records)
	}
}

func TestRecordMarshalsAsDelivered(t *testing.T) {
	in := `[{"time":"2022-10-12T00:03:50.123Z","type":"platform.report","record":{"requestId":"r1","metrics":{"durationMs":1}}}]`
	records, err := telemetry.Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(records)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Errorf("marshalled\n%s\nwant\n%s", out, in)
	}
}
