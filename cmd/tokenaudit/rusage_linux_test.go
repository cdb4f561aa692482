package main

import (
	"os"
	"syscall"
)

// peakRSS returns the peak resident memory, in bytes, of the process that
// ended with state ps.
func peakRSS(ps *os.ProcessState) (int, bool) {
	u, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, false
	}
	return int(u.Maxrss) << 10, true // Linux counts Maxrss in KiB
}
