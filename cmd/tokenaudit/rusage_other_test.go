//go:build !linux

package main

import "os"

// peakRSS is not measured on this system.
func peakRSS(*os.ProcessState) (int, bool) { return 0, false }
