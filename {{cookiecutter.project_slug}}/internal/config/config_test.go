package config_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/internal/config"
)

func lookup(env map[string]string) config.LookupFunc {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := config.Load(lookup(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Config{
		LogLevel:       slog.LevelInfo,
		ShutdownMargin: 200 * time.Millisecond,
{%- if cookiecutter.processing == "async" %}

		QueueSize:     1024,
		BatchSize:     64,
		FlushInterval: time.Second,
{%- endif %}
{%- if cookiecutter.telemetry %}

		TelemetryTypes:     "platform,function,extension",
		TelemetryMaxItems:  1000,
		TelemetryMaxBytes:  262144,
		TelemetryTimeoutMs: 100,
		TelemetryPort:      4243,
{%- endif %}
	}
	if cfg != want {
		t.Errorf("defaults = %+v, want %+v", cfg, want)
	}
}

func TestValidValues(t *testing.T) {
	cfg, err := config.Load(lookup(map[string]string{
		config.Prefix + "LOG_LEVEL":       "DEBUG",
		config.Prefix + "SHUTDOWN_MARGIN": "150",
{%- if cookiecutter.processing == "async" %}
		config.Prefix + "QUEUE_SIZE":      " 10 ",
		config.Prefix + "BATCH_SIZE":      "10",
		config.Prefix + "FLUSH_INTERVAL":  "250ms",
{%- endif %}
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LogLevel != slog.LevelDebug || cfg.ShutdownMargin != 150*time.Millisecond {
		t.Errorf("cfg = %+v", cfg)
	}
{%- if cookiecutter.processing == "async" %}
	if cfg.QueueSize != 10 || cfg.BatchSize != 10 || cfg.FlushInterval != 250*time.Millisecond {
		t.Errorf("cfg = %+v", cfg)
	}
{%- endif %}
}

{% if cookiecutter.telemetry -%}
func TestTelemetryValues(t *testing.T) {
	tests := []struct {
		types, maxItems, maxBytes, timeoutMs, port string
		want                                       config.Config
	}{
		{"platform", "1000", "262144", "25", "1024", config.Config{
			TelemetryTypes: "platform", TelemetryMaxItems: 1000, TelemetryMaxBytes: 262144, TelemetryTimeoutMs: 25, TelemetryPort: 1024,
		}},
		{" Function , PLATFORM ", "10000", "1048576", "30000", "65535", config.Config{
			TelemetryTypes: "function,platform", TelemetryMaxItems: 10000, TelemetryMaxBytes: 1048576, TelemetryTimeoutMs: 30000, TelemetryPort: 65535,
		}},
		{"extension", "5000", "500000", "1000", "0", config.Config{
			TelemetryTypes: "extension", TelemetryMaxItems: 5000, TelemetryMaxBytes: 500000, TelemetryTimeoutMs: 1000, TelemetryPort: 0,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.types, func(t *testing.T) {
			cfg, err := config.Load(lookup(map[string]string{
				config.Prefix + "TELEMETRY_TYPES":      tt.types,
				config.Prefix + "TELEMETRY_MAX_ITEMS":  tt.maxItems,
				config.Prefix + "TELEMETRY_MAX_BYTES":  tt.maxBytes,
				config.Prefix + "TELEMETRY_TIMEOUT_MS": tt.timeoutMs,
				config.Prefix + "TELEMETRY_PORT":       tt.port,
			}))
			if err != nil {
				t.Fatal(err)
			}
			got := config.Config{
				TelemetryTypes:     cfg.TelemetryTypes,
				TelemetryMaxItems:  cfg.TelemetryMaxItems,
				TelemetryMaxBytes:  cfg.TelemetryMaxBytes,
				TelemetryTimeoutMs: cfg.TelemetryTimeoutMs,
				TelemetryPort:      cfg.TelemetryPort,
			}
			if got != tt.want {
				t.Errorf("telemetry settings = %+v, want %+v", got, tt.want)
			}
		})
	}
}

{% endif -%}
func TestInvalidValuesNameTheVariable(t *testing.T) {
	tests := []struct {
		variable string
		value    string
	}{
		{"LOG_LEVEL", "verbose"},
		{"LOG_LEVEL", "info+2"},
		{"SHUTDOWN_MARGIN", "-1ms"},
		{"SHUTDOWN_MARGIN", "5s"},
		{"SHUTDOWN_MARGIN", "soon"},
{%- if cookiecutter.processing == "async" %}
		{"QUEUE_SIZE", "0"},
		{"QUEUE_SIZE", "ten"},
		{"BATCH_SIZE", "2000"},
		{"FLUSH_INTERVAL", "0s"},
		{"FLUSH_INTERVAL", "2h"},
{%- endif %}
{%- if cookiecutter.telemetry %}
		{"TELEMETRY_TYPES", "platform,logs"},
		{"TELEMETRY_TYPES", "function,function"},
		{"TELEMETRY_TYPES", ","},
		{"TELEMETRY_MAX_ITEMS", "999"},
		{"TELEMETRY_MAX_ITEMS", "10001"},
		{"TELEMETRY_MAX_BYTES", "262143"},
		{"TELEMETRY_MAX_BYTES", "1048577"},
		{"TELEMETRY_TIMEOUT_MS", "24"},
		{"TELEMETRY_TIMEOUT_MS", "30001"},
		{"TELEMETRY_TIMEOUT_MS", "1s"},
		{"TELEMETRY_PORT", "9001"},
		{"TELEMETRY_PORT", "80"},
		{"TELEMETRY_PORT", "-1"},
		{"TELEMETRY_PORT", "65536"},
{%- endif %}
	}
	for _, tt := range tests {
		t.Run(tt.variable+"="+tt.value, func(t *testing.T) {
			defaults, _ := config.Load(lookup(nil))
			cfg, err := config.Load(lookup(map[string]string{config.Prefix + tt.variable: tt.value}))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), config.Prefix+tt.variable) || !strings.Contains(err.Error(), tt.value) {
				t.Errorf("error %q does not name %s%s and its value", err, config.Prefix, tt.variable)
			}
			if cfg != defaults {
				t.Errorf("invalid value leaked into the config: %+v", cfg)
			}
		})
	}
}

func TestEveryBadVariableIsReported(t *testing.T) {
	_, err := config.Load(lookup(map[string]string{
		config.Prefix + "LOG_LEVEL":       "loud",
		config.Prefix + "SHUTDOWN_MARGIN": "forever",
	}))
	if err == nil || !strings.Contains(err.Error(), "LOG_LEVEL") || !strings.Contains(err.Error(), "SHUTDOWN_MARGIN") {
		t.Errorf("err = %v, want both variables named", err)
	}
}
