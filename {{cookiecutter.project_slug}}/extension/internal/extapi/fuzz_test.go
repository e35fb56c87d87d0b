package extapi_test

import (
	"encoding/json"
	"errors"
	"testing"

	"{{ cookiecutter.go_module }}/extension/internal/extapi"
)

// FuzzDecodeEvent: any answer of /event/next decodes to an event with a type, or is
// reported as malformed; it never panics, and a decoded event survives a round trip.
func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(`{"eventType":"INVOKE","deadlineMs":1700000000000,"requestId":"r1","invokedFunctionArn":"arn:aws:lambda:us-east-1:123456789012:function:f","tracing":{"type":"X-Amzn-Trace-Id","value":"Root=1-5f"}}`))
	f.Add([]byte(`{"eventType":"SHUTDOWN","shutdownReason":"spindown","deadlineMs":1700000002000}`))
	f.Add([]byte(`{"eventType":"RESTORE","extra":[1,{"a":null}]}`))
	f.Add([]byte(`{"eventType": INVOKE`))
	f.Add([]byte(`{"eventType":"INVOKE","deadlineMs":-9223372036854775808}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := extapi.DecodeEvent(data)
		if err != nil {
			if !errors.Is(err, extapi.ErrMalformedEvent) {
				t.Fatalf("error %v does not wrap ErrMalformedEvent", err)
			}
			return
		}
		if ev.EventType == "" {
			t.Fatal("decoded an event without a type")
		}
		if d := ev.Deadline(); ev.DeadlineMs > 0 && d.IsZero() {
			t.Fatalf("deadlineMs %d gave no deadline", ev.DeadlineMs)
		}
		again, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		back, err := extapi.DecodeEvent(again)
		if err != nil || back != ev {
			t.Fatalf("round trip: %+v -> %s -> %+v, %v", ev, again, back, err)
		}
	})
}

// FuzzDecodeRegistration: any register answer decodes or errors, never panics, and
// keeps the identifier it was given.
func FuzzDecodeRegistration(f *testing.F) {
	f.Add("id-1", []byte(`{"functionName":"fn","functionVersion":"$LATEST","handler":"index.handler","accountId":"123456789012"}`))
	f.Add("", []byte(`{"functionName":"fn"}`))
	f.Add("id-2", []byte(`{"functionName":1}`))
	f.Add("id-3", []byte(`null`))
	f.Fuzz(func(t *testing.T, id string, body []byte) {
		reg, err := extapi.DecodeRegistration(id, body)
		if err != nil {
			return
		}
		if id == "" || reg.ExtensionID != id {
			t.Fatalf("identifier %q decoded as %q", id, reg.ExtensionID)
		}
	})
}
