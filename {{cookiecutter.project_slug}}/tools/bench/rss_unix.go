//go:build unix

package main

import (
	"runtime"
	"syscall"
)

// childrenPeakRSS is the peak resident set size, in bytes, of the largest child process
// this process has waited for; -1 if the system does not say. A session process has
// one child, the extension, so this is the extension's peak RSS.
func childrenPeakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		return -1
	}
	if runtime.GOOS == "darwin" {
		return int64(ru.Maxrss) // bytes on macOS
	}
	return int64(ru.Maxrss) * 1024 // kilobytes on Linux and the BSDs
}
