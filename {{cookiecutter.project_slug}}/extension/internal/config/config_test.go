package config_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"{{ cookiecutter.go_module }}/extension/internal/config"
)

const prefix = "TEST_"

func reader(env map[string]string) *config.Reader {
	return config.New(prefix, func(name string) (string, bool) {
		v, ok := env[prefix+strings.TrimPrefix(name, prefix)]
		return v, ok
	})
}

func TestMissingAndEmptyGiveTheDefault(t *testing.T) {
	r := reader(map[string]string{"TEST_EMPTY": "  "})
	if got := r.Int("EMPTY", 7, 0, 10); got != 7 {
		t.Errorf("Int = %d", got)
	}
	if got := r.Duration("MISSING", time.Second, 0, time.Minute); got != time.Second {
		t.Errorf("Duration = %s", got)
	}
	if got := r.String("MISSING", "x"); got != "x" {
		t.Errorf("String = %q", got)
	}
	if got := r.Bool("MISSING", true); !got {
		t.Error("Bool = false")
	}
	if got := r.URL("MISSING", ""); got != nil {
		t.Errorf("URL = %v", got)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestValidValues(t *testing.T) {
	r := reader(map[string]string{
		"TEST_LEVEL": "DEBUG", "TEST_MS": "150", "TEST_D": "2s", "TEST_N": " 10 ",
		"TEST_B": "off", "TEST_U": "https://example.com/x", "TEST_L": " Function , PLATFORM ",
		"TEST_S": " hello ",
	})
	if got := r.Level("LEVEL", slog.LevelInfo); got != slog.LevelDebug {
		t.Errorf("Level = %v", got)
	}
	if got := r.Duration("MS", 0, 0, time.Second); got != 150*time.Millisecond {
		t.Errorf("Duration(ms) = %s", got)
	}
	if got := r.Duration("D", 0, 0, time.Minute); got != 2*time.Second {
		t.Errorf("Duration = %s", got)
	}
	if got := r.Int("N", 0, 1, 10); got != 10 {
		t.Errorf("Int = %d", got)
	}
	if got := r.Bool("B", true); got {
		t.Error("Bool = true")
	}
	if got := r.URL("U", ""); got == nil || got.Host != "example.com" {
		t.Errorf("URL = %v", got)
	}
	if got := r.List("L", nil, []string{"platform", "function", "extension"}); strings.Join(got, ",") != "function,platform" {
		t.Errorf("List = %v", got)
	}
	if got := r.String("S", ""); got != "hello" {
		t.Errorf("String = %q", got)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestInvalidValuesNameTheVariableAndKeepTheDefault(t *testing.T) {
	tests := []struct {
		value string
		read  func(r *config.Reader) bool // reports whether the default came back
	}{
		{"verbose", func(r *config.Reader) bool { return r.Level("V", slog.LevelWarn) == slog.LevelWarn }},
		{"info+2", func(r *config.Reader) bool { return r.Level("V", slog.LevelWarn) == slog.LevelWarn }},
		{"-1ms", func(r *config.Reader) bool { return r.Duration("V", time.Second, 0, time.Minute) == time.Second }},
		{"soon", func(r *config.Reader) bool { return r.Duration("V", time.Second, 0, time.Minute) == time.Second }},
		{"5m", func(r *config.Reader) bool { return r.Duration("V", time.Second, 0, time.Minute) == time.Second }},
		// Milliseconds that overflow int64 nanoseconds into a small or zero duration.
		{"288230376151712244", func(r *config.Reader) bool { return r.Duration("V", time.Second, 0, time.Minute) == time.Second }},
		{"288230376151711744", func(r *config.Reader) bool { return r.Duration("V", time.Second, 0, time.Minute) == time.Second }},
		{"9223372036854775807", func(r *config.Reader) bool { return r.Duration("V", time.Second, 0, time.Minute) == time.Second }},
		{"99999999999h", func(r *config.Reader) bool { return r.Duration("V", time.Second, 0, time.Minute) == time.Second }},
		{"0", func(r *config.Reader) bool { return r.Int("V", 5, 1, 10) == 5 }},
		{"ten", func(r *config.Reader) bool { return r.Int("V", 5, 1, 10) == 5 }},
		{"4294967297", func(r *config.Reader) bool { return r.Int("V", 5, 1, 10) == 5 }},
		{"18446744073709551617", func(r *config.Reader) bool { return r.Int("V", 5, 1, 10) == 5 }},
		{"maybe", func(r *config.Reader) bool { return r.Bool("V", true) }},
		{"ftp://example.com", func(r *config.Reader) bool { return r.URL("V", "") == nil }},
		{"example.com/path", func(r *config.Reader) bool { return r.URL("V", "") == nil }},
		{"http://", func(r *config.Reader) bool { return r.URL("V", "https://d.example") != nil }},
		{"platform,logs", func(r *config.Reader) bool { return r.List("V", []string{"a"}, []string{"platform"}) != nil }},
		{"platform,platform", func(r *config.Reader) bool { return r.List("V", []string{"a"}, []string{"platform"}) != nil }},
		{",", func(r *config.Reader) bool { return r.List("V", []string{"a"}, []string{"platform"}) != nil }},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			r := reader(map[string]string{"TEST_V": tt.value})
			if !tt.read(r) {
				t.Error("the invalid value did not give the default")
			}
			err := r.Err()
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), "TEST_V ") || !strings.Contains(err.Error(), tt.value) {
				t.Errorf("error %q does not name TEST_V and its value", err)
			}
		})
	}
}

func TestEveryBadVariableIsReported(t *testing.T) {
	r := reader(map[string]string{"TEST_A": "loud", "TEST_B": "forever"})
	r.Level("A", slog.LevelInfo)
	r.Duration("B", 0, 0, time.Second)
	r.Fail("C", "must be shorter than TEST_B")
	err := r.Err()
	for _, name := range []string{"TEST_A", "TEST_B", "TEST_C must be shorter"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("err = %v, want %s named", err, name)
		}
	}
}

func TestAHugeValueIsNotEchoedWhole(t *testing.T) {
	huge := strings.Repeat("é", 50_000) // 100 KB, and a cut must not split a rune
	r := reader(map[string]string{"TEST_V": huge})
	r.Int("V", 1, 0, 10)
	msg := r.Err().Error()
	if len(msg) > 200 {
		t.Errorf("message is %d bytes: %.120s...", len(msg), msg)
	}
	if !strings.Contains(msg, "100000 bytes") || !strings.Contains(msg, "TEST_V") {
		t.Errorf("message %q does not say how long the value was", msg)
	}
	if !strings.Contains(msg, "éé") || strings.ContainsRune(msg, '\uFFFD') {
		t.Errorf("message %q cut a rune", msg)
	}
}
