//go:build !unix

package emulator

import (
	"errors"
	"os"
)

var errNoFreeze = errors.New("freezing a process needs SIGSTOP, which only unix systems have")

func stop(*os.Process) error { return errNoFreeze }
func cont(*os.Process) error { return errNoFreeze }
