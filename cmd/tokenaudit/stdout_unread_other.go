//go:build !linux

package main

import "os"

// pipeUnread cannot tell, here, what a pipe's reader has not read.
func pipeUnread(*os.File) (int, bool) { return 0, false }
