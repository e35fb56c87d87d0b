package main

import (
	"bufio"
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// benchmarkPackages lists the packages of the project's module whose tests hold a
// benchmark (./extension, ./extension/internal/extapi, ...), so that only they are
// built and run. tools/ is another module, and build/ and dist/ hold no sources.
func benchmarkPackages(root string) ([]string, error) {
	var pkgs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch rel, _ := filepath.Rel(root, path); {
			case rel == "tools", rel == "build", rel == "dist", rel != "." && strings.HasPrefix(d.Name(), "."):
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !bytes.Contains(data, []byte("\nfunc Benchmark")) {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		if pkg := "./" + filepath.ToSlash(rel); !slices.Contains(pkgs, pkg) {
			pkgs = append(pkgs, pkg)
		}
		return nil
	})
	return pkgs, err
}

// MicroResult is one Go micro-benchmark (testing.B) line.
type MicroResult struct {
	Package     string             `json:"package"`
	Name        string             `json:"name"`
	Iterations  int64              `json:"iterations"`
	NsPerOp     float64            `json:"ns_per_op"`
	BytesPerOp  float64            `json:"bytes_per_op"`
	AllocsPerOp float64            `json:"allocs_per_op"`
	MBPerSec    float64            `json:"mb_per_s,omitempty"`
	Metrics     map[string]float64 `json:"metrics,omitempty"` // custom b.ReportMetric units
}

// runMicro runs the project's micro-benchmarks in pkgs (of the module in root) once each.
func runMicro(ctx context.Context, b builder, root, benchtime string, pkgs []string) ([]MicroResult, error) {
	if len(pkgs) == 0 {
		return []MicroResult{}, nil
	}
	args := []string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-count", "1", "-benchtime", benchtime}
	out, err := b.output(ctx, root, nil, append(args, pkgs...)...)
	if err != nil {
		return nil, err
	}
	return parseMicro(out), nil
}

// parseMicro reads `go test -bench` output: "pkg: X" lines name the package of the
// benchmark lines that follow, which are a name, an iteration count and value-unit
// pairs ("3056 ns/op", "592 B/op", "0.88 drops/op").
func parseMicro(out []byte) []MicroResult {
	var results []MicroResult
	pkg := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") || len(fields)%2 != 0 {
			continue
		}
		iterations, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			continue
		}
		r := MicroResult{Package: pkg, Name: trimProcs(fields[0]), Iterations: iterations}
		for i := 2; i+1 < len(fields); i += 2 {
			value, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			switch unit := fields[i+1]; unit {
			case "ns/op":
				r.NsPerOp = value
			case "B/op":
				r.BytesPerOp = value
			case "allocs/op":
				r.AllocsPerOp = value
			case "MB/s":
				r.MBPerSec = value
			default:
				if r.Metrics == nil {
					r.Metrics = map[string]float64{}
				}
				r.Metrics[unit] = value
			}
		}
		results = append(results, r)
	}
	return results
}

// trimProcs drops the -GOMAXPROCS suffix go test adds to benchmark names.
func trimProcs(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name
	}
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return name
	}
	return name[:i]
}
