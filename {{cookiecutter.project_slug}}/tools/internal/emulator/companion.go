package emulator

import (
	"net"
	"strconv"

	"{{ cookiecutter.go_module }}/extension"
)

// companionEnv gives the extension's companion (a local API, a Runtime API proxy) a
// free port each, as PREFIX_LOCAL_PORT and PREFIX_PROXY_PORT: emulated extensions run
// side by side (tests, bench), and a fixed default port would collide. Config.Env
// overrides them. Bakes without a companion ignore both. The prefix is the
// extension's own (extension.Prefix), whatever the binary's file name.
func companionEnv() []string {
	prefix := extension.Prefix
	var env []string
	for _, name := range []string{"LOCAL_PORT", "PROXY_PORT"} {
		if port, err := freePort(); err == nil {
			env = append(env, prefix+name+"="+strconv.Itoa(port))
		}
	}
	return env
}

// freePort is a loopback port nobody listened on a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
