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
