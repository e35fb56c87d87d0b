// Package config reads the extension's settings from environment variables. Lambda
// passes the function's environment variables to its extensions, so these are set on
// the function. Every name starts with Prefix.
package config

import (
	"errors"
	"fmt"
	"log/slog"
{%- if cookiecutter.telemetry %}
	"slices"
{%- endif %}
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
{%- if cookiecutter.telemetry %}

	// TelemetryTypes is PREFIX_TELEMETRY_TYPES: the comma-separated record types to
	// subscribe to, of platform, function and extension (default all three).
	TelemetryTypes string
	// TelemetryMaxItems is PREFIX_TELEMETRY_MAX_ITEMS: records Lambda buffers before
	// it delivers a batch (1000 to 10000, default 1000).
	TelemetryMaxItems int
	// TelemetryMaxBytes is PREFIX_TELEMETRY_MAX_BYTES: bytes Lambda buffers before it
	// delivers a batch (262144 to 1048576, default 262144).
	TelemetryMaxBytes int
	// TelemetryTimeoutMs is PREFIX_TELEMETRY_TIMEOUT_MS: milliseconds Lambda buffers
	// before it delivers a batch (25 to 30000, default 100).
	TelemetryTimeoutMs int
	// TelemetryPort is PREFIX_TELEMETRY_PORT: the port of the listener Lambda delivers
	// to (1024 to 65535, not 9001; default 4243). 0 takes any free port, for local
	// runs of several extensions at once.
	TelemetryPort int
{%- endif %}
}

{%- if cookiecutter.processing == "async" %}

const defaultBatchSize = 64
{%- endif %}
{%- if cookiecutter.telemetry %}

// Telemetry defaults and Lambda's limits for them.
const (
	defaultTelemetryTypes = "platform,function,extension"
	defaultTelemetryPort  = 4243
	runtimeAPIPort        = 9001
)
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
{%- if cookiecutter.telemetry %}

		TelemetryTypes:     r.telemetryTypes("TELEMETRY_TYPES", defaultTelemetryTypes),
		TelemetryMaxItems:  r.integer("TELEMETRY_MAX_ITEMS", 1_000, 1_000, 10_000),
		TelemetryMaxBytes:  r.integer("TELEMETRY_MAX_BYTES", 262_144, 262_144, 1_048_576),
		TelemetryTimeoutMs: r.integer("TELEMETRY_TIMEOUT_MS", 100, 25, 30_000),
		TelemetryPort:      r.integer("TELEMETRY_PORT", defaultTelemetryPort, 0, 65535),
{%- endif %}
	}
{%- if cookiecutter.processing == "async" %}
	if cfg.BatchSize > cfg.QueueSize {
		r.fail("BATCH_SIZE", fmt.Sprintf("must not exceed %sQUEUE_SIZE (%d), got %d", Prefix, cfg.QueueSize, cfg.BatchSize))
		cfg.BatchSize = min(defaultBatchSize, cfg.QueueSize)
	}
{%- endif %}
{%- if cookiecutter.telemetry %}
	switch port := cfg.TelemetryPort; {
	case port == runtimeAPIPort:
		r.fail("TELEMETRY_PORT", fmt.Sprintf("must not be %d: that is the Runtime API's port", runtimeAPIPort))
		cfg.TelemetryPort = defaultTelemetryPort
	case port > 0 && port < 1024:
		r.fail("TELEMETRY_PORT", fmt.Sprintf("must be 0 (any free port) or from 1024 to 65535: extensions run unprivileged, got %d", port))
		cfg.TelemetryPort = defaultTelemetryPort
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

{% if cookiecutter.telemetry -%}
// telemetryTypes reads a comma-separated list of platform, function and extension,
// each at most once, and returns it normalised ("platform,function").
func (r *reader) telemetryTypes(name, def string) string {
	value, ok := r.get(name)
	if !ok {
		return def
	}
	var types []string
	for _, t := range strings.Split(value, ",") {
		t = strings.ToLower(strings.TrimSpace(t))
		switch {
		case t != "platform" && t != "function" && t != "extension":
			r.fail(name, fmt.Sprintf("must be a comma-separated list of platform, function and extension, got %q", value))
			return def
		case slices.Contains(types, t):
			r.fail(name, fmt.Sprintf("names %s twice, got %q", t, value))
			return def
		}
		types = append(types, t)
	}
	return strings.Join(types, ",")
}

{% endif -%}
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
