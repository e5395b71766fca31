package executor

// rawCloneOnStack is clone(2) whose child runs rawChildEntry(e) on a
// stack of its own (clone_amd64.s), so that it may share nsup's memory
// (CLONE_VM): nothing of nsup's address space is copied, and no page of
// it is copied on a write afterwards.
//
//go:noescape
func rawCloneOnStack(flags, stack uintptr, e *rawEntry) (pid, errno uintptr)

// cloneVM says rawCloneOnStack honours CLONE_VM.
const cloneVM = true
