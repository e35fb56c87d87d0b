package telemetryapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"{{ cookiecutter.go_module }}/extension/internal/telemetryapi"
	"{{ cookiecutter.go_module }}/extension/telemetry"
)

// FuzzListener: whatever a local client sends, the handler answers with a status
// Lambda understands, hands the sink only batches that parsed, and counts each
// request once.
func FuzzListener(f *testing.F) {
	f.Add("POST", "/telemetry", []byte(twoRecords))
	f.Add("POST", "/telemetry", []byte(`[]`))
	f.Add("POST", "/telemetry", []byte(`[{"time":"x","type":"function","record":"a"}`))
	f.Add("GET", "/telemetry", []byte(``))
	f.Add("POST", "/other", []byte(twoRecords))
	f.Add("POST", "/telemetry", []byte(strings.Repeat("[", 5000)))
	var sunk atomic.Int64
	l, err := telemetryapi.Listen(context.Background(), telemetryapi.ListenOptions{
		MaxBodyBytes: 64 << 10,
		LookupHost:   notResolving,
	}, func(_ context.Context, batch []telemetry.Record) error {
		sunk.Add(int64(len(batch)))
		return nil
	}, (&logBuffer{}).logger())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { l.Stop(context.Background()) })
	f.Fuzz(func(t *testing.T, method, path string, body []byte) {
		if !validMethod(method) || !strings.HasPrefix(path, "/") {
			return // not a request net/http would hand a handler
		}
		req, err := http.NewRequest(method, "http://sandbox.localdomain"+path, strings.NewReader(string(body)))
		if err != nil {
			return // net/http would refuse it before any handler
		}
		before := l.Stats()
		sunkBefore := sunk.Load()
		w := httptest.NewRecorder()
		l.ServeHTTP(w, req)
		after := l.Stats()
		switch w.Code {
		case http.StatusOK:
			if after.Batches != before.Batches+1 {
				t.Fatalf("200 without a batch counted: %+v -> %+v", before, after)
			}
			if sunk.Load()-sunkBefore != int64(after.Records-before.Records) {
				t.Fatalf("sink got %d records, stats say %d", sunk.Load()-sunkBefore, after.Records-before.Records)
			}
		case http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge:
			if after.Rejected != before.Rejected+1 || after.Batches != before.Batches {
				t.Fatalf("%d not counted as refused: %+v -> %+v", w.Code, before, after)
			}
		default:
			t.Fatalf("%s %s answered %d", method, path, w.Code)
		}
	})
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range m {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}
