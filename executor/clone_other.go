//go:build !amd64

package executor

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawClone3OnStack is clone3(2) with e.args, whose child runs
// rawChildEntry(e): here without CLONE_VM (no assembly for this
// architecture), as a copy of nsup's memory on a copy of its stack, as
// fork(2) makes.
//
//go:norace
//go:nosplit
func rawClone3OnStack(e *rawEntry) (pid, errno uintptr) {
	e.args.flags &^= unix.CLONE_VM | unix.CLONE_VFORK
	e.args.stack, e.args.stackSize = 0, 0
	r, _, err := syscall.RawSyscall6(unix.SYS_CLONE3, uintptr(unsafe.Pointer(&e.args)), cloneArgsSize, 0, 0, 0, 0)
	if err != 0 {
		return ^uintptr(0), uintptr(err)
	}
	if r == 0 {
		childEntry(e) // indirect: not the caller's nosplit chain
	}
	return r, 0
}

// rawCloneOnStack is the same with clone(2), for the processes made
// after the syscall filter is loaded (Docker's profile refuses clone3).
//
//go:norace
//go:nosplit
func rawCloneOnStack(e *rawEntry) (pid, errno uintptr) {
	flags := uintptr(e.args.flags&^(unix.CLONE_VM|unix.CLONE_VFORK)) | uintptr(e.args.exitSignal)
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
