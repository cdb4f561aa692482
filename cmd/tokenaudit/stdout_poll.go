//go:build linux || darwin

package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// stdoutGone reports whether the reader of f (a pipe or a socket) has gone
// away, without writing to it: poll says POLLERR or POLLHUP, as GNU tail
// checks for its --follow. A terminal or a file never goes away.
func stdoutGone(f *os.File) func() bool {
	return func() bool {
		fds := []unix.PollFd{{Fd: int32(f.Fd())}}
		n, err := unix.Poll(fds, 0)
		return err == nil && n > 0 && fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0
	}
}
