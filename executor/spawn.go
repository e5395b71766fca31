package executor

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Every process nsup's init starts, the tree's (a Spawn step and its proc
// steps) and nsup exec's, is started here: a raw clone(2) of init's
// calling thread, whose child puts its fds in place and runs the proc
// steps as a rawProg (raw.go), the same raw stage as the launcher's, to
// its execve. Go's ForkExec is not used: it has no place between the
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

	// As Go's own ForkExec: no fd is made without close-on-exec while the
	// process is copied, and no signal handler runs in the copy.
	syscall.ForkLock.Lock()
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&block)), uintptr(unsafe.Pointer(&old)), 8, 0, 0)
	p.mask = old
	pid, _, e := syscall.RawSyscall6(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	if pid == 0 && e == 0 {
		rawPlace(p, p.ops[0].step)
		rawRun(p)
		rawFailed(p, p.ops[0].step, partCall, syscall.EINVAL) // a program without an execve
	}
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&old)), 0, 8, 0, 0)
	syscall.ForkLock.Unlock()
	repW.Close()
	if e != 0 {
		return 0, e
	}
	var b [24]byte
	if _, err := io.ReadFull(rep, b[:]); err != nil {
		return int(pid), nil // EOF: closed by the execve
	}
	what, step, value := binary.NativeEndian.Uint64(b[0:]), binary.NativeEndian.Uint64(b[8:]), binary.NativeEndian.Uint64(b[16:])
	if what == reportPaused {
		return 0, &rawFailure{step: int(step), paused: true}
	}
	return 0, &rawFailure{step: int(step), err: unix.Errno(value)}
}
