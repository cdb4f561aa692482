//go:build unix

package audit

import (
	"errors"
	"syscall"
)

// folderAccess reports whether this process may create files in dir, and
// whether dir is on a read-only file system (through which no process can
// write).
func folderAccess(dir string) (writable, readOnlyFS bool) {
	const wOK = 0x2 // W_OK, from unistd.h
	err := syscall.Access(dir, wOK)
	return err == nil, errors.Is(err, syscall.EROFS)
}
