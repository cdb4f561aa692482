package main

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// waitPipeRead waits until the pipe f, written to by this process, holds
// no unread byte (FIONREAD), or fails with EPIPE when its reader closes it
// first (poll reports POLLERR on the write end) or when ctx ends.
func waitPipeRead(ctx context.Context, f *os.File) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return nil
	}
	wait := time.Millisecond
	for {
		var unread int
		var perr error
		gone := false
		cerr := sc.Control(func(fd uintptr) {
			unread, perr = unix.IoctlGetInt(int(fd), unix.TIOCINQ) // FIONREAD
			if perr != nil || unread == 0 {
				return
			}
			fds := []unix.PollFd{{Fd: int32(fd)}} // POLLERR and POLLHUP are always reported
			if _, err := unix.Poll(fds, int(wait/time.Millisecond)); err == nil {
				gone = fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0
			}
		})
		switch {
		case cerr != nil || perr != nil || unread == 0:
			return nil // read, or this system cannot tell: a completed write is a delivery
		case gone:
			return fmt.Errorf("the reader closed the pipe with %d bytes unread: %w", unread, syscall.EPIPE)
		case ctx.Err() != nil:
			return fmt.Errorf("interrupted before the reader read it: %w", ctx.Err())
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}
