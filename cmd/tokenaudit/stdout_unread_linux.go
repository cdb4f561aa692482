package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// pipeUnread returns how many bytes written to the pipe f its reader has
// not read (FIONREAD on the write end), and whether that could be told.
func pipeUnread(f *os.File) (int, bool) {
	if f == nil {
		return 0, false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return 0, false
	}
	n, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCINQ)
	return n, err == nil
}
