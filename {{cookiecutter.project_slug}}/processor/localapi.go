package processor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"{{ cookiecutter.go_module }}/extension"
)

// The local API's demo: a read-through cache the function calls on
// 127.0.0.1:{{ cookiecutter.__env_prefix }}LOCAL_PORT instead of calling the upstream itself.
//
//	GET /v1/<key>   (header X-<extension name>-Token: $AWS_SESSION_TOKEN)
//
// A miss fetches <key> from {{ cookiecutter.__env_prefix }}UPSTREAM_URL + "/" + <key>; a
// value younger than {{ cookiecutter.__env_prefix }}CACHE_TTL is served from memory, and one
// past half its TTL is refreshed in the background (which only runs while the
// environment is thawed, that is while the function calls). When the upstream fails
// and an older value is held, that value is served with X-Cache: stale. The X-Cache
// header says hit, miss or stale; hits and misses are counted on the records line.

// Defaults of the cache's settings.
const (
	defaultCacheTTL     = time.Minute
	defaultFetchTimeout = 2 * time.Second
	// maxValueBytes caps a value fetched from the upstream.
	maxValueBytes = 1 << 20
	cachePrefix   = "/v1/"
)

// Cache is the local API's handler.
type Cache struct {
	log      *slog.Logger
	upstream *url.URL // nil: not configured, misses get 503
	ttl      time.Duration
	client   *http.Client
	now      func() time.Time

	mu      sync.Mutex
	entries map[string]*entry
	calls   map[string]*fetchCall // fetches in flight, one per key
	bg      sync.WaitGroup        // background refreshes

	hits, misses, stale, failures atomic.Uint64
}

type entry struct {
	value       []byte
	contentType []string // the Content-Type header's value, nil for none
	fetched     time.Time
}

// The X-Cache header's values, shared by every response: http.Header.Set would
// allocate a new []string per request.
var xCache = map[string][]string{"hit": {"hit"}, "miss": {"miss"}, "stale": {"stale"}}

type fetchCall struct {
	done chan struct{}
	e    *entry
	err  error
}

// errNotFound is the upstream's 404.
var errNotFound = errors.New("not found upstream")

// NewCache reads the cache's settings.
func NewCache(x *extension.Extension) *Cache {
	c := &Cache{
		log:      x.Log,
		upstream: x.Settings.URL("UPSTREAM_URL", ""),
		ttl:      x.Settings.DurationRange("CACHE_TTL", defaultCacheTTL, time.Second, 24*time.Hour),
		client:   &http.Client{Timeout: x.Settings.DurationRange("FETCH_TIMEOUT", defaultFetchTimeout, 10*time.Millisecond, time.Minute)},
		now:      time.Now,
		entries:  make(map[string]*entry),
		calls:    make(map[string]*fetchCall),
	}
	return c
}

// Counts puts the cache's hits and misses on the records line.
func (c *Cache) Counts() []slog.Attr {
	return []slog.Attr{
		slog.Uint64("cache_hits", c.hits.Load()),
		slog.Uint64("cache_misses", c.misses.Load()),
		slog.Uint64("cache_stale", c.stale.Load()),
		slog.Uint64("cache_upstream_failures", c.failures.Load()),
	}
}

// ServeHTTP answers GET /v1/<key>.
func (c *Cache) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key, ok := strings.CutPrefix(r.URL.Path, cachePrefix)
	if !ok || key == "" {
		http.Error(w, "not found: use GET "+cachePrefix+"<key>", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	now := c.now()
	c.mu.Lock()
	e := c.entries[key]
	c.mu.Unlock()
	if e != nil && now.Sub(e.fetched) < c.ttl {
		c.hits.Add(1)
		if now.Sub(e.fetched) >= c.ttl/2 {
			c.refreshInBackground(key)
		}
		serve(w, e, "hit")
		return
	}
	c.misses.Add(1)
	fresh, err := c.fetch(r.Context(), key)
	switch {
	case err == nil:
		serve(w, fresh, "miss")
	case errors.Is(err, errNotFound):
		http.Error(w, "no such key upstream", http.StatusNotFound)
	case e != nil:
		c.stale.Add(1)
		w.Header().Set("X-Cache-Error", err.Error())
		serve(w, e, "stale")
	default:
		http.Error(w, "upstream failed: "+err.Error(), http.StatusBadGateway)
	}
}

func serve(w http.ResponseWriter, e *entry, how string) {
	h := w.Header()
	h["X-Cache"] = xCache[how]
	if e.contentType != nil {
		h["Content-Type"] = e.contentType
	}
	w.Write(e.value)
}

// refreshInBackground fetches key again unless a fetch is already running.
func (c *Cache) refreshInBackground(key string) {
	c.mu.Lock()
	_, running := c.calls[key]
	c.mu.Unlock()
	if running {
		return
	}
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		c.fetch(context.Background(), key)
	}()
}

// fetch gets key from the upstream and stores it; concurrent fetches of one key share
// one request.
func (c *Cache) fetch(ctx context.Context, key string) (*entry, error) {
	c.mu.Lock()
	if call, ok := c.calls[key]; ok {
		c.mu.Unlock()
		select {
		case <-call.done:
			return call.e, call.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	call := &fetchCall{done: make(chan struct{})}
	c.calls[key] = call
	c.mu.Unlock()

	// The shared request must not end with the first caller's context.
	call.e, call.err = c.get(context.WithoutCancel(ctx), key)
	c.mu.Lock()
	delete(c.calls, key)
	if call.err == nil {
		c.entries[key] = call.e
	}
	c.mu.Unlock()
	close(call.done)
	if call.err != nil && !errors.Is(call.err, errNotFound) {
		c.failures.Add(1)
		c.log.Warn("cache: upstream fetch failed", "key", key, "error", call.err.Error())
	}
	return call.e, call.err
}

func (c *Cache) get(ctx context.Context, key string) (*entry, error) {
	if c.upstream == nil {
		return nil, errors.New(extension.Prefix + "UPSTREAM_URL is not set")
	}
	u := c.upstream.JoinPath(key)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	res, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	switch {
	case res.StatusCode == http.StatusNotFound:
		return nil, errNotFound
	case res.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("upstream status %d", res.StatusCode)
	}
	value, err := io.ReadAll(io.LimitReader(res.Body, maxValueBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading upstream: %w", err)
	}
	if len(value) > maxValueBytes {
		return nil, fmt.Errorf("upstream value larger than %d bytes", maxValueBytes)
	}
	e := &entry{value: value, fetched: c.now()}
	if ct := res.Header.Get("Content-Type"); ct != "" {
		e.contentType = []string{ct}
	}
	return e, nil
}
