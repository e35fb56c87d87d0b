package emulator

import (
	"strings"
	"testing"
)

func TestParseSubscription(t *testing.T) {
	const good = `{"schemaVersion":"2022-12-13","types":["platform","function"],` +
		`"buffering":{"maxItems":1000,"maxBytes":262144,"timeoutMs":25},` +
		`"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:4243/telemetry"}}`
	sub, err := parseSubscription([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if sub.target != "http://127.0.0.1:4243/telemetry" || sub.maxItems != 1000 || !sub.types["function"] || sub.types["extension"] {
		t.Errorf("subscription = %+v", sub)
	}

	tests := []struct {
		name, body, want string
	}{
		{"not JSON", `{`, "not a JSON subscription"},
		{"old schema", strings.Replace(good, "2022-12-13", "2021-01-01", 1), "schemaVersion"},
		{"no types", strings.Replace(good, `["platform","function"]`, `[]`, 1), "types is empty"},
		{"unknown type", strings.Replace(good, `"function"`, `"logs"`, 1), `unknown type "logs"`},
		{"maxItems", strings.Replace(good, `"maxItems":1000`, `"maxItems":999`, 1), "buffering.maxItems 999"},
		{"maxBytes", strings.Replace(good, `"maxBytes":262144`, `"maxBytes":2000000`, 1), "buffering.maxBytes"},
		{"timeoutMs", strings.Replace(good, `"timeoutMs":25`, `"timeoutMs":24`, 1), "buffering.timeoutMs 24"},
		{"protocol", strings.Replace(good, `"HTTP"`, `"TCP"`, 1), "protocol"},
		{"port 9001", strings.Replace(good, "4243", "9001", 1), "9001"},
		{"no port", strings.Replace(good, ":4243", "", 1), "port"},
		{"other host", strings.Replace(good, "sandbox.localdomain", "localhost", 1), `host "localhost"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseSubscription([]byte(tt.body)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}
