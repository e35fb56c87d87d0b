package extension

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"
)

// Metric is one value for CloudWatch Embedded Metric Format.
type Metric struct {
	Name  string
	Unit  string // one of EMFUnits; "" is "None"
	Value float64
}

// EMFUnits are the units CloudWatch accepts.
var EMFUnits = []string{
	"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
	"Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
	"Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
	"Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second",
	"Gigabits/Second", "Terabits/Second", "Count/Second", "None",
}

// Limits of the EMF specification.
const (
	maxEMFDimensions = 30
	maxEMFMetrics    = 100
	maxEMFNameLen    = 1024
)

// EMF writes metrics as CloudWatch Embedded Metric Format JSON lines: Lambda sends an
// extension's stdout to the function's log group, where CloudWatch turns each line
// into metrics of namespace with the given dimensions. Safe for concurrent use.
type EMF struct {
	w          io.Writer
	namespace  string
	dimensions map[string]string
	keys       []string
	now        func() time.Time

	mu sync.Mutex
}

// EMF returns an EMF writer on the extension's stdout.
func (x *Extension) EMF(namespace string, dimensions map[string]string) *EMF {
	w := x.stdout
	if w == nil {
		w = io.Discard
	}
	return NewEMF(w, namespace, dimensions)
}

// NewEMF returns an EMF writer on w.
func NewEMF(w io.Writer, namespace string, dimensions map[string]string) *EMF {
	keys := make([]string, 0, len(dimensions))
	for k := range dimensions {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return &EMF{w: w, namespace: namespace, dimensions: dimensions, keys: keys, now: time.Now}
}

// Emit writes one line with metrics, timestamped now.
func (e *EMF) Emit(metrics ...Metric) error {
	line, err := e.line(e.now(), metrics)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, err = e.w.Write(line)
	return err
}

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

type emfMetadata struct {
	Timestamp         int64          `json:"Timestamp"`
	CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
}

func (e *EMF) line(at time.Time, metrics []Metric) ([]byte, error) {
	switch {
	case e.namespace == "" || len(e.namespace) > 255:
		return nil, errors.New("emf: namespace must be 1 to 255 characters")
	case len(e.keys) > maxEMFDimensions:
		return nil, fmt.Errorf("emf: at most %d dimensions, got %d", maxEMFDimensions, len(e.keys))
	case len(metrics) == 0 || len(metrics) > maxEMFMetrics:
		return nil, fmt.Errorf("emf: 1 to %d metrics per line, got %d", maxEMFMetrics, len(metrics))
	}
	root := map[string]any{}
	for _, k := range e.keys {
		root[k] = e.dimensions[k]
	}
	defs := make([]emfMetric, 0, len(metrics))
	for _, m := range metrics {
		unit := m.Unit
		if unit == "" {
			unit = "None"
		}
		if !slices.Contains(EMFUnits, unit) {
			return nil, fmt.Errorf("emf: metric %q: unknown unit %q", m.Name, unit)
		}
		if _, taken := root[m.Name]; taken || m.Name == "" || m.Name == "_aws" || len(m.Name) > maxEMFNameLen {
			return nil, fmt.Errorf("emf: metric name %q is empty, too long, a dimension's or given twice", m.Name)
		}
		root[m.Name] = m.Value
		defs = append(defs, emfMetric{Name: m.Name, Unit: unit})
	}
	dims := [][]string{e.keys} // e.keys is never nil: no dimensions give [[]]
	root["_aws"] = emfMetadata{
		Timestamp:         at.UnixMilli(),
		CloudWatchMetrics: []emfDirective{emfDirective{Namespace: e.namespace, Dimensions: dims, Metrics: defs}},
	}
	b, err := json.Marshal(root)
	if err != nil {
		return nil, fmt.Errorf("emf: %w", err)
	}
	return append(b, '\n'), nil
}
