// Package localapi guards the HTTP API the extension serves the function on
// 127.0.0.1: every request must carry the function's session token, and requests
// that arrive before the processor is built wait for it.
package localapi

import (
	"crypto/subtle"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// TokenHeader is the header that must carry the token for an extension of that name:
// X-<name>-Token, e.g. X-order-shipper-Token (header names are case-insensitive).
func TokenHeader(extensionName string) string { return "X-" + extensionName + "-Token" }

// ReadyWait is how long a request that arrives during the extension's init waits for
// the processor before it is answered 503.
const ReadyWait = 5 * time.Second

// Stats counts what the guard answered itself.
type Stats struct {
	Requests     uint64 // every request, served or refused
	Unauthorized uint64 // refused with 401
	Unavailable  uint64 // refused with 503: no processor (yet)
}

// Guard is the http.Handler in front of the processor's.
type Guard struct {
	header string // as given, for the messages
	key    string // header in canonical form: the http.Header key it arrives under
	token  string

	ready   chan struct{}
	once    sync.Once
	handler http.Handler // set once, before ready is closed

	requests, unauthorized, unavailable atomic.Uint64
}

// New returns a guard that accepts requests whose header equals token. An empty
// token (no AWS_SESSION_TOKEN) accepts nothing.
func New(header, token string) *Guard {
	return &Guard{header: header, key: http.CanonicalHeaderKey(header), token: token, ready: make(chan struct{})}
}

// SetHandler makes h serve the requests, those waiting included; nil answers them 503
// (the processor has no local API). Only the first call counts.
func (g *Guard) SetHandler(h http.Handler) {
	g.once.Do(func() {
		g.handler = h
		close(g.ready)
	})
}

// Stats returns the counts so far.
func (g *Guard) Stats() Stats {
	return Stats{Requests: g.requests.Load(), Unauthorized: g.unauthorized.Load(), Unavailable: g.unavailable.Load()}
}

// ServeHTTP checks the token, waits for the handler, then hands the request on.
func (g *Guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.requests.Add(1)
	// By the canonical key, so that no request canonicalizes the name again.
	if !g.authorized(r.Header[g.key]) {
		g.unauthorized.Add(1)
		http.Error(w, "missing or wrong "+g.header+" header", http.StatusUnauthorized)
		return
	}
	select {
	case <-g.ready:
	default:
		t := time.NewTimer(ReadyWait)
		select {
		case <-g.ready:
			t.Stop()
		case <-t.C:
			g.unavailable.Add(1)
			w.Header().Set("Retry-After", "1")
			http.Error(w, "the extension is still starting", http.StatusServiceUnavailable)
			return
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if g.handler == nil {
		g.unavailable.Add(1)
		http.Error(w, "this extension serves no local API", http.StatusServiceUnavailable)
		return
	}
	g.handler.ServeHTTP(w, r)
}

// authorized compares in constant time; exactly one header value must be given.
func (g *Guard) authorized(values []string) bool {
	if len(g.token) == 0 || len(values) != 1 {
		return false
	}
	return equal(values[0], g.token)
}

// equal is subtle.ConstantTimeCompare for strings: its time depends on the lengths
// only, and it does not copy a token of a thousand bytes into a []byte per request
// (as the conversion for ConstantTimeCompare would).
func equal(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var v byte
	for i := range len(a) {
		v |= a[i] ^ b[i]
	}
	return subtle.ConstantTimeByteEq(v, 0) == 1
}
