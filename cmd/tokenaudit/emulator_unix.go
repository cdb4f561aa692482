//go:build unix

package main

import "syscall"

// detachedProcAttr starts the background emulator in a session of its own,
// so that the terminal's Ctrl-C and hang-up do not reach it.
func detachedProcAttr() (*syscall.SysProcAttr, error) {
	return &syscall.SysProcAttr{Setsid: true}, nil
}
