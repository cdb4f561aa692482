package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// peakRSS runs args with stdin and returns its peak resident memory in
// bytes, as GNU time measures it; false when /usr/bin/time is missing.
//
// The rusage of a child of the test process would not do: Linux counts in
// a child's peak the memory of the process it was forked from, until it
// calls exec, and this test process is large (much larger under -race).
// GNU time is small, and forks the command itself.
//
// A collection that stops the world keeps the peak from depending on how
// busy the machine is: concurrent marking lags behind the program on a
// loaded machine, and the heap overshoots.
func peakRSS(t *testing.T, stdin string, args ...string) (int, bool) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		return 0, false
	}
	report, err := os.CreateTemp(t.TempDir(), "time")
	if err != nil {
		t.Fatal(err)
	}
	report.Close()
	cmd := exec.Command("/usr/bin/time", append([]string{"-o", report.Name(), "-f", "%M"}, args...)...)
	cmd.Env = append(os.Environ(), "GODEBUG=gcstoptheworld=1")
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%.2000s", args, err, out)
	}
	text, err := os.ReadFile(report.Name())
	if err != nil {
		t.Fatal(err)
	}
	kib, err := strconv.Atoi(strings.TrimSpace(string(text)))
	if err != nil {
		return 0, false // not GNU time
	}
	return kib << 10, true
}
