package main

import (
	"reflect"
	"testing"
)

func TestParseMicro(t *testing.T) {
	out := []byte(`goos: linux
goarch: amd64
pkg: example.com/x/internal/extapi
cpu: AMD EPYC
BenchmarkEventDecode/invoke-2         	   82130	      3056 ns/op	  99.14 MB/s	     592 B/op	      12 allocs/op
BenchmarkNext-2                       	    4334	     50333 ns/op	    7093 B/op	      83 allocs/op
PASS
ok  	example.com/x/internal/extapi	1.451s
pkg: example.com/x/internal/queue
BenchmarkHandlerInvoke-2              	 2530998	        92.46 ns/op	         0.8770 drops/op	       5 B/op	       0 allocs/op
BenchmarkBroken-2   --- FAIL
BenchmarkName-with-dash	10	5 ns/op
`)
	want := []MicroResult{
		{Package: "example.com/x/internal/extapi", Name: "BenchmarkEventDecode/invoke", Iterations: 82130, NsPerOp: 3056, MBPerSec: 99.14, BytesPerOp: 592, AllocsPerOp: 12},
		{Package: "example.com/x/internal/extapi", Name: "BenchmarkNext", Iterations: 4334, NsPerOp: 50333, BytesPerOp: 7093, AllocsPerOp: 83},
		{Package: "example.com/x/internal/queue", Name: "BenchmarkHandlerInvoke", Iterations: 2530998, NsPerOp: 92.46, BytesPerOp: 5, Metrics: map[string]float64{"drops/op": 0.877}},
		{Package: "example.com/x/internal/queue", Name: "BenchmarkName-with-dash", Iterations: 10, NsPerOp: 5},
	}
	if got := parseMicro(out); !reflect.DeepEqual(got, want) {
		t.Errorf("parseMicro:\n got %+v\nwant %+v", got, want)
	}
}
