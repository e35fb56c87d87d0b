package processor

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/extension"
)

// upstream is a fake parameter store: /<key> answers "<key>=<version>".
type upstream struct {
	*httptest.Server
	calls   atomic.Int64
	version atomic.Int64
	failing atomic.Bool
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.calls.Add(1)
		switch {
		case u.failing.Load():
			http.Error(w, "down", http.StatusInternalServerError)
		case r.URL.Path == "/missing":
			http.NotFound(w, r)
		default:
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, r.URL.Path[1:]+"="+string(rune('0'+u.version.Load())))
		}
	}))
	t.Cleanup(u.Close)
	return u
}

// clock is a settable time for the cache.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestCache(t *testing.T, up string) (*Cache, *clock) {
	t.Helper()
	c := NewCache(extension.ForTest(map[string]string{
		extension.Prefix + "UPSTREAM_URL": up,
		extension.Prefix + "CACHE_TTL":    "10s",
	}, nil))
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	c.now = clk.now
	return c, clk
}

func get(c *Cache, path string) (int, string, string) {
	w := httptest.NewRecorder()
	c.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
	return w.Code, w.Body.String(), w.Header().Get("X-Cache")
}

func counts(c *Cache) map[string]uint64 {
	m := map[string]uint64{}
	for _, a := range c.Counts() {
		m[a.Key] = a.Value.Uint64()
	}
	return m
}

func TestMissThenHit(t *testing.T) {
	up := newUpstream(t)
	c, _ := newTestCache(t, up.URL)
	for i, want := range []string{"miss", "hit", "hit"} {
		code, body, how := get(c, "/v1/db-password")
		if code != 200 || body != "db-password=0" || how != want {
			t.Errorf("request %d: %d %q %s, want 200 db-password=0 %s", i, code, body, how, want)
		}
	}
	if up.calls.Load() != 1 {
		t.Errorf("upstream called %d times, want once", up.calls.Load())
	}
	if m := counts(c); m["cache_hits"] != 2 || m["cache_misses"] != 1 {
		t.Errorf("counts %v", m)
	}
}

func TestExpiredValuesAreFetchedAgain(t *testing.T) {
	up := newUpstream(t)
	c, clk := newTestCache(t, up.URL)
	get(c, "/v1/k")
	up.version.Store(1)
	clk.add(10 * time.Second)
	if _, body, how := get(c, "/v1/k"); body != "k=1" || how != "miss" {
		t.Errorf("after the TTL: %q %s", body, how)
	}
}

func TestValuesPastHalfTheirTTLAreRefreshedInTheBackground(t *testing.T) {
	up := newUpstream(t)
	c, clk := newTestCache(t, up.URL)
	get(c, "/v1/k")
	up.version.Store(1)
	clk.add(6 * time.Second)
	if _, body, how := get(c, "/v1/k"); body != "k=0" || how != "hit" {
		t.Errorf("past half the TTL: %q %s, want the held value at once", body, how)
	}
	c.bg.Wait()
	if _, body, how := get(c, "/v1/k"); body != "k=1" || how != "hit" {
		t.Errorf("after the refresh: %q %s", body, how)
	}
	if up.calls.Load() != 2 {
		t.Errorf("upstream called %d times", up.calls.Load())
	}
}

func TestStaleIsServedWhenTheUpstreamFails(t *testing.T) {
	up := newUpstream(t)
	c, clk := newTestCache(t, up.URL)
	get(c, "/v1/k")
	up.failing.Store(true)
	clk.add(time.Minute)
	code, body, how := get(c, "/v1/k")
	if code != 200 || body != "k=0" || how != "stale" {
		t.Errorf("upstream down: %d %q %s, want the stale value", code, body, how)
	}
	if code, _, _ := get(c, "/v1/never-fetched"); code != http.StatusBadGateway {
		t.Errorf("upstream down, nothing held: %d, want 502", code)
	}
	if m := counts(c); m["cache_stale"] != 1 || m["cache_upstream_failures"] != 2 {
		t.Errorf("counts %v", m)
	}
}

func TestMissingKeysAndBadRequests(t *testing.T) {
	up := newUpstream(t)
	c, _ := newTestCache(t, up.URL)
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/v1/missing", 404},
		{http.MethodGet, "/v1/", 404},
		{http.MethodGet, "/other", 404},
		{http.MethodPost, "/v1/k", 405},
	} {
		w := httptest.NewRecorder()
		c.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
		if w.Code != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, w.Code, tc.status)
		}
	}
}

func TestConcurrentMissesShareOneFetch(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		<-release
		io.WriteString(w, "v")
	}))
	defer up.Close()
	c, _ := newTestCache(t, up.URL)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, body, _ := get(c, "/v1/k"); body != "v" {
				t.Errorf("body %q", body)
			}
		}()
	}
	// Wait until the one fetch is in flight, then let it answer.
	for calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if calls.Load() != 1 {
		t.Errorf("upstream called %d times, want once", calls.Load())
	}
}

func TestWithoutUpstreamMissesFail(t *testing.T) {
	c := NewCache(extension.ForTest(nil, slog.New(slog.DiscardHandler)))
	if code, _, _ := get(c, "/v1/k"); code != http.StatusBadGateway {
		t.Errorf("status %d, want 502", code)
	}
}
