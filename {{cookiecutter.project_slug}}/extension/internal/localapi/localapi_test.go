package localapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func ok(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }

func TestTheTokenIsRequired(t *testing.T) {
	header := TokenHeader("my-ext")
	g := New(header, "secret-session-token")
	g.SetHandler(http.HandlerFunc(ok))
	for _, tc := range []struct {
		name   string
		values []string
		status int
	}{
		{"no header", nil, 401},
		{"empty", []string{""}, 401},
		{"wrong", []string{"secret-session-toke"}, 401},
		{"longer", []string{"secret-session-token2"}, 401},
		{"twice", []string{"secret-session-token", "secret-session-token"}, 401},
		{"right", []string{"secret-session-token"}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/x", nil)
			for _, v := range tc.values {
				r.Header.Add("x-MY-EXT-token", v) // header names are case-insensitive
			}
			w := httptest.NewRecorder()
			g.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Errorf("status %d, want %d", w.Code, tc.status)
			}
		})
	}
	if s := g.Stats(); s.Requests != 6 || s.Unauthorized != 5 {
		t.Errorf("stats %+v", s)
	}
}

func TestWithoutASessionTokenNothingIsServed(t *testing.T) {
	g := New(TokenHeader("e"), "")
	g.SetHandler(http.HandlerFunc(ok))
	r := httptest.NewRequest("GET", "/v1/x", nil)
	r.Header.Set(TokenHeader("e"), "")
	w := httptest.NewRecorder()
	g.ServeHTTP(w, r)
	if w.Code != 401 {
		t.Errorf("status %d, want 401", w.Code)
	}
}

func TestRequestsWaitForTheHandler(t *testing.T) {
	g := New(TokenHeader("e"), "t")
	done := make(chan int)
	go func() {
		r := httptest.NewRequest("GET", "/v1/x", nil)
		r.Header.Set(TokenHeader("e"), "t")
		w := httptest.NewRecorder()
		g.ServeHTTP(w, r)
		done <- w.Code
	}()
	g.SetHandler(http.HandlerFunc(ok))
	if code := <-done; code != 200 {
		t.Errorf("status %d, want 200 once the handler is set", code)
	}
}

func TestNoHandlerGives503(t *testing.T) {
	g := New(TokenHeader("e"), "t")
	g.SetHandler(nil)
	r := httptest.NewRequest("GET", "/v1/x", nil)
	r.Header.Set(TokenHeader("e"), "t")
	w := httptest.NewRecorder()
	g.ServeHTTP(w, r)
	if w.Code != 503 || g.Stats().Unavailable != 1 {
		t.Errorf("status %d, stats %+v", w.Code, g.Stats())
	}
}
