package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"{{ cookiecutter.go_module }}/tools/internal/emulator"
)

// A session is one run of one extension under the emulator: start, N INVOKEs, SHUTDOWN.
// Each runs in a child process of the bench (the bench binary with -session), so that
// the only process that child ever waits for is the extension, and its rusage gives the
// extension's peak RSS without any help from the emulator.

// sessionRequest is what the bench sends a session process on stdin.
type sessionRequest struct {
	Binary  string        `json:"binary"`
	Env     []string      `json:"env"`
	Invokes int           `json:"invokes"`
	Spacing time.Duration `json:"spacing"`
	Log     string        `json:"log"` // file for the extension's stdout and stderr
}

// sessionResult is what a session process answers on stdout.
type sessionResult struct {
	Init     time.Duration   `json:"init"`     // process start to first /event/next
	Invokes  []time.Duration `json:"invokes"`  // each INVOKE delivered to back in /event/next
	Shutdown time.Duration   `json:"shutdown"` // SHUTDOWN delivered to process exit
	ExitCode int             `json:"exit_code"`
	PeakRSS  int64           `json:"peak_rss"` // bytes; -1 when the system does not say
	Problems []string        `json:"problems"` // anything that makes the figures invalid
}

// sessionMain is the -session mode: run one emulated lifecycle, answer with its figures.
func sessionMain(stdin io.Reader, stdout io.Writer, stderr io.Writer) int {
	var req sessionRequest
	if err := json.NewDecoder(stdin).Decode(&req); err != nil {
		fmt.Fprintf(stderr, "bench session: read request: %v\n", err)
		return 2
	}
	res, err := runEmulated(context.Background(), req)
	if err != nil {
		fmt.Fprintf(stderr, "bench session: %v\n", err)
		return 1
	}
	if err := json.NewEncoder(stdout).Encode(res); err != nil {
		fmt.Fprintf(stderr, "bench session: write result: %v\n", err)
		return 1
	}
	return 0
}

func runEmulated(ctx context.Context, req sessionRequest) (sessionResult, error) {
	cfg := emulator.Config{
		Binary:  req.Binary,
		Env:     req.Env,
		Invokes: req.Invokes,
		Spacing: req.Spacing,
	}
	if req.Log != "" {
		f, err := os.Create(req.Log)
		if err != nil {
			return sessionResult{}, fmt.Errorf("extension log: %w", err)
		}
		defer f.Close()
		cfg.Output = f
	}
	rep, err := emulator.Run(ctx, cfg)
	if err != nil {
		return sessionResult{}, err
	}
	res := sessionResult{
		Init:     rep.Init,
		ExitCode: rep.ExitCode,
		PeakRSS:  childrenPeakRSS(),
		Problems: append([]string{}, rep.Violations...),
	}
	for _, inv := range rep.Invokes {
		if inv.BackInNext {
			res.Invokes = append(res.Invokes, inv.Extension)
		}
	}
	if rep.Shutdown != nil {
		res.Shutdown = rep.Shutdown.Duration
	}
	if !rep.InitDone {
		res.Problems = append(res.Problems, "init did not complete")
	}
	if len(res.Invokes) != req.Invokes {
		res.Problems = append(res.Problems, fmt.Sprintf("%d of %d invokes came back to /event/next", len(res.Invokes), req.Invokes))
	}
	if rep.Killed {
		res.Problems = append(res.Problems, "the extension was killed")
	}
	if rep.ExitCode != 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("exit code %d", rep.ExitCode))
	}
	for _, r := range rep.ErrorReports {
		res.Problems = append(res.Problems, fmt.Sprintf("%s %s: %s", r.Op, r.Type, r.Message))
	}
	return res, nil
}

// runSession runs req in a session process (this executable with -session) and returns
// its figures; a session whose extension misbehaved is an error, not a figure.
func runSession(ctx context.Context, req sessionRequest) (sessionResult, error) {
	self, err := os.Executable()
	if err != nil {
		return sessionResult{}, fmt.Errorf("session: find the bench executable: %w", err)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return sessionResult{}, fmt.Errorf("session: %w", err)
	}
	cmd := exec.CommandContext(ctx, self, "-session")
	cmd.Stdin = bytes.NewReader(body)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return sessionResult{}, fmt.Errorf("session %s: %w: %s", req.Binary, err, strings.TrimSpace(stderr.String()))
	}
	var res sessionResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return sessionResult{}, fmt.Errorf("session %s: read result: %w", req.Binary, err)
	}
	if len(res.Problems) > 0 {
		hint := ""
		if req.Log != "" {
			hint = " (extension output: " + req.Log + ")"
		}
		return res, fmt.Errorf("session %s: %s%s", req.Binary, strings.Join(res.Problems, "; "), hint)
	}
	return res, nil
}
