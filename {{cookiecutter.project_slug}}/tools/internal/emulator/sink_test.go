package emulator

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A connection that is not idle when the freeze begins (here: not even used yet) is
// dropped once its answer is written, as one idle at that moment would be: the
// e2e freeze tests must not depend on when the sink's goroutine marks it idle.
func TestSinkDropsAConnectionThatGoesIdleDuringTheFreeze(t *testing.T) {
	e := &Emulator{cfg: Config{Sink: SinkConfig{Env: "SINK", DropOnFreeze: true}}, started: time.Now()}
	url, stop, err := e.startSink()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	conn, err := net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/ingest"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Bounds a broken sink (the read below would wait for ever), not a speed.
	conn.SetDeadline(time.Now().Add(10 * time.Second))

	e.mu.Lock()
	e.sinkFrozen()
	e.mu.Unlock()

	body := "{\"n\":1}\n"
	if _, err := io.WriteString(conn, "POST /ingest HTTP/1.1\r\nHost: sink\r\nContent-Length: 8\r\n\r\n"+body); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sink answered %d, want 200", resp.StatusCode)
	}
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the answer, read %v: want the connection closed (EOF)", err)
	}

	e.mu.Lock()
	e.sinkThawed()
	got := e.report.Sink
	e.mu.Unlock()
	if got.Dropped != 1 || got.Records != 1 {
		t.Errorf("sink %+v: want the one record taken and its connection dropped", got)
	}
}
