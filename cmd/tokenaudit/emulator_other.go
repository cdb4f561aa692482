//go:build !unix

package main

import (
	"errors"
	"syscall"
)

// detachedProcAttr refuses: the background emulator inherits its listening
// socket as a file descriptor, which only Unix systems pass on.
func detachedProcAttr() (*syscall.SysProcAttr, error) {
	return nil, errors.New("emulator: --detach works on Unix systems only: run the emulator in a terminal of its own")
}
