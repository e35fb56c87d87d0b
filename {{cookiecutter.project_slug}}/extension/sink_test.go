package extension

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
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
		{map[string]string{Prefix + "SINK_URL": "https://example.com", Prefix + "SINK_IDLE_TIMEOUT": "50ms"}, "SINK_IDLE_TIMEOUT"},
		{map[string]string{Prefix + "SINK_URL": "https://example.com", Prefix + "SINK_IDLE_TIMEOUT": "2h"}, "SINK_IDLE_TIMEOUT"},
		{map[string]string{Prefix + "SINK_URL": "https://example.com", Prefix + "SINK_IDLE_TIMEOUT": "soon"}, "SINK_IDLE_TIMEOUT"},
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

// SINK_IDLE_TIMEOUT reaches the sink (its "sink" line says what it uses); unset, the
// default 5s.
func TestSinkIdleTimeoutSetting(t *testing.T) {
	for _, tt := range []struct {
		value  string // "" for unset
		wantMs float64
	}{
		{"", 5000},
		{"30s", 30_000},
		{"250", 250},
	} {
		env := map[string]string{Prefix + "SINK_URL": "https://example.com/in"}
		if tt.value != "" {
			env[Prefix+"SINK_IDLE_TIMEOUT"] = tt.value
		}
		var out strings.Builder
		x := ForTest(env, slog.New(slog.NewJSONHandler(&out, nil)))
		if NewSink(x) == nil || x.Err() != nil {
			t.Fatalf("%q: no sink (%v)", tt.value, x.Err())
		}
		var line map[string]any
		if err := json.Unmarshal([]byte(out.String()), &line); err != nil || line["msg"] != "sink" {
			t.Fatalf("%q: want one \"sink\" line, got %q", tt.value, out.String())
		}
		if got := line["idle_timeout_ms"]; got != tt.wantMs {
			t.Errorf("SINK_IDLE_TIMEOUT=%q: idle_timeout_ms %v, want %v", tt.value, got, tt.wantMs)
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
