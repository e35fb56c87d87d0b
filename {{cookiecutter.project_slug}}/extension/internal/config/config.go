// Package config reads settings from environment variables that share one prefix.
// Lambda passes the function's environment variables to its extensions, so settings
// are set on the function.
//
// A Reader never fails a single read: a missing or empty variable gives the default,
// and a bad value gives the default too while the Reader records an error naming the
// variable. Err joins every recorded error, so one report names every bad variable.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxEcho caps how much of a bad value an error message repeats: values end up in
// logs and in the body of /extension/init/error.
const maxEcho = 64

// LookupFunc finds an environment variable; os.LookupEnv is one.
type LookupFunc func(name string) (string, bool)

// Reader reads variables named Prefix+name. It is safe for concurrent use.
type Reader struct {
	prefix string
	lookup LookupFunc

	mu   sync.Mutex
	errs []error
}

// New returns a Reader of the variables that start with prefix.
func New(prefix string, lookup LookupFunc) *Reader {
	return &Reader{prefix: prefix, lookup: lookup}
}

// Prefix starts the name of every variable r reads.
func (r *Reader) Prefix() string { return r.prefix }

// Fail records that the variable prefix+name is invalid; problem completes the
// sentence "PREFIX_NAME ...".
func (r *Reader) Fail(name, problem string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Errorf("%s%s %s", r.prefix, name, problem))
}

// Err joins the errors recorded so far, one per bad variable; nil when all were good.
func (r *Reader) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return errors.Join(r.errs...)
}

// raw returns the trimmed value and whether it is set and not empty.
func (r *Reader) raw(name string) (string, bool) {
	value, ok := r.lookup(r.prefix + name)
	value = strings.TrimSpace(value)
	return value, ok && value != ""
}

// Quote quotes value for an error message, cut to a few dozen bytes.
func Quote(value string) string {
	if len(value) <= maxEcho {
		return strconv.Quote(value)
	}
	cut := maxEcho
	for cut > 0 && !isRuneStart(value[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", strconv.Quote(value[:cut]), len(value))
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// String reads a string.
func (r *Reader) String(name, def string) string {
	if value, ok := r.raw(name); ok {
		return value
	}
	return def
}

// Int reads a whole number from low to high. The range is checked on the 64-bit
// value before it becomes an int, so no huge value wraps into the range.
func (r *Reader) Int(name string, def, low, high int) int {
	value, ok := r.raw(name)
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(value, 10, 64)
	if err != nil || n < int64(low) || n > int64(high) {
		r.Fail(name, fmt.Sprintf("must be a whole number from %d to %d, got %s", low, high, Quote(value)))
		return def
	}
	return int(n)
}

// Duration reads a Go duration ("250ms", "2s") or a plain number of milliseconds,
// from low to high. Milliseconds are range-checked before they are converted, so a
// huge number never overflows into a valid duration.
func (r *Reader) Duration(name string, def, low, high time.Duration) time.Duration {
	value, ok := r.raw(name)
	if !ok {
		return def
	}
	d, valid := parseDuration(value)
	if !valid || d < low || d > high {
		r.Fail(name, fmt.Sprintf("must be a duration from %s to %s (e.g. 250ms), got %s", low, high, Quote(value)))
		return def
	}
	return d
}

func parseDuration(value string) (time.Duration, bool) {
	if ms, err := strconv.ParseInt(value, 10, 64); err == nil {
		if ms > math.MaxInt64/int64(time.Millisecond) || ms < math.MinInt64/int64(time.Millisecond) {
			return 0, false
		}
		return time.Duration(ms) * time.Millisecond, true
	}
	d, err := time.ParseDuration(value) // reports overflow as an error
	return d, err == nil
}

// Bool reads true/false (also 1/0, yes/no, on/off, any case).
func (r *Reader) Bool(name string, def bool) bool {
	value, ok := r.raw(name)
	if !ok {
		return def
	}
	switch strings.ToLower(value) {
	case "true", "1", "yes", "on":
		return true
	case "false", "0", "no", "off":
		return false
	}
	r.Fail(name, fmt.Sprintf("must be true or false, got %s", Quote(value)))
	return def
}

// URL reads an absolute http or https URL with a host. def is parsed the same way;
// an empty def gives nil when the variable is not set.
func (r *Reader) URL(name, def string) *url.URL {
	value, ok := r.raw(name)
	if !ok {
		if def == "" {
			return nil
		}
		value = def
	}
	u, err := url.Parse(value)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		r.Fail(name, fmt.Sprintf("must be an http:// or https:// URL with a host, got %s", Quote(value)))
		if ok && def != "" {
			return r.defaultURL(def)
		}
		return nil
	}
	return u
}

func (r *Reader) defaultURL(def string) *url.URL {
	u, err := url.Parse(def)
	if err != nil {
		return nil
	}
	return u
}

// Level reads a log level: debug, info, warn or error (any case).
func (r *Reader) Level(name string, def slog.Level) slog.Level {
	value, ok := r.raw(name)
	if !ok {
		return def
	}
	var level slog.Level
	switch strings.ToLower(value) {
	case "debug", "info", "warn", "error":
		if err := level.UnmarshalText([]byte(value)); err == nil {
			return level
		}
	}
	r.Fail(name, fmt.Sprintf("must be debug, info, warn or error, got %s", Quote(value)))
	return def
}

// List reads a comma-separated list of allowed words, each at most once, any case,
// and returns them lower-cased in the order given.
func (r *Reader) List(name string, def, allowed []string) []string {
	value, ok := r.raw(name)
	if !ok {
		return def
	}
	var list []string
	for _, word := range strings.Split(value, ",") {
		word = strings.ToLower(strings.TrimSpace(word))
		switch {
		case !slices.Contains(allowed, word):
			r.Fail(name, fmt.Sprintf("must be a comma-separated list of %s, got %s", strings.Join(allowed, ", "), Quote(value)))
			return def
		case slices.Contains(list, word):
			r.Fail(name, fmt.Sprintf("names %s twice, got %s", word, Quote(value)))
			return def
		}
		list = append(list, word)
	}
	return list
}
