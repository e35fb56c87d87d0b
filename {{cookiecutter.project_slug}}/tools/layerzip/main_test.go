package main

import (
	"archive/zip"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeSource creates an executable-looking source file and returns its path.
func writeSource(t *testing.T, dir, name string, content []byte, mode fs.FileMode) string {
	t.Helper()
	src := filepath.Join(dir, name)
	if err := os.WriteFile(src, content, mode); err != nil {
		t.Fatal(err)
	}
	// WriteFile's mode is filtered by the umask; set it exactly.
	if err := os.Chmod(src, mode); err != nil {
		t.Fatal(err)
	}
	return src
}

func readZip(t *testing.T, path string) *zip.Reader {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return zr
}

func TestWriteLayerContents(t *testing.T) {
	content := bytes.Repeat([]byte("\x7fELF not really a binary\n"), 1000)
	tests := []struct {
		name      string
		entry     string
		srcMode   fs.FileMode
		wantNames []string
	}{
		{"extension", "extensions/my-ext", 0o755, []string{"extensions/", "extensions/my-ext"}},
		{"source not executable still gets 0755", "extensions/my-ext", 0o600, []string{"extensions/", "extensions/my-ext"}},
		{"top-level entry has no directory", "bootstrap", 0o755, []string{"bootstrap"}},
		{"nested entry", "a/b/tool", 0o755, []string{"a/", "a/b/", "a/b/tool"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			src := writeSource(t, dir, "bin", content, tt.srcMode)
			out := filepath.Join(dir, "dist", "layer.zip")

			if err := writeLayer(out, tt.entry, src, defaultTime); err != nil {
				t.Fatalf("writeLayer: %v", err)
			}

			zr := readZip(t, out)
			var names []string
			for _, f := range zr.File {
				names = append(names, f.Name)
				if !f.Modified.Equal(defaultTime) {
					t.Errorf("%s: modified %v, want %v", f.Name, f.Modified, defaultTime)
				}
				if got := f.ExternalAttrs >> 16 & 0o777; got != 0o755 {
					t.Errorf("%s: unix permissions %o, want 755", f.Name, got)
				}
				if got := f.CreatorVersion >> 8; got != 3 {
					t.Errorf("%s: creator system %d, want 3 (Unix)", f.Name, got)
				}
			}
			if strings.Join(names, ",") != strings.Join(tt.wantNames, ",") {
				t.Fatalf("entries %q, want %q", names, tt.wantNames)
			}

			file := zr.File[len(zr.File)-1]
			if !file.Mode().IsRegular() || file.Mode().Perm() != 0o755 {
				t.Errorf("file mode %v, want -rwxr-xr-x", file.Mode())
			}
			if file.Method != zip.Deflate {
				t.Errorf("method %d, want Deflate (%d)", file.Method, zip.Deflate)
			}
			rc, err := file.Open()
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, content) {
				t.Errorf("content differs from the source (%d bytes, want %d)", len(got), len(content))
			}
			for _, dir := range zr.File[:len(zr.File)-1] {
				if !dir.Mode().IsDir() {
					t.Errorf("%s: mode %v, want a directory", dir.Name, dir.Mode())
				}
			}
		})
	}
}

func TestWriteLayerIsReproducible(t *testing.T) {
	dir := t.TempDir()
	src := writeSource(t, dir, "bin", []byte("same bytes"), 0o755)
	first := filepath.Join(dir, "first.zip")
	second := filepath.Join(dir, "second.zip")

	if err := writeLayer(first, "extensions/x", src, defaultTime); err != nil {
		t.Fatal(err)
	}
	// A different file time on the source must not leak into the zip.
	later := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	if err := os.Chtimes(src, later, later); err != nil {
		t.Fatal(err)
	}
	if err := writeLayer(second, "extensions/x", src, defaultTime); err != nil {
		t.Fatal(err)
	}

	a, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(second)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatalf("two zips of the same file differ (%d and %d bytes)", len(a), len(b))
	}
}

func TestWriteLayerReplacesOutputAtomically(t *testing.T) {
	dir := t.TempDir()
	src := writeSource(t, dir, "bin", []byte("new"), 0o755)
	out := filepath.Join(dir, "layer.zip")
	if err := os.WriteFile(out, []byte("old, not a zip"), 0o644); err != nil {
		t.Fatal(err)
	}

	if err := writeLayer(out, "extensions/x", src, defaultTime); err != nil {
		t.Fatal(err)
	}
	readZip(t, out)

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".layer.zip") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestWriteLayerRejects(t *testing.T) {
	dir := t.TempDir()
	src := writeSource(t, dir, "bin", []byte("x"), 0o755)
	tests := []struct {
		name    string
		entry   string
		src     string
		wantErr string
	}{
		{"empty entry", "", src, "empty"},
		{"absolute entry", "/extensions/x", src, "relative"},
		{"parent escape", "../x", src, "clean path"},
		{"dot dot inside", "extensions/../../x", src, "clean path"},
		{"double slash", "extensions//x", src, "clean path"},
		{"trailing slash", "extensions/x/", src, "clean path"},
		{"backslash", `extensions\x`, src, "separator"},
		{"missing source", "extensions/x", filepath.Join(dir, "missing"), "open source"},
		{"directory source", "extensions/x", dir, "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "layer.zip")
			err := writeLayer(out, tt.entry, tt.src, defaultTime)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if _, statErr := os.Stat(out); !os.IsNotExist(statErr) {
				t.Errorf("output exists after a failed run (stat: %v)", statErr)
			}
		})
	}
}

