package extapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"{{ cookiecutter.go_module }}/extension/internal/extapi"
)

// Payloads as Lambda sends them (the INVOKE one with a real-looking ARN and trace header).
const (
	invokePayload   = `{"eventType":"INVOKE","deadlineMs":1732480000000,"requestId":"3da1f2dc-3222-475e-9205-e2e6c6318895","invokedFunctionArn":"arn:aws:lambda:us-east-1:123456789012:function:orders-api","tracing":{"type":"X-Amzn-Trace-Id","value":"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"}}`
	shutdownPayload = `{"eventType":"SHUTDOWN","shutdownReason":"spindown","deadlineMs":1732480002000}`
	// A future payload: fields the client does not know must cost little and break nothing.
	unknownFieldsPayload = `{"eventType":"INVOKE","deadlineMs":1732480000000,"requestId":"3da1f2dc-3222-475e-9205-e2e6c6318895","invokedFunctionArn":"arn:aws:lambda:us-east-1:123456789012:function:orders-api","tracing":{"type":"X-Amzn-Trace-Id","value":"Root=1-5759e988-bd862e3fe1be46a994272793"},"tenantId":"blue","newThing":{"a":[1,2,3],"b":"c"}}`
)

// BenchmarkEventDecode is the decode the client does for every /event/next answer.
func BenchmarkEventDecode(b *testing.B) {
	for _, tc := range []struct{ name, payload string }{
		{"invoke", invokePayload},
		{"shutdown", shutdownPayload},
		{"unknown-fields", unknownFieldsPayload},
	} {
		b.Run(tc.name, func(b *testing.B) {
			data := []byte(tc.payload)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				var ev extapi.Event
				if err := json.Unmarshal(data, &ev); err != nil {
					b.Fatal(err)
				}
				if ev.EventType == "" {
					b.Fatal("no event type")
				}
			}
		})
	}
}

// BenchmarkNext is one GET /event/next on loopback with its decode: the client's part of
// the per-invoke overhead (the server side is httptest's, not Lambda's).
func BenchmarkNext(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if strings.HasSuffix(r.URL.Path, "/register") {
			w.Header().Set("Lambda-Extension-Identifier", "bench-id")
			io.WriteString(w, `{"functionName":"fn","functionVersion":"$LATEST","handler":"h"}`)
			return
		}
		io.WriteString(w, invokePayload)
	}))
	b.Cleanup(srv.Close)
	c := extapi.New(strings.TrimPrefix(srv.URL, "http://"), "bench")
	ctx := context.Background()
	if _, err := c.Register(ctx, "INVOKE", "SHUTDOWN"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev, err := c.Next(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if ev.EventType != "INVOKE" {
			b.Fatalf("event type %q", ev.EventType)
		}
	}
}
