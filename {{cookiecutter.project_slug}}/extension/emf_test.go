package extension

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// checkEMF checks one line against the structure the EMF specification requires: a
// root object with an "_aws" member holding a millisecond Timestamp and
// CloudWatchMetrics directives; each directive names a Namespace, DimensionSets
// whose keys are root members with string values, and Metrics whose names are root
// members with numeric values and whose units CloudWatch knows.
func checkEMF(t *testing.T, line []byte) map[string]any {
	t.Helper()
	var root map[string]any
	if err := json.Unmarshal(line, &root); err != nil {
		t.Fatalf("not a JSON object: %q: %v", line, err)
	}
	aws, ok := root["_aws"].(map[string]any)
	if !ok {
		t.Fatalf("no _aws object: %s", line)
	}
	if ts, ok := aws["Timestamp"].(float64); !ok || ts != float64(int64(ts)) || ts <= 0 {
		t.Errorf("Timestamp %v: want milliseconds since the epoch", aws["Timestamp"])
	}
	directives, ok := aws["CloudWatchMetrics"].([]any)
	if !ok || len(directives) == 0 {
		t.Fatalf("CloudWatchMetrics %v", aws["CloudWatchMetrics"])
	}
	for _, d := range directives {
		dir := d.(map[string]any)
		if ns, ok := dir["Namespace"].(string); !ok || ns == "" {
			t.Errorf("Namespace %v", dir["Namespace"])
		}
		sets, ok := dir["Dimensions"].([]any)
		if !ok {
			t.Fatalf("Dimensions %v", dir["Dimensions"])
		}
		for _, set := range sets {
			keys := set.([]any)
			if len(keys) > 30 {
				t.Errorf("a dimension set of %d keys", len(keys))
			}
			for _, k := range keys {
				if _, ok := root[k.(string)].(string); !ok {
					t.Errorf("dimension %v has no string value at the root", k)
				}
			}
		}
		metrics, ok := dir["Metrics"].([]any)
		if !ok || len(metrics) == 0 || len(metrics) > 100 {
			t.Fatalf("Metrics %v", dir["Metrics"])
		}
		for _, m := range metrics {
			def := m.(map[string]any)
			name, _ := def["Name"].(string)
			if _, ok := root[name].(float64); !ok {
				t.Errorf("metric %q has no numeric value at the root", name)
			}
			if unit, _ := def["Unit"].(string); !slices.Contains(EMFUnits, unit) {
				t.Errorf("metric %q: unit %q", name, unit)
			}
		}
	}
	return root
}

func TestEMFLinesFollowTheSpecification(t *testing.T) {
	var buf bytes.Buffer
	e := NewEMF(&buf, "my-ext", map[string]string{"FunctionName": "fn", "Env": "prod"})
	at := time.UnixMilli(1_700_000_000_123)
	e.now = func() time.Time { return at }
	if err := e.Emit(Metric{Name: "RecordsShipped", Unit: "Count", Value: 3}, Metric{Name: "Latency", Value: 1.5}); err != nil {
		t.Fatal(err)
	}
	if err := e.Emit(Metric{Name: "RecordsShipped", Unit: "Count", Value: 1}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2: %q", len(lines), buf.String())
	}
	root := checkEMF(t, []byte(lines[0]))
	aws := root["_aws"].(map[string]any)
	dir := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
	if aws["Timestamp"] != 1_700_000_000_123.0 || dir["Namespace"] != "my-ext" || root["RecordsShipped"] != 3.0 || root["Env"] != "prod" {
		t.Errorf("line %s", lines[0])
	}
	if units := dir["Metrics"].([]any); units[1].(map[string]any)["Unit"] != "None" {
		t.Errorf("a metric without unit: %v, want None", units[1])
	}
	checkEMF(t, []byte(lines[1]))

	// Without dimensions: one empty dimension set.
	buf.Reset()
	if err := NewEMF(&buf, "ns", nil).Emit(Metric{Name: "N", Unit: "Count", Value: 1}); err != nil {
		t.Fatal(err)
	}
	checkEMF(t, buf.Bytes())
}

func TestEMFRefusesWhatCloudWatchWouldNotTake(t *testing.T) {
	e := NewEMF(&bytes.Buffer{}, "ns", map[string]string{"FunctionName": "fn"})
	for name, metrics := range map[string][]Metric{
		"no metrics":       nil,
		"unknown unit":     {Metric{Name: "A", Unit: "Parsecs", Value: 1}},
		"empty name":       {Metric{Name: "", Value: 1}},
		"twice":            {Metric{Name: "A", Value: 1}, Metric{Name: "A", Value: 2}},
		"a dimension name": {Metric{Name: "FunctionName", Value: 1}},
		"reserved":         {Metric{Name: "_aws", Value: 1}},
	} {
		if err := e.Emit(metrics...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := NewEMF(&bytes.Buffer{}, "", nil).Emit(Metric{Name: "A", Value: 1}); err == nil {
		t.Error("empty namespace accepted")
	}
}
