package emulator

// The emulated sink (Config.Sink): an HTTP endpoint on 127.0.0.1 that takes the
// extension's batches (NDJSON, gzip or not) after Latency, answering with the
// statuses given in turn, so the timeline shows when each flush lands relative to
// platform.runtimeDone, the freeze and SHUTDOWN. Its URL goes to the extension in
// the variable Config.Sink.Env names (the extension's PREFIX_SINK_URL).

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// SinkConfig configures the emulated sink; it runs when Env is set.
type SinkConfig struct {
	Env      string        // the variable that gets the sink's URL
	Latency  time.Duration // how long the sink takes to answer each request
	Statuses []int         // answers in turn, the last repeating (default 200)
	// RetryAfter is sent as Retry-After with every answer that is not 2xx.
	RetryAfter string
	// DropOnFreeze closes the sink's idle kept-alive connections while the extension
	// is frozen, as a peer or a NAT that forgot them: the next flush finds them dead.
	// A connection still finishing its answer when the freeze begins is closed as
	// soon as it goes idle, so the drop does not depend on goroutine scheduling.
	DropOnFreeze bool
}

// SinkReport is what reached the sink.
type SinkReport struct {
	Requests int // POSTs received
	Records  int // NDJSON lines in the requests answered 2xx
	Refused  int // requests answered otherwise
	Gzip     int // requests with Content-Encoding gzip
	Conns    int // connections the extension opened
	Dropped  int // idle connections closed during freezes (DropOnFreeze)
	// Delays are, for each record taken with a "time" field (RFC 3339, as Lambda
	// stamps telemetry records), its arrival at the sink less that time.
	Delays []time.Duration `json:"-"`
}

// sinkState tracks the sink's connections, guarded by e.mu.
type sinkState struct {
	idle   map[net.Conn]bool
	frozen bool // the extension is frozen: with DropOnFreeze, idle means closed
}

// startSink starts the sink when configured and returns its URL ("" when not) and
// the function that stops it.
func (e *Emulator) startSink() (string, func(), error) {
	if e.cfg.Sink.Env == "" {
		return "", func() {}, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("emulator: sink: %w", err)
	}
	e.sink.idle = map[net.Conn]bool{}
	srv := &http.Server{Handler: http.HandlerFunc(e.serveSink), ReadHeaderTimeout: 5 * time.Second,
		ConnState: func(c net.Conn, state http.ConnState) {
			e.mu.Lock()
			defer e.mu.Unlock()
			switch state {
			case http.StateNew:
				e.report.Sink.Conns++
			case http.StateIdle:
				if e.sink.frozen {
					c.Close()
					e.report.Sink.Dropped++
					return
				}
				e.sink.idle[c] = true
			default:
				delete(e.sink.idle, c)
			}
		}}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String() + "/ingest", func() { srv.Close() }, nil
}

func (e *Emulator) serveSink(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	var body io.Reader = r.Body
	gz := r.Header.Get("Content-Encoding") == "gzip"
	if gz {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, "bad gzip", http.StatusBadRequest)
			return
		}
		body = zr
	}
	lines := 0
	var created []time.Time
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		lines++
		var stamped struct {
			Time string `json:"time"`
		}
		if json.Unmarshal(sc.Bytes(), &stamped) == nil && stamped.Time != "" {
			if at, err := time.Parse(time.RFC3339Nano, stamped.Time); err == nil {
				created = append(created, at)
			}
		}
	}
	if d := e.cfg.Sink.Latency; d > 0 {
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
		case <-r.Context().Done():
			timer.Stop()
			return
		}
	}
	e.mu.Lock()
	rep := &e.report.Sink
	rep.Requests++
	if gz {
		rep.Gzip++
	}
	status := http.StatusOK
	if n := len(e.cfg.Sink.Statuses); n > 0 {
		status = e.cfg.Sink.Statuses[min(rep.Requests-1, n-1)]
	}
	if status >= 200 && status < 300 {
		rep.Records += lines
		for _, at := range created {
			rep.Delays = append(rep.Delays, arrived.Sub(at))
		}
	} else {
		rep.Refused++
	}
	e.event(arrived, "sink", fmt.Sprintf("%d records, answered %d after %s", lines, status, fmtDur(time.Since(arrived))))
	e.mu.Unlock()
	if status < 200 || status >= 300 {
		if ra := e.cfg.Sink.RetryAfter; ra != "" {
			w.Header().Set("Retry-After", ra)
		}
	}
	w.WriteHeader(status)
}

// sinkFrozen closes the idle connections when DropOnFreeze asks for it, and those
// that go idle until sinkThawed; the caller holds e.mu.
func (e *Emulator) sinkFrozen() {
	if !e.cfg.Sink.DropOnFreeze {
		return
	}
	e.sink.frozen = true
	for c := range e.sink.idle {
		c.Close()
		delete(e.sink.idle, c)
		e.report.Sink.Dropped++
	}
}

// sinkThawed ends what sinkFrozen began; the caller holds e.mu.
func (e *Emulator) sinkThawed() { e.sink.frozen = false }
