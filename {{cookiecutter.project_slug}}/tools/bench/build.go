package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// builder runs the Go toolchain the way the Makefile does: static, stripped,
// reproducible binaries, so the sizes measured are the sizes shipped.
type builder struct {
	goCmd string // the go command
}

// ldflags and flags match GO_BUILD_FLAGS in the Makefile.
var buildFlags = []string{"-trimpath", "-ldflags", "-s -w -buildid="}

// build compiles pkg (e.g. ./cmd/NAME) of the module in dir to out for goos/goarch
// ("" for the host).
func (b builder) build(ctx context.Context, dir, pkg, out, goos, goarch string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("build %s: %w", pkg, err)
	}
	args := append([]string{"build"}, buildFlags...)
	args = append(args, "-o", out, pkg)
	env := []string{"CGO_ENABLED=0"}
	if goos != "" {
		env = append(env, "GOOS="+goos, "GOARCH="+goarch)
	}
	_, err := b.output(ctx, dir, env, args...)
	return err
}

// output runs the go command in dir with extra environment variables and returns
// its stdout; stderr goes into the error.
func (b builder) output(ctx context.Context, dir string, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, b.goCmd, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s %s: %w\n%s", b.goCmd, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// layerZip packages bin as a layer zip holding entry, with the project's own
// tools/layerzip (built once to tool).
func layerZip(ctx context.Context, tool, bin, entry, out string) error {
	cmd := exec.CommandContext(ctx, tool, "-o", out, "-entry", entry, bin)
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("layerzip %s: %w\n%s", out, err, strings.TrimSpace(string(output)))
	}
	return nil
}

func fileSize(path string) (int64, error) {
	info, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return info.Size(), nil
}
