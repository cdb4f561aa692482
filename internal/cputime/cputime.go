// Package cputime reads the CPU time the process has used, so that
// benchmarks can report it next to wall time: on a shared machine, CPU time
// does not count the time a benchmark waited for a core.
package cputime

import "time"

// Process returns the user and system CPU time the process has used so far;
// ok is false where the system does not say.
func Process() (d time.Duration, ok bool) { return process() }
