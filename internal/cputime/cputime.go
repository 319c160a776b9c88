// Package cputime reads the CPU time of the running process, for benchmarks
// that report CPU time next to wall time (steadier on a shared machine).
package cputime

import (
	"syscall"
	"time"
)

// Process returns the user and system CPU time this process has used so
// far, over all its threads; ok is false (and both zero) where getrusage
// fails.
func Process() (user, sys time.Duration, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, false
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano()), true
}
