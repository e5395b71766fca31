//go:build !amd64

package executor

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// rawCloneOnStack is clone(2) whose child runs rawChildEntry(e): here
// without CLONE_VM (no assembly for this architecture), as a copy of
// nsup's memory on a copy of its stack, as fork(2) makes.
//
//go:norace
//go:nosplit
func rawCloneOnStack(flags, stack uintptr, e *rawEntry) (pid, errno uintptr) {
	flags &^= unix.CLONE_VM | unix.CLONE_VFORK
	r, _, err := syscall.RawSyscall6(unix.SYS_CLONE, flags, 0, 0, 0, 0, 0)
	if err != 0 {
		return ^uintptr(0), uintptr(err)
	}
	if r == 0 {
		childEntry(e) // indirect: not the caller's nosplit chain
	}
	return r, 0
}

// cloneVM says rawCloneOnStack honours CLONE_VM.
const cloneVM = false

var childEntry func(*rawEntry)

func init() { childEntry = rawChildEntry }
