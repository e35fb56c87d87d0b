// Package config reads the extension's settings from environment variables. Lambda
// passes the function's environment variables to its extensions, so these are set on
// the function. Every name starts with Prefix.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Prefix starts the name of every variable the extension reads.
const Prefix = "{{ cookiecutter.__env_prefix }}"

// Config holds the extension's settings.
type Config struct {
	// LogLevel is PREFIX_LOG_LEVEL: debug, info, warn or error (default info).
	LogLevel slog.Level
	// ShutdownMargin is PREFIX_SHUTDOWN_MARGIN: time kept free before every deadline
	// Lambda gives (default 200ms, at most 1s).
	ShutdownMargin time.Duration
{%- if cookiecutter.processing == "async" %}

	// QueueSize is PREFIX_QUEUE_SIZE: records the queue holds before it drops new ones
	// (default 1024).
	QueueSize int
	// BatchSize is PREFIX_BATCH_SIZE: records handed to Flush at most at once
	// (default 64, at most QueueSize).
	BatchSize int
	// FlushInterval is PREFIX_FLUSH_INTERVAL: the longest a record waits for its batch
	// to fill up (default 1s).
	FlushInterval time.Duration
{%- endif %}
}

{%- if cookiecutter.processing == "async" %}

const defaultBatchSize = 64
{%- endif %}

// LookupFunc finds an environment variable; os.LookupEnv is one.
type LookupFunc func(name string) (string, bool)

// Load reads the configuration. On error it still returns a usable Config, with
// defaults where values were invalid, and an error naming every bad variable.
func Load(lookup LookupFunc) (Config, error) {
	r := reader{lookup: lookup}
	cfg := Config{
		LogLevel:       r.level("LOG_LEVEL", slog.LevelInfo),
		ShutdownMargin: r.duration("SHUTDOWN_MARGIN", 200*time.Millisecond, 0, time.Second),
{%- if cookiecutter.processing == "async" %}

		QueueSize:     r.integer("QUEUE_SIZE", 1024, 1, 1_000_000),
		BatchSize:     r.integer("BATCH_SIZE", defaultBatchSize, 1, 1_000_000),
		FlushInterval: r.duration("FLUSH_INTERVAL", time.Second, time.Millisecond, time.Minute),
{%- endif %}
	}
{%- if cookiecutter.processing == "async" %}
	if cfg.BatchSize > cfg.QueueSize {
		r.fail("BATCH_SIZE", fmt.Sprintf("must not exceed %sQUEUE_SIZE (%d), got %d", Prefix, cfg.QueueSize, cfg.BatchSize))
		cfg.BatchSize = min(defaultBatchSize, cfg.QueueSize)
	}
{%- endif %}
	return cfg, errors.Join(r.errs...)
}

// reader collects one error per invalid variable.
type reader struct {
	lookup LookupFunc
	errs   []error
}

func (r *reader) fail(name, problem string) {
	r.errs = append(r.errs, fmt.Errorf("%s%s %s", Prefix, name, problem))
}

func (r *reader) get(name string) (string, bool) {
	value, ok := r.lookup(Prefix + name)
	value = strings.TrimSpace(value)
	return value, ok && value != ""
}

func (r *reader) level(name string, def slog.Level) slog.Level {
	value, ok := r.get(name)
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
	r.fail(name, fmt.Sprintf("must be debug, info, warn or error, got %q", value))
	return def
}

func (r *reader) integer(name string, def, low, high int) int {
	value, ok := r.get(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(value)
	if err != nil || n < low || n > high {
		r.fail(name, fmt.Sprintf("must be a whole number from %d to %d, got %q", low, high, value))
		return def
	}
	return n
}

// duration accepts Go durations ("250ms", "2s") and plain numbers of milliseconds.
func (r *reader) duration(name string, def, low, high time.Duration) time.Duration {
	value, ok := r.get(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(value)
	if ms, msErr := strconv.Atoi(value); msErr == nil {
		d, err = time.Duration(ms)*time.Millisecond, nil
	}
	if err != nil || d < low || d > high {
		r.fail(name, fmt.Sprintf("must be a duration from %s to %s (e.g. 250ms), got %q", low, high, value))
		return def
	}
	return d
}
