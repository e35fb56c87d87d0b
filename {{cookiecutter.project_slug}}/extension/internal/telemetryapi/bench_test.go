package telemetryapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/extension/internal/telemetryapi"
	"{{ cookiecutter.go_module }}/extension/telemetry"
)

// benchBatch is a JSON batch of n records as Lambda delivers them: per invocation a
// platform.start, six function log lines, an extension log line, a
// platform.runtimeDone and a platform.report.
func benchBatch(n int) []byte {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i := 0; i < n; i++ {
		if i > 0 {
			buf.WriteByte(',')
		}
		requestID := fmt.Sprintf("6f0e1b36-2c4f-4c7b-9f7a-%012d", i/10)
		when := at.Add(time.Duration(i) * time.Millisecond).Format(time.RFC3339Nano)
		switch i % 10 {
		case 0:
			fmt.Fprintf(&buf, `{"time":%q,"type":"platform.start","record":{"requestId":%q,"version":"$LATEST"}}`, when, requestID)
		case 7:
			fmt.Fprintf(&buf, `{"time":%q,"type":"extension","record":"{\"level\":\"INFO\",\"msg\":\"batch\",\"count\":1}"}`, when)
		case 8:
			fmt.Fprintf(&buf, `{"time":%q,"type":"platform.runtimeDone","record":{"requestId":%q,"status":"success","metrics":{"durationMs":12.5,"producedBytes":120}}}`, when, requestID)
		case 9:
			fmt.Fprintf(&buf, `{"time":%q,"type":"platform.report","record":{"requestId":%q,"status":"success","metrics":{"durationMs":13.2,"billedDurationMs":14,"memorySizeMB":128,"maxMemoryUsedMB":61}}}`, when, requestID)
		default:
			fmt.Fprintf(&buf, `{"time":%q,"type":"function","record":"%s\tINFO\torder %d shipped to warehouse eu-west-1, carrier acme, 3 parcels\n"}`, when, when, i)
		}
	}
	buf.WriteByte(']')
	return buf.Bytes()
}

// BenchmarkParse is the decode of one delivered batch (Lambda's default maxItems is
// 1,000 records per batch for this extension's subscription).
func BenchmarkParse(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			data := benchBatch(n)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				batch, err := telemetry.Parse(data)
				if err != nil {
					b.Fatal(err)
				}
				if len(batch) != n {
					b.Fatalf("parsed %d records, want %d", len(batch), n)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkListener is one batch of 1,000 records POSTed to the listener on loopback
// and taken by a sink that does nothing: the listener's own ceiling.
func BenchmarkListener(b *testing.B) {
	const n = 1000
	var taken atomic.Int64
	l, err := telemetryapi.Listen(context.Background(), telemetryapi.ListenOptions{
		MaxBodyBytes: telemetryapi.MaxBodyBytes(telemetryapi.MinMaxBytes),
		LookupHost: func(context.Context, string) ([]string, error) {
			return nil, errors.New("benchmark: loopback")
		},
	}, func(_ context.Context, batch []telemetry.Record) error {
		taken.Add(int64(len(batch)))
		return nil
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l.Stop(ctx)
	})
	url := "http://" + l.Addr().String() + telemetryapi.ListenPath
	data := benchBatch(n)
	client := &http.Client{}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := client.Post(url, "application/json", bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.StopTimer()
	if got := taken.Load(); got != int64(n)*int64(b.N) {
		b.Fatalf("sink took %d records, want %d", got, n*b.N)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
