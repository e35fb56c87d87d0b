// Command bare is the reference the benchmark measures the extension against: the
// least an external extension can do with the standard library. It registers under
// its file name, loops on GET /event/next and exits 0 on SHUTDOWN. No logging, no
// configuration, no error reporting, no work.
//
// `make bench` builds it into build/bench/; it is never part of the layer.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
}

func run() error {
	base := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2020-01-01/extension"
	// No client timeout: /event/next may block for as long as the environment is idle.
	client := &http.Client{}

	req, err := http.NewRequest(http.MethodPost, base+"/register",
		bytes.NewReader([]byte(`{"events":["INVOKE","SHUTDOWN"]}`)))
	if err != nil {
		return err
	}
	req.Header.Set("Lambda-Extension-Name", filepath.Base(os.Args[0]))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("register: status %d", resp.StatusCode)
	}
	id := resp.Header.Get("Lambda-Extension-Identifier")

	for {
		req, err := http.NewRequest(http.MethodGet, base+"/event/next", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Lambda-Extension-Identifier", id)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		// Read to the end so the connection is reused, as the template's client does.
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("next: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("next: status %d", resp.StatusCode)
		}
		var ev struct {
			EventType string `json:"eventType"`
		}
		if err := json.Unmarshal(body, &ev); err != nil {
			return fmt.Errorf("next: %w", err)
		}
		if ev.EventType == "SHUTDOWN" {
			return nil
		}
	}
}
