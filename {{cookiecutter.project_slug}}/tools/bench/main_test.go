package main

import (
	"errors"
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		check   func(t *testing.T, o options)
		wantErr string
	}{
		{
			name: "defaults",
			args: []string{"-ext", "my-ext"},
			check: func(t *testing.T, o options) {
				if o.ext != "my-ext" || o.rounds != 5 || o.invokes != 1000 || o.initSamples != 10 ||
					o.work != 50*time.Millisecond || o.workInvokes != 100 || o.workRounds != 3 ||
					!o.micro || o.out != "build/bench/results.json" {
					t.Errorf("defaults = %+v", o)
				}
			},
		},
		{
			name: "archs and tiny counts",
			args: []string{"-ext", "x", "-archs", "amd64 arm64", "-rounds", "1", "-invokes", "2", "-init-samples", "0", "-work", "5ms", "-micro=false"},
			check: func(t *testing.T, o options) {
				if !reflect.DeepEqual(o.archs, []string{"amd64", "arm64"}) || o.rounds != 1 || o.invokes != 2 ||
					o.initSamples != 0 || o.work != 5*time.Millisecond || o.micro {
					t.Errorf("options = %+v", o)
				}
			},
		},
		{name: "no extension", args: nil, wantErr: "-ext is required"},
		{name: "unknown arch", args: []string{"-ext", "x", "-archs", "386"}, wantErr: `"386" is not amd64 or arm64`},
		{name: "zero rounds", args: []string{"-ext", "x", "-rounds", "0"}, wantErr: "must be at least 1"},
		{name: "negative init samples", args: []string{"-ext", "x", "-init-samples", "-1"}, wantErr: "-init-samples must not be negative"},
		{name: "negative work", args: []string{"-ext", "x", "-work", "-1ms"}, wantErr: "-work must not be negative"},
		{name: "stray argument", args: []string{"-ext", "x", "extra"}, wantErr: "unexpected arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseFlags(tc.args, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, o)
		})
	}
}

func TestHelpIsNotAnError(t *testing.T) {
	if _, err := parseFlags([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("error = %v, want flag.ErrHelp", err)
	}
}
