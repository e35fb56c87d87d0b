package extension

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestSinkSettings(t *testing.T) {
	if s := NewSink(ForTest(nil, nil)); s != nil {
		t.Error("a sink without SINK_URL")
	}
	for _, tt := range []struct {
		env  map[string]string
		want string // the variable the error names, "" for none
	}{
		{map[string]string{Prefix + "SINK_URL": "https://example.com/in", Prefix + "SINK_HEADERS": "X-Api-Key: k1, X-Env: prod", Prefix + "SINK_GZIP": "false", Prefix + "SINK_RETRIES": "0"}, ""},
		{map[string]string{Prefix + "SINK_URL": "ftp://example.com"}, "SINK_URL"},
		{map[string]string{Prefix + "SINK_URL": "https://example.com", Prefix + "SINK_HEADERS": "no-colon-topsecret"}, "SINK_HEADERS"},
		{map[string]string{Prefix + "SINK_URL": "https://example.com", Prefix + "SINK_GZIP": "maybe"}, "SINK_GZIP"},
		{map[string]string{Prefix + "SINK_URL": "https://example.com", Prefix + "SINK_TIMEOUT": "1ms"}, "SINK_TIMEOUT"},
		{map[string]string{Prefix + "SINK_URL": "https://example.com", Prefix + "SINK_RETRIES": "99"}, "SINK_RETRIES"},
	} {
		x := ForTest(tt.env, nil)
		NewSink(x)
		err := x.Err()
		if tt.want == "" && err != nil {
			t.Errorf("%v: %v", tt.env, err)
		}
		if tt.want != "" && (err == nil || !strings.Contains(err.Error(), Prefix+tt.want)) {
			t.Errorf("%v: err = %v, want %s named", tt.env, err, Prefix+tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "topsecret") {
			t.Errorf("the error repeats a header value: %v", err)
		}
	}
}

// The sink as a processor uses it: NDJSON, gzip, the extra headers.
func TestSinkSendsBatches(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		zr, err := gzip.NewReader(r.Body)
		if err != nil || r.Header.Get("X-Api-Key") != "k1" || r.Header.Get("Content-Type") != "application/x-ndjson" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		body, _ := io.ReadAll(zr)
		got <- string(body)
	}))
	defer srv.Close()
	s := NewSink(ForTest(map[string]string{Prefix + "SINK_URL": srv.URL, Prefix + "SINK_HEADERS": "x-api-key: k1"}, nil))
	if err := s.Send(context.Background(), []any{"a", map[string]int{"n": 1}}); err != nil {
		t.Fatal(err)
	}
	if body := <-got; body != "\"a\"\n{\"n\":1}\n" {
		t.Errorf("body %q", body)
	}
}
