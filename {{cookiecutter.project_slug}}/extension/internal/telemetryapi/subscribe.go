package telemetryapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"{{ cookiecutter.go_module }}/extension/internal/loopback"
)

// The Telemetry API schemas the extension subscribes with: SchemaVersion on
// on-demand Lambda, SchemaVersionLMI on Lambda Managed Instances (the only one
// that environment offers).
const (
	SchemaVersion    = "2022-12-13"
	SchemaVersionLMI = "2025-01-29"
)

// The record categories a subscription can ask for.
const (
	CategoryPlatform  = "platform"
	CategoryFunction  = "function"
	CategoryExtension = "extension"
)

// Lambda's limits for the buffering of a subscription.
const (
	MinMaxItems  = 1_000
	MaxMaxItems  = 10_000
	MinMaxBytes  = 262_144
	MaxMaxBytes  = 1_048_576
	MinTimeoutMs = 25
	MaxTimeoutMs = 30_000
)

// ReservedPort is the Runtime API's port; a listener may not use it.
const ReservedPort = loopback.ReservedPort

// ErrNotAvailable is returned by Subscribe when the Runtime API answers 202: local
// emulators that do not implement the Telemetry API (such as the Runtime Interface
// Emulator) accept the call and never deliver anything.
var ErrNotAvailable = errors.New("telemetry API not available here")

// Buffering tells Lambda how long to collect records before it delivers a batch: it
// delivers when any of the three limits is reached.
type Buffering struct {
	MaxItems  int `json:"maxItems"`
	MaxBytes  int `json:"maxBytes"`
	TimeoutMs int `json:"timeoutMs"`
}

// Validate checks b against Lambda's ranges.
func (b Buffering) Validate() error {
	var errs []error
	check := func(name string, v, low, high int) {
		if v < low || v > high {
			errs = append(errs, fmt.Errorf("buffering %s must be from %d to %d, got %d", name, low, high, v))
		}
	}
	check("maxItems", b.MaxItems, MinMaxItems, MaxMaxItems)
	check("maxBytes", b.MaxBytes, MinMaxBytes, MaxMaxBytes)
	check("timeoutMs", b.TimeoutMs, MinTimeoutMs, MaxTimeoutMs)
	return errors.Join(errs...)
}

// Destination is where Lambda POSTs the batches.
type Destination struct {
	Protocol string `json:"protocol"`
	URI      string `json:"URI"`
}

// SubscribeRequest is the body of PUT /2022-07-01/telemetry.
type SubscribeRequest struct {
	SchemaVersion string      `json:"schemaVersion"`
	Types         []string    `json:"types"`
	Buffering     Buffering   `json:"buffering"`
	Destination   Destination `json:"destination"`
}

// Validate checks the request as Lambda would, so a mistake shows up as a clear
// error during Init instead of a 400.
func (s SubscribeRequest) Validate() error {
	var errs []error
	if s.SchemaVersion != SchemaVersion && s.SchemaVersion != SchemaVersionLMI {
		errs = append(errs, fmt.Errorf("schemaVersion must be %s or %s, got %q", SchemaVersion, SchemaVersionLMI, s.SchemaVersion))
	}
	if err := ValidateTypes(s.Types); err != nil {
		errs = append(errs, err)
	}
	if err := s.Buffering.Validate(); err != nil {
		errs = append(errs, err)
	}
	if s.Destination.Protocol != "HTTP" {
		errs = append(errs, fmt.Errorf("destination protocol must be HTTP, got %q", s.Destination.Protocol))
	}
	if err := validateURI(s.Destination.URI); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ValidateTypes checks a list of record categories: at least one, each of platform,
// function and extension, none twice.
func ValidateTypes(types []string) error {
	if len(types) == 0 {
		return errors.New("types must name at least one of platform, function, extension")
	}
	seen := map[string]bool{}
	for _, t := range types {
		switch t {
		case CategoryPlatform, CategoryFunction, CategoryExtension:
		default:
			return fmt.Errorf("types: unknown type %q (want platform, function or extension)", t)
		}
		if seen[t] {
			return fmt.Errorf("types: %q given twice", t)
		}
		seen[t] = true
	}
	return nil
}

// ValidatePort checks a listener port by the rule of every server the extension runs
// (loopback.ValidatePort: 1024 to 65535, as Lambda runs extensions unprivileged, and
// not the Runtime API's 9001). A subscription names the bound port, never 0.
func ValidatePort(port int) error {
	if port == 0 {
		return errors.New("port must be from 1024 to 65535, got 0")
	}
	if err := loopback.ValidatePort(port); err != nil {
		return fmt.Errorf("port %w", err)
	}
	return nil
}

func validateURI(uri string) error {
	const prefix = "http://" + SandboxHost + ":"
	rest, ok := strings.CutPrefix(uri, prefix)
	if !ok {
		return fmt.Errorf("destination URI must start with %s, got %q", prefix, uri)
	}
	portText, _, _ := strings.Cut(rest, "/")
	port, err := strconv.Atoi(portText)
	if err != nil {
		return fmt.Errorf("destination URI %q has no port", uri)
	}
	if err := ValidatePort(port); err != nil {
		return fmt.Errorf("destination URI %q: %w", uri, err)
	}
	return nil
}

// SubscribeError is an answer of the Telemetry API other than 200 or 202.
type SubscribeError struct {
	Status int
	Body   string
}

func (e *SubscribeError) Error() string {
	return fmt.Sprintf("telemetry subscribe: status %d: %s", e.Status, e.Body)
}

// Subscribe sends req for the extension extensionID to the Telemetry API under
// runtimeAPIBase ("http://host:port", see extapi.Client.RuntimeAPIBase). It returns
// nil on 200, ErrNotAvailable on 202 and an error for anything else.
func Subscribe(ctx context.Context, hc *http.Client, runtimeAPIBase, extensionID string, req SubscribeRequest) error {
	if err := req.Validate(); err != nil {
		return fmt.Errorf("telemetry subscribe: %w", err)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("telemetry subscribe: %w", err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPut, runtimeAPIBase+"/2022-07-01/telemetry", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("telemetry subscribe: %w", err)
	}
	hreq.Header.Set("Lambda-Extension-Identifier", extensionID)
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(hreq)
	if err != nil {
		return fmt.Errorf("telemetry subscribe: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch resp.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusAccepted:
		return ErrNotAvailable
	default:
		return &SubscribeError{Status: resp.StatusCode, Body: strings.TrimSpace(string(answer))}
	}
}
