//go:build !unix

package main

// childrenPeakRSS is not available on this system.
func childrenPeakRSS() int64 { return -1 }
