package extapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Header names of the Extensions API.
const (
	headerName          = "Lambda-Extension-Name"
	headerIdentifier    = "Lambda-Extension-Identifier"
	headerAcceptFeature = "Lambda-Extension-Accept-Feature"
	headerErrorType     = "Lambda-Extension-Function-Error-Type"
)

// maxEventBytes bounds how much of an /event/next answer is read; real events are a
// few hundred bytes.
const maxEventBytes = 1 << 20

// StatusError is an answer with an unexpected HTTP status.
type StatusError struct {
	Op     string // "register", "next", "init/error", "exit/error"
	Status int
	Body   string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: status %d: %s", e.Op, e.Status, e.Body)
}

// ErrMalformedEvent wraps an /event/next answer that is not a JSON event.
var ErrMalformedEvent = errors.New("malformed event")

// Client calls the Extensions API. Create it with New; it is safe for one event loop.
type Client struct {
	base string
	name string
	http *http.Client
	id   string
}

// New returns a client of the Extensions API at runtimeAPI (host:port, the value of
// AWS_LAMBDA_RUNTIME_API) for the extension called name, which must be the file name of
// the executable: Lambda matches it against the files in /opt/extensions.
//
// The HTTP client has no overall timeout on purpose: GET /event/next blocks while the
// execution environment is idle or frozen, possibly for hours. Calls are bounded by
// their context instead.
func New(runtimeAPI, name string) *Client {
	return &Client{
		base: "http://" + runtimeAPI + "/2020-01-01/extension",
		name: name,
		http: &http.Client{},
	}
}

// Name is the name the client registers with.
func (c *Client) Name() string { return c.name }

// ID is the extension identifier returned by Register; empty before it.
func (c *Client) ID() string { return c.id }

// RuntimeAPIBase is the scheme and host of the runtime API, for sibling APIs such as
// the Telemetry API.
func (c *Client) RuntimeAPIBase() string {
	return strings.TrimSuffix(c.base, "/2020-01-01/extension")
}

// Register registers the extension for events and keeps the identifier for later calls.
func (c *Client) Register(ctx context.Context, events ...string) (Registration, error) {
	body, err := json.Marshal(map[string][]string{"events": events})
	if err != nil {
		return Registration{}, fmt.Errorf("register: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/register", bytes.NewReader(body))
	if err != nil {
		return Registration{}, fmt.Errorf("register: %w", err)
	}
	req.Header.Set(headerName, c.name)
	req.Header.Set(headerAcceptFeature, "accountId")
	req.Header.Set("Content-Type", "application/json")

	resp, err := c.do(req, "register", http.StatusOK)
	if err != nil {
		return Registration{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxEventBytes))
	if err != nil {
		return Registration{}, fmt.Errorf("register: read answer: %w", err)
	}
	reg, err := DecodeRegistration(resp.Header.Get(headerIdentifier), data)
	if err != nil {
		return Registration{}, fmt.Errorf("register: %w", err)
	}
	c.id = reg.ExtensionID
	return reg, nil
}

// DecodeRegistration reads register's answer: the Lambda-Extension-Identifier
// header's value and the JSON body. Unknown fields are ignored.
func DecodeRegistration(id string, body []byte) (Registration, error) {
	var reg Registration
	if err := json.Unmarshal(body, &reg); err != nil {
		return Registration{}, fmt.Errorf("decode answer: %w", err)
	}
	if id == "" {
		return Registration{}, fmt.Errorf("answer has no %s header", headerIdentifier)
	}
	reg.ExtensionID = id
	return reg, nil
}

// Next blocks until Lambda delivers the next event or ctx ends. It sets no timeout of
// its own. A body that is not a JSON object gives an error wrapping ErrMalformedEvent;
// unknown fields and event types are passed through for the caller to decide.
func (c *Client) Next(ctx context.Context) (Event, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/event/next", nil)
	if err != nil {
		return Event{}, fmt.Errorf("next: %w", err)
	}
	req.Header.Set(headerIdentifier, c.id)
	resp, err := c.do(req, "next", http.StatusOK)
	if err != nil {
		return Event{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxEventBytes))
	if err != nil {
		return Event{}, fmt.Errorf("next: read event: %w", err)
	}
	ev, err := DecodeEvent(data)
	if err != nil {
		return Event{}, fmt.Errorf("next: %w", err)
	}
	return ev, nil
}

// DecodeEvent reads one /event/next answer. A body that is not a JSON object with an
// eventType gives an error wrapping ErrMalformedEvent; unknown fields and event types
// pass through.
func DecodeEvent(data []byte) (Event, error) {
	var ev Event
	if err := json.Unmarshal(data, &ev); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrMalformedEvent, err)
	}
	if ev.EventType == "" {
		return Event{}, fmt.Errorf("%w: no eventType in %.200q", ErrMalformedEvent, data)
	}
	return ev, nil
}

// InitError reports a failure during initialisation. Lambda answers 202; after it, no
// further call succeeds and the extension should exit.
func (c *Client) InitError(ctx context.Context, errorType string, cause error) error {
	return c.reportError(ctx, "init/error", errorType, cause)
}

// ExitError reports a failure after initialisation, before the extension exits.
func (c *Client) ExitError(ctx context.Context, errorType string, cause error) error {
	return c.reportError(ctx, "exit/error", errorType, cause)
}

func (c *Client) reportError(ctx context.Context, path, errorType string, cause error) error {
	message := ""
	if cause != nil {
		message = cause.Error()
	}
	body, err := json.Marshal(struct {
		ErrorMessage string   `json:"errorMessage"`
		ErrorType    string   `json:"errorType"`
		StackTrace   []string `json:"stackTrace"`
	}{message, errorType, []string{}})
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/"+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	req.Header.Set(headerIdentifier, c.id)
	req.Header.Set(headerErrorType, errorType)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.do(req, path, http.StatusAccepted, http.StatusOK)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxEventBytes))
	resp.Body.Close()
	return nil
}

// do sends req and returns the response when its status is one of ok; otherwise it
// closes the body and returns a *StatusError.
func (c *Client) do(req *http.Request, op string, ok ...int) (*http.Response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	for _, status := range ok {
		if resp.StatusCode == status {
			return resp, nil
		}
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return nil, &StatusError{Op: op, Status: resp.StatusCode, Body: strings.TrimSpace(string(msg))}
}
