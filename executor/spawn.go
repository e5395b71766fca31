package executor

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Every process nsup's init starts, the tree's (a Spawn step and its proc
// steps) and nsup exec's, is started here: a raw clone(2) of init's
// calling thread (sharing its memory until the execve, on a stack of its
// own), whose child puts its fds in place and runs the proc steps as a
// rawProg (raw.go), the same raw stage as the launcher's, to its execve. Go's ForkExec is not used: it has no place between the
// fork and the execve for the process's own steps (its limits, first),
// and it would give the program the RLIMIT_NOFILE nsup started with. The
// new process inherits from that thread the environment's confinement
// (bounding set, no_new_privs, seccomp filter, session keyring), and
// from init the namespaces and the root.

// rawFailure is a step of a raw program that failed (or, paused, where
// the pause hook stopped it).
type rawFailure struct {
	step   int
	err    error
	paused bool
}

func (f *rawFailure) Error() string { return fmt.Sprintf("step %d: %v", f.step, f.err) }
func (f *rawFailure) Unwrap() error { return f.err }

// spawn starts prog as a new process and returns its pid once its execve
// succeeded, or the step that failed (the process has then exited, and is
// reaped by whoever waits for init's children).
func spawn(p *rawProg) (int, error) {
	if len(p.ops) == 0 {
		return 0, fmt.Errorf("a process without steps: %w", unix.EINVAL)
	}
	p.ppid = uintptr(os.Getpid())
	rep, repW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer rep.Close()
	p.report = repW.Fd()
	block := ^uint64(0)
	var old uint64
	// The new process shares init's memory until its execve, which this
	// thread waits for (CLONE_VM|CLONE_VFORK, as Go's own ForkExec), on a
	// stack of its own: nothing is copied.
	stack, err := unix.Mmap(-1, 0, rawStackSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_STACK)
	if err != nil {
		repW.Close()
		return 0, err
	}
	defer unix.Munmap(stack)
	p.main.kind = entrySpawn

	// As Go's own ForkExec: no fd is made without close-on-exec while the
	// process is copied, and no signal handler runs in the copy.
	syscall.ForkLock.Lock()
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&block)), uintptr(unsafe.Pointer(&old)), 8, 0, 0)
	p.mask = old
	share := uintptr(unix.CLONE_VM | unix.CLONE_VFORK)
	for _, op := range p.ops {
		if op.kind == rawPause {
			share = 0 // a copy: this thread must go on to tell the host
		}
	}
	p.main.args = cloneArgs{flags: uint64(share), exitSignal: uint64(unix.SIGCHLD),
		stack: uint64(uintptr(unsafe.Pointer(&stack[0]))), stackSize: rawStackSize}
	pid, e := rawCloneOnStack(&p.main)
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&old)), 0, 8, 0, 0)
	syscall.ForkLock.Unlock()
	repW.Close()
	runtime.KeepAlive(p)
	if e != 0 {
		return 0, syscall.Errno(e)
	}
	var b [24]byte
	if _, err := io.ReadFull(rep, b[:]); err != nil {
		return int(pid), nil // EOF: closed by the execve
	}
	what, step, value := binary.NativeEndian.Uint64(b[0:]), binary.NativeEndian.Uint64(b[8:]), binary.NativeEndian.Uint64(b[16:])
	if what == reportPaused {
		if resumable(p) {
			return int(pid), nil // it goes on once resumed (execpause.go)
		}
		return 0, &rawFailure{step: int(step), paused: true}
	}
	return 0, &rawFailure{step: int(step), err: unix.Errno(value)}
}