func TestTimestamp(t *testing.T) {
	tests := []struct {
		epoch   string
		want    time.Time
		wantErr bool
	}{
		{"", defaultTime, false},
		{"315532800", defaultTime, false},
		{"1700000000", time.Unix(1700000000, 0).UTC(), false},
		{"0", time.Time{}, true},
		{"soon", time.Time{}, true},
		{"1.5", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run("epoch="+tt.epoch, func(t *testing.T) {
			got, err := timestamp(tt.epoch)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, wantErr %v", err, tt.wantErr)
			}
			if !got.Equal(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	src := writeSource(t, dir, "my-ext", []byte("x"), 0o755)
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		wantCode  int
		wantEntry string
		wantTime  time.Time
		wantErr   string
	}{
		{"default entry from file name", []string{"-o", "OUT", src}, nil, 0, "extensions/my-ext", defaultTime, ""},
		{"explicit entry", []string{"-o", "OUT", "-entry", "extensions/other", src}, nil, 0, "extensions/other", defaultTime, ""},
		{"SOURCE_DATE_EPOCH", []string{"-o", "OUT", src}, map[string]string{"SOURCE_DATE_EPOCH": "1700000000"}, 0, "extensions/my-ext", time.Unix(1700000000, 0).UTC(), ""},
		{"bad SOURCE_DATE_EPOCH", []string{"-o", "OUT", src}, map[string]string{"SOURCE_DATE_EPOCH": "x"}, 1, "", time.Time{}, "SOURCE_DATE_EPOCH"},
		{"missing -o", []string{src}, nil, 2, "", time.Time{}, "usage"},
		{"no file", []string{"-o", "OUT"}, nil, 2, "", time.Time{}, "usage"},
		{"two files", []string{"-o", "OUT", src, src}, nil, 2, "", time.Time{}, "usage"},
		{"unknown flag", []string{"-x", "-o", "OUT", src}, nil, 2, "", time.Time{}, "not defined"},
		{"bad entry", []string{"-o", "OUT", "-entry", "../x", src}, nil, 1, "", time.Time{}, "layerzip: entry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "layer.zip")
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				args[i] = strings.ReplaceAll(a, "OUT", out)
			}
			var stderr bytes.Buffer
			code := run(args, &stderr, func(key string) string { return tt.env[key] })
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tt.wantCode, stderr.String())
			}
			if tt.wantErr != "" && !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr %q does not mention %q", stderr.String(), tt.wantErr)
			}
			if tt.wantCode != 0 {
				return
			}
			zr := readZip(t, out)
			last := zr.File[len(zr.File)-1]
			if last.Name != tt.wantEntry {
				t.Errorf("entry %q, want %q", last.Name, tt.wantEntry)
			}
			if !last.Modified.Equal(tt.wantTime) {
				t.Errorf("modified %v, want %v", last.Modified, tt.wantTime)
			}
		})
	}
}

// -add stores more files (a wrapper script at the layer's root), mode 0755, in
// entry-name order, and the zip stays reproducible.
func TestRunAddsFiles(t *testing.T) {
	dir := t.TempDir()
	bin := writeSource(t, dir, "my-ext", []byte("binary"), 0o755)
	wrapper := writeSource(t, dir, "runtime-wrapper", []byte("#!/bin/sh\nexec \"$@\"\n"), 0o644)
	var zips [][]byte
	for i := range 2 {
		out := filepath.Join(dir, "layer"+string(rune('a'+i))+".zip")
		var stderr bytes.Buffer
		args := []string{"-o", out, "-entry", "extensions/my-ext", "-add", "my-ext-wrapper=" + wrapper, bin}
		if code := run(args, &stderr, func(string) string { return "" }); code != 0 {
			t.Fatalf("exit code %d: %s", code, stderr.String())
		}
		data, _ := os.ReadFile(out)
		zips = append(zips, data)
		zr := readZip(t, out)
		var names []string
		for _, f := range zr.File {
			names = append(names, f.Name)
			if !f.Mode().IsDir() && f.Mode().Perm() != 0o755 {
				t.Errorf("%s: mode %v, want 0755", f.Name, f.Mode())
			}
		}
		if got := strings.Join(names, " "); got != "extensions/ extensions/my-ext my-ext-wrapper" {
			t.Errorf("entries %s", got)
		}
	}
	if !bytes.Equal(zips[0], zips[1]) {
		t.Error("two runs gave different zips")
	}
	var stderr bytes.Buffer
	for _, bad := range [][]string{
		{"-add", "noequals"},
		{"-add", "extensions/my-ext=" + wrapper},
		{"-add", "../x=" + wrapper},
	} {
		args := append([]string{"-o", filepath.Join(dir, "bad.zip"), "-entry", "extensions/my-ext"}, append(bad, bin)...)
		if code := run(args, &stderr, func(string) string { return "" }); code == 0 {
			t.Errorf("%v accepted", bad)
		}
	}
}
