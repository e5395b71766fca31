package executor

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// Every process started inside an environment, by init (the tree's Start
// steps) or for nsup exec, is started here: a raw clone(2) of init's
// calling thread, which makes raw system calls only (as Go's own
// syscall.forkAndExecInChild does) and then executes the program. Go's
// ForkExec is not used: it has no place between the fork and the execve
// for the process's resource limits, and it would give back to the
// program the RLIMIT_NOFILE nsup started with, not the planned one. The
// new process inherits from that thread the environment's confinement
// (bounding set, no_new_privs, seccomp filter, session keyring), and
// from init the namespaces and the root.

// spawnAttr is one process to start.
type spawnAttr struct {
	path       string
	argv, env  []string
	dir        string
	uid, gid   uint32
	setgroups  bool   // setgroups(0, []): drop the supplementary groups (denied in a rootless user namespace)
	stdio      [3]int // init's fds that become 0, 1 and 2
	rlimits    []planner.Prlimit
	setsid     bool // a session of its own
	ctty       bool // fd 0, a terminal, its controlling terminal (TIOCSCTTY)
	pdeathsig  bool // die with the thread that started it
	parentPid  int  // its parent, init: getppid(2) checks it is still there
	limits     [16][2]uint64
	resources  [16]uintptr
	nlimits    int
	report     uintptr
	path0, cwd *byte
	argvp      []*byte
	envp       []*byte
	oldmask    uint64
	blockall   uint64
	nomask     uint64
}

//go:norace
//go:nosplit
func spawnFail(a *spawnAttr, e syscall.Errno) {
	v := uint64(e)
	syscall.RawSyscall(unix.SYS_WRITE, a.report, uintptr(unsafe.Pointer(&v)), 8)
	for {
		syscall.RawSyscall(unix.SYS_EXIT_GROUP, 127, 0, 0)
	}
}

// spawnChild is the new process before its execve.
//
//go:norace
//go:nosplit
func spawnChild(a *spawnAttr) {
	// The fds: out of the way first (close-on-exec copies above 10),
	// then into place, so that no source is overwritten before it is
	// copied.
	var tmp [3]uintptr
	for i := range a.stdio {
		fd, _, e := syscall.RawSyscall(unix.SYS_FCNTL, uintptr(a.stdio[i]), unix.F_DUPFD_CLOEXEC, 10)
		if e != 0 {
			spawnFail(a, e)
		}
		tmp[i] = fd
	}
	for i := range tmp {
		if _, _, e := syscall.RawSyscall(unix.SYS_DUP3, tmp[i], uintptr(i), 0); e != 0 {
			spawnFail(a, e)
		}
	}
	if a.setsid {
		if _, _, e := syscall.RawSyscall(unix.SYS_SETSID, 0, 0, 0); e != 0 {
			spawnFail(a, e)
		}
	}
	if a.ctty {
		if _, _, e := syscall.RawSyscall(unix.SYS_IOCTL, 0, unix.TIOCSCTTY, 0); e != 0 {
			spawnFail(a, e)
		}
	}
	// The limits while the process is still init's (raising one needs a
	// capability the credentials below may drop).
	for i := range a.limits {
		if i >= a.nlimits {
			break
		}
		if _, _, e := syscall.RawSyscall6(unix.SYS_PRLIMIT64, 0, a.resources[i], uintptr(unsafe.Pointer(&a.limits[i])), 0, 0, 0); e != 0 {
			spawnFail(a, e)
		}
	}
	if a.setgroups {
		// Only if there are groups to drop: setgroups(2) needs
		// CAP_SETGID, which the environment may not keep (the launcher
		// dropped nsup's groups for the stage already).
		if n, _, _ := syscall.RawSyscall(unix.SYS_GETGROUPS, 0, 0, 0); n != 0 {
			if _, _, e := syscall.RawSyscall(unix.SYS_SETGROUPS, 0, 0, 0); e != 0 {
				spawnFail(a, e)
			}
		}
	}
	if _, _, e := syscall.RawSyscall(unix.SYS_SETRESGID, uintptr(a.gid), uintptr(a.gid), uintptr(a.gid)); e != 0 {
		spawnFail(a, e)
	}
	if _, _, e := syscall.RawSyscall(unix.SYS_SETRESUID, uintptr(a.uid), uintptr(a.uid), uintptr(a.uid)); e != 0 {
		spawnFail(a, e)
	}
	if a.pdeathsig {
		// After the credentials, which clear it (prctl(2)); and not be
		// born an orphan.
		syscall.RawSyscall(unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0)
		if ppid, _, _ := syscall.RawSyscall(unix.SYS_GETPPID, 0, 0, 0); int(ppid) != a.parentPid {
			syscall.RawSyscall(unix.SYS_EXIT_GROUP, 1, 0, 0)
		}
	}
	if _, _, e := syscall.RawSyscall(unix.SYS_CHDIR, uintptr(unsafe.Pointer(a.cwd)), 0, 0); e != 0 {
		spawnFail(a, e)
	}
	// No signal blocked in the program: the mask is inherited by execve.
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&a.nomask)), 0, 8, 0, 0)
	_, _, e := syscall.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(a.path0)),
		uintptr(unsafe.Pointer(&a.argvp[0])), uintptr(unsafe.Pointer(&a.envp[0])))
	spawnFail(a, e)
}

// spawn starts a process and returns its pid once its execve succeeded,
// or the errno it failed with (the process has then exited, and is
// reaped by whoever waits for init's children).
func spawn(a *spawnAttr) (int, error) {
	var err error
	if a.path0, err = unix.BytePtrFromString(a.path); err != nil {
		return 0, err
	}
	if a.cwd, err = unix.BytePtrFromString(a.dir); err != nil {
		return 0, err
	}
	if a.argvp, err = syscall.SlicePtrFromStrings(a.argv); err != nil {
		return 0, err
	}
	if a.envp, err = syscall.SlicePtrFromStrings(a.env); err != nil {
		return 0, err
	}
	if len(a.rlimits) > len(a.limits) {
		return 0, fmt.Errorf("%d resource limits: %w", len(a.rlimits), unix.EINVAL)
	}
	for i, l := range a.rlimits {
		a.resources[i], a.limits[i] = uintptr(l.Resource), [2]uint64{l.Soft, l.Hard}
	}
	a.nlimits = len(a.rlimits)
	a.parentPid = os.Getpid()
	a.blockall = ^uint64(0)
	rep, repW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer rep.Close()
	a.report = repW.Fd()

	// As Go's own ForkExec: no fd is made without close-on-exec while the
	// process is copied, and no signal handler runs in the copy.
	syscall.ForkLock.Lock()
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&a.blockall)), uintptr(unsafe.Pointer(&a.oldmask)), 8, 0, 0)
	pid, _, e := syscall.RawSyscall6(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	if pid == 0 && e == 0 {
		spawnChild(a)
	}
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&a.oldmask)), 0, 8, 0, 0)
	syscall.ForkLock.Unlock()
	repW.Close()
	if e != 0 {
		return 0, e
	}
	var b [8]byte
	n, _ := readFull(rep, b[:])
	if n == 8 {
		return 0, syscall.Errno(*(*uint64)(unsafe.Pointer(&b[0])))
	}
	return int(pid), nil
}

// readFull reads until b is full or the writer is gone (EOF: the execve
// closed the pipe).
func readFull(f *os.File, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := f.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
