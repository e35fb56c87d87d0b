//go:build unix

package emulator

import (
	"os"
	"syscall"
)

// stop and cont freeze and thaw the extension's process, as Lambda freezes an idle
// execution environment. SIGSTOP cannot be caught: the process just stops running,
// timers and goroutines included, until SIGCONT.
func stop(p *os.Process) error { return p.Signal(syscall.SIGSTOP) }
func cont(p *os.Process) error { return p.Signal(syscall.SIGCONT) }
