package executor

import "unsafe"

// rawClone3OnStack is clone3(2) with e.args, whose child runs
// rawChildEntry(e) on a stack of its own (clone_amd64.s), so that it may
// share nsup's memory (CLONE_VM): nothing of nsup's address space is
// copied, and no page of it is copied on a write afterwards. The
// launcher's clone: before any syscall filter, and the call that can
// place the child in a cgroup (CLONE_INTO_CGROUP).
//
//go:noescape
func rawClone3OnStack(e *rawEntry) (pid, errno uintptr)

// rawCloneOnStack is the same with clone(2) (flags|exitSignal, the top of
// the stack): for the processes made after the syscall filter is loaded
// (a Monitor's main process, init's), which Docker's profile refuses
// clone3 (ENOSYS: a filter cannot read its flags, which are in memory).
//
//go:noescape
func rawCloneOnStack(e *rawEntry) (pid, errno uintptr)

// cloneVM says rawCloneOnStack honours CLONE_VM.
const cloneVM = true

// What clone_amd64.s takes for granted, checked by the compiler (a
// constant conversion that overflows does not compile): struct clone_args
// is 88 bytes, e.args is at e's address, and flags, exit_signal, stack and
// stack_size are at 0, 32, 40 and 48.
const (
	_ = uint(unsafe.Sizeof(cloneArgs{}) - 88)
	_ = uint(88 - unsafe.Sizeof(cloneArgs{}))
	_ = uint(0 - unsafe.Offsetof(rawEntry{}.args))
	_ = uint(0 - unsafe.Offsetof(cloneArgs{}.flags))
	_ = uint(unsafe.Offsetof(cloneArgs{}.exitSignal) - 32)
	_ = uint(32 - unsafe.Offsetof(cloneArgs{}.exitSignal))
	_ = uint(unsafe.Offsetof(cloneArgs{}.stack) - 40)
	_ = uint(40 - unsafe.Offsetof(cloneArgs{}.stack))
	_ = uint(unsafe.Offsetof(cloneArgs{}.stackSize) - 48)
	_ = uint(48 - unsafe.Offsetof(cloneArgs{}.stackSize))
)
