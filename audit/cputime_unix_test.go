//go:build unix

package audit

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user and system) the process has used so
// far, and whether it could be read. Benchmarks report it next to wall time
// because on a shared machine wall time also counts the time spent waiting
// for a CPU.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
