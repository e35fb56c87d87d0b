package emulator

import (
	"strings"
	"testing"

	"{{ cookiecutter.go_module }}/extension"
)

func TestCompanionEnvGivesFreePortsAndAToken(t *testing.T) {
	env := companionEnv()
	var s companionState
	s.configure(env)
	if s.token != emulatedSessionToken || !strings.HasPrefix(s.localAddr, "127.0.0.1:") {
		t.Errorf("from %q: addr %q, token %q", env, s.localAddr, s.token)
	}
	// Config.Env comes later and wins, as with os/exec.
	s.configure(append(env, extension.Prefix+"LOCAL_PORT=4244", "AWS_SESSION_TOKEN=mine"))
	if s.localAddr != "127.0.0.1:4244" || s.token != "mine" {
		t.Errorf("overridden: addr %q, token %q", s.localAddr, s.token)
	}
}
