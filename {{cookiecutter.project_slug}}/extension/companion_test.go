package extension

import (
	"encoding/json"
	"net"
	"strings"
	"testing"
)

// freePort is a port nobody listens on (as far as it can tell).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// recordsLine returns the records line's fields.
func recordsLine(t *testing.T, logs string) map[string]any {
	t.Helper()
	for _, line := range strings.Split(logs, "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) == nil && entry["msg"] == "records" {
			return entry
		}
	}
	t.Fatalf("no records line in:\n%s", logs)
	return nil
}
