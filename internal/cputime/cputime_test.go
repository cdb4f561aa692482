package cputime

import (
	"testing"
	"time"
)

func TestProcessGrowsWithWork(t *testing.T) {
	start, ok := Process()
	if !ok {
		t.Skip("no CPU time on this system")
	}
	// Spin until the clock the kernel keeps has certainly moved.
	deadline := time.Now().Add(50 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	end, _ := Process()
	if end <= start {
		t.Errorf("CPU time went from %v to %v over 50ms of spinning (%d loops)", start, end, x)
	}
}
