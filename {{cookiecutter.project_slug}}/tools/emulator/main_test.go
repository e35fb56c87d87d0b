package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestUsageErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-extension")
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"no binary", nil, "usage: emulator"},
		{"two binaries", []string{"a", "b"}, "usage: emulator"},
		{"unknown fault", []string{"-fault", "meteor-strike", missing}, `unknown -fault "meteor-strike"`},
		{"negative invokes", []string{"-invokes", "-1", missing}, "-invokes must not be negative"},
		{"bad env", []string{"-env", "NOEQUALS", missing}, "want KEY=VALUE"},
		{"missing binary", []string{missing}, "extension binary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), tt.args, &stdout, &stderr); code != 2 {
				t.Errorf("exit code %d, want 2", code)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

func TestHelpExitsZero(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, &stdout, &stderr); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if !strings.Contains(stderr.String(), "usage: emulator") || !strings.Contains(stderr.String(), "-fault") {
		t.Errorf("stderr %q: want the usage with the flags", stderr.String())
	}
}
