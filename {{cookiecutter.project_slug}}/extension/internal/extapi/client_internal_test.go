package extapi

import "testing"

// GET /event/next blocks while the environment is idle or frozen, for hours if need be:
// an overall client timeout would turn a quiet function into a crashed extension.
func TestHTTPClientHasNoTimeout(t *testing.T) {
	if c := New("127.0.0.1:9001", "x"); c.http.Timeout != 0 {
		t.Fatalf("http.Client.Timeout = %v, want none", c.http.Timeout)
	}
}
