// Command layerzip writes a Lambda layer zip that is byte-for-byte reproducible.
//
// It stores one file under the given entry name (for an extension:
// extensions/<name>), and any more given with -add (e.g. a wrapper script at the
// layer's root), in entry-name order, each preceded by a directory entry for each
// parent directory not yet written,
// all with a fixed timestamp and fixed Unix modes (directories 0755, the file
// 0755), compressed with Deflate. Building the same binary twice gives the same
// zip, and no zip program is needed.
//
// Usage:
//
//	go run ./tools/layerzip -o dist/NAME-amd64.zip -entry extensions/NAME build/amd64/extensions/NAME
//	go run ./tools/layerzip -o dist/NAME-amd64.zip -entry extensions/NAME -add NAME-wrapper=scripts/runtime-wrapper build/amd64/extensions/NAME
//
// The timestamp is 1980-01-01 00:00:00 UTC (the earliest a zip can record) or,
// when SOURCE_DATE_EPOCH is set, that Unix time.
//
// layerzip is a development tool: it is not part of the layer it writes.
package main

import (
	"archive/zip"
	"compress/flate"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// defaultTime is the earliest time an MS-DOS timestamp in a zip header can hold.
var defaultTime = time.Date(1980, time.January, 1, 0, 0, 0, 0, time.UTC)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr, os.Getenv))
}

// run parses the command line, writes the zip and returns the process exit code.
func run(args []string, stderr io.Writer, getenv func(string) string) int {
	flags := flag.NewFlagSet("layerzip", flag.ContinueOnError)
	flags.SetOutput(stderr)
	out := flags.String("o", "", "output zip `path` (required)")
	entry := flags.String("entry", "", "`name` of the file inside the zip (default extensions/<base name of FILE>)")
	var extra []layerFile
	flags.Func("add", "another file, `ENTRY=PATH`, stored with mode 0755 (repeatable)", func(v string) error {
		name, src, ok := strings.Cut(v, "=")
		if !ok || name == "" || src == "" {
			return errors.New("want ENTRY=PATH")
		}
		extra = append(extra, layerFile{entry: name, src: src})
		return nil
	})
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: layerzip -o OUT.zip [-entry extensions/NAME] [-add ENTRY=PATH]... FILE")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if *out == "" || flags.NArg() != 1 {
		flags.Usage()
		return 2
	}
	src := flags.Arg(0)
	if *entry == "" {
		*entry = "extensions/" + filepath.Base(src)
	}
	modified, err := timestamp(getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		fmt.Fprintf(stderr, "layerzip: %v\n", err)
		return 1
	}
	main := layerFile{entry: *entry, src: src}
	if err := writeFiles(*out, append([]layerFile{main}, extra...), modified); err != nil {
		fmt.Fprintf(stderr, "layerzip: %v\n", err)
		return 1
	}
	return 0
}

// timestamp returns the time to record for every entry: SOURCE_DATE_EPOCH when
// set, else defaultTime. Zip headers cannot hold times before 1980, so earlier
// values are rejected rather than silently changed.
func timestamp(epoch string) (time.Time, error) {
	if epoch == "" {
		return defaultTime, nil
	}
	seconds, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: not a whole number of seconds", epoch)
	}
	t := time.Unix(seconds, 0).UTC()
	if t.Before(defaultTime) {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: before 1980-01-01, which a zip cannot record", epoch)
	}
	return t, nil
}

// checkEntry rejects entry names that would not unpack to a file below the
// layer root (/opt in Lambda).
func checkEntry(entry string) error {
	switch {
	case entry == "":
		return errors.New("entry name is empty")
	case strings.Contains(entry, "\\"):
		return fmt.Errorf("entry %q: use '/' as the separator", entry)
	case strings.HasPrefix(entry, "/"):
		return fmt.Errorf("entry %q: must be relative to the layer root", entry)
	case path.Clean(entry) != entry || entry == "." || entry == ".." || strings.HasPrefix(entry, "../"):
		return fmt.Errorf("entry %q: must be a clean path without '.', '..' or empty elements", entry)
	}
	return nil
}

// layerFile is one file of the layer: its name in the zip and where it is read from.
type layerFile struct{ entry, src string }

// writeLayer writes a zip at out holding src as entry, with a directory entry
// for each parent of entry.
func writeLayer(out, entry, src string, modified time.Time) error {
	f := layerFile{entry: entry, src: src}
	return writeFiles(out, []layerFile{f}, modified)
}

// writeFiles writes a zip at out holding the files, sorted by entry name, each after
// a directory entry for each of its parents not written yet. The zip is written to a
// temporary file beside out and renamed into place, so a failed run never leaves a
// partial zip.
func writeFiles(out string, files []layerFile, modified time.Time) (err error) {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b layerFile) int { return strings.Compare(a.entry, b.entry) })
	for i, f := range files {
		if err := checkEntry(f.entry); err != nil {
			return err
		}
		if i > 0 && files[i-1].entry == f.entry {
			return fmt.Errorf("entry %q given twice", f.entry)
		}
		info, err := os.Stat(f.src)
		if err != nil {
			return fmt.Errorf("open source: %w", err)
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("source %s: not a regular file", f.src)
		}
	}

	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*")
	if err != nil {
		return fmt.Errorf("create temporary zip: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	zw := zip.NewWriter(tmp)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestCompression)
	})
	written := map[string]bool{}
	for _, f := range files {
		for _, dir := range parents(f.entry) {
			if written[dir] {
				continue
			}
			written[dir] = true
			header := &zip.FileHeader{Name: dir + "/", Method: zip.Store, Modified: modified}
			header.SetMode(fs.ModeDir | 0o755)
			if _, err := zw.CreateHeader(header); err != nil {
				return fmt.Errorf("add directory %s: %w", dir, err)
			}
		}
		if err := addFile(zw, f, modified); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("finish zip: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("set zip mode: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write zip: %w", err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("move zip into place: %w", err)
	}
	return nil
}

// addFile stores one file, mode 0755, compressed.
func addFile(zw *zip.Writer, f layerFile, modified time.Time) error {
	in, err := os.Open(f.src)
	if err != nil {
		return fmt.Errorf("open source: %w", err)
	}
	defer in.Close()
	header := &zip.FileHeader{Name: f.entry, Method: zip.Deflate, Modified: modified}
	header.SetMode(0o755)
	w, err := zw.CreateHeader(header)
	if err != nil {
		return fmt.Errorf("add %s: %w", f.entry, err)
	}
	if _, err := io.Copy(w, in); err != nil {
		return fmt.Errorf("compress %s: %w", f.src, err)
	}
	return nil
}

// parents returns the parent directories of a clean slash-separated entry,
// outermost first: "a/b/c" gives ["a", "a/b"].
func parents(entry string) []string {
	var dirs []string
	for i, c := range entry {
		if c == '/' {
			dirs = append(dirs, entry[:i])
		}
	}
	return dirs
}
