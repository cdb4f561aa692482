//go:build !linux

package main

import "testing"

// peakRSS is not measured on this system.
func peakRSS(*testing.T, string, ...string) (int, bool) { return 0, false }
