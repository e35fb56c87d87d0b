package extension_test

import (
	"context"
	"fmt"
	"time"

	"{{ cookiecutter.go_module }}/extension"
)

// A processor reads its own settings in its constructor. Here the function sets
// PREFIX_CACHE_TTL=90s and leaves PREFIX_GREETING unset.
func ExampleSettings() {
	x := extension.ForTest(map[string]string{extension.Prefix + "CACHE_TTL": "90s"}, nil)

	ttl := x.Settings.Duration("CACHE_TTL", time.Minute)
	greeting := x.Settings.String("GREETING", "hello")

	fmt.Println(ttl, greeting, x.Err())
	// Output: 1m30s hello <nil>
}

// A bad value gives the default and is reported, naming the variable; Run sends
// the report to Lambda as Extension.ConfigInvalid.
func ExampleSettings_invalid() {
	x := extension.ForTest(map[string]string{extension.Prefix + "RETRIES": "many"}, nil)

	retries := x.Settings.IntRange("RETRIES", 3, 0, 10)

	fmt.Println(retries)
	fmt.Println(x.Err() != nil)
	// Output:
	// 3
	// true
}

// InvokeFunc makes a Handler of a function, for a processor with nothing to do at
// SHUTDOWN.
func ExampleInvokeFunc() {
	var count int
	h := extension.InvokeFunc(func(ctx context.Context, ev extension.Event) error {
		count++
		return nil
	})

	h.Invoke(context.Background(), extension.Event{Type: extension.Invoke, RequestID: "r1"})
	h.Shutdown(context.Background(), extension.Event{Type: extension.Shutdown})

	fmt.Println(count)
	// Output: 1
}
