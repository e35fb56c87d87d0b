package telemetry_test

import (
	"encoding/json"
	"errors"
	"testing"

	"{{ cookiecutter.go_module }}/extension/telemetry"
)

// FuzzParse: any body Lambda (or anything else) posts parses into records or is
// refused as malformed; it never panics, and every record keeps its raw JSON.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`[{"time":"2024-05-01T10:00:00.000Z","type":"platform.report","record":{"requestId":"r1","status":"success","metrics":{"durationMs":31.25,"billedDurationMs":32,"memorySizeMB":128,"maxMemoryUsedMB":45,"initDurationMs":180.5}}}]`))
	f.Add([]byte(`[{"time":"2024-05-01T10:00:00.210Z","type":"function","record":"2024-05-01T10:00:00.210Z\tr1\tINFO\thello\n"}]`))
	f.Add([]byte(`[{"time":"2024-05-01T10:00:00.220Z","type":"function","record":{"timestamp":"x","level":"ERROR","requestId":"r1","message":"m"}}]`))
	f.Add([]byte(`[{"time":"2024-05-01T10:00:01.300Z","type":"platform.logsDropped","record":{"reason":"r","droppedRecords":7,"droppedBytes":700}}]`))
	f.Add([]byte(`[{"time":"bad","type":"platform.somethingNew","record":{"a":1}}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"not":"an array"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		records, err := telemetry.Parse(data)
		if err != nil {
			if !errors.Is(err, telemetry.ErrMalformedBatch) {
				t.Fatalf("error %v does not wrap ErrMalformedBatch", err)
			}
			return
		}
		for _, rec := range records {
			if !json.Valid(rec.Raw) && len(rec.Raw) > 0 {
				t.Fatalf("record %q keeps invalid raw JSON %q", rec.Type, rec.Raw)
			}
			if _, err := json.Marshal(rec); err != nil {
				t.Fatalf("record %q does not marshal: %v", rec.Type, err)
			}
		}
	})
}
