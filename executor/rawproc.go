package executor

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The raw steps of a process: its parent-death signal, its execve, and
// the minimal PID 1 that forks the main process and waits for it.

//go:norace
//go:nosplit
func rawDoPdeath(p *rawProg, op *rawOp) {
	if _, _, e := syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, op.a[0], 0, 0, 0, 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	if op.a[0] != 0 {
		if ppid, _, _ := syscall.RawSyscall6(unix.SYS_GETPPID, 0, 0, 0, 0, 0, 0); ppid != p.ppid {
			rawExit(1) // the parent is gone already
		}
		rawLifeline(p)
	}
}

// rawLifeline exits if nsup has exited: its pidfd is readable then. A
// parent-death signal set after that would never come.
//
//go:norace
//go:nosplit
func rawLifeline(p *rawProg) {
	if p.lifeline == ^uintptr(0) {
		return
	}
	p.pollfd[0], p.pollfd[1] = int32(p.lifeline), unix.POLLIN
	p.ts.Sec, p.ts.Nsec = 0, 0
	if n, _, e := syscall.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&p.pollfd[0])), 1, uintptr(unsafe.Pointer(&p.ts)), 0, 8, 0); e == 0 && n > 0 {
		rawExit(1)
	}
}

// rawUnblock gives the signals back before an execve: their handlers
// first, nsup's runtime's, reset to the default (which the execve does
// anyway), so that none can run in this copy, then the mask the process
// had before the clone.
//
//go:norace
//go:nosplit
func rawUnblock(p *rawProg) {
	for sig := uintptr(1); sig <= 64; sig++ {
		if sig == uintptr(unix.SIGKILL) || sig == uintptr(unix.SIGSTOP) {
			continue
		}
		syscall.RawSyscall6(unix.SYS_RT_SIGACTION, sig, uintptr(unsafe.Pointer(&p.dfl[0])), 0, 8, 0, 0)
	}
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&p.mask)), 0, 8, 0, 0)
}

// rawDoExec is the execve that ends the program: of the path s[0], or,
// flag set, of nsup's binary through its fd (execveat(2), AT_EMPTY_PATH).
//
//go:norace
//go:nosplit
func rawDoExec(p *rawProg, op *rawOp) {
	rawUnblock(p)
	var e syscall.Errno
	if op.flag != 0 {
		_, _, e = syscall.RawSyscall6(unix.SYS_EXECVEAT, p.exe, uintptr(unsafe.Pointer(&empty[0])),
			uintptr(unsafe.Pointer(op.argv)), uintptr(unsafe.Pointer(op.envv)), unix.AT_EMPTY_PATH, 0)
	} else {
		// Every fd but the process's own (0 to nfds-1) and the report
		// pipe closed now, not only marked close-on-exec: the kernel
		// resolves the path, and a script's interpreter, with this fd
		// table, and /proc/self/fd/N of an fd of nsup's (its binary, a
		// folder) would lead out of the tree (runc closes its own fds
		// before its execve for this, CVE-2024-21626).
		// The child stage closed nsup's own before its filter
		// (rawCloseFds); a process init starts has init's.
		if e := rawCloseFrom(p, uintptr(max(p.nfds, 3)), false); e != 0 {
			p.sigset = ^uint64(0)
			syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&p.sigset)), 0, 8, 0, 0)
			rawFailed(p, op.step, partCall, e)
		}
		_, _, e = syscall.RawSyscall6(unix.SYS_EXECVE, uintptr(unsafe.Pointer(op.s[0])),
			uintptr(unsafe.Pointer(op.argv)), uintptr(unsafe.Pointer(op.envv)), 0, 0, 0)
	}
	// Blocked again: the failure is reported, and this copy exits.
	p.sigset = ^uint64(0)
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&p.sigset)), 0, 8, 0, 0)
	rawFailed(p, op.step, partCall, e)
}

// rawBlank zeroes nsup's command line and environment (p.blank) in this
// process, a copy of nsup's memory, and forgets them: a copy of this copy
// (the forked copy's Monitor) has them blanked already.
//
//go:norace
//go:nosplit
func rawBlank(p *rawProg) {
	for k := range p.blank {
		for j := uintptr(0); j < p.blank[k].len; j++ {
			*(*byte)(unsafe.Add(p.blank[k].at, j)) = 0
		}
		p.blank[k].len = 0
	}
}

// rawDoMonitor forks the main process, which runs the steps after the
// ith (its proc steps) to its execve, and makes this process, PID 1 of
// the environment's pid namespace, its minimal monitor, as bubblewrap's:
// every signal stays blocked and is taken by rt_sigtimedwait(2), so no
// handler of nsup's runtime ever runs here. It reaps every child
// (orphans are reparented to it), forwards SIGINT, SIGHUP, SIGQUIT,
// SIGUSR1, SIGUSR2 and SIGWINCH to the main process, answers SIGTERM by
// SIGTERM to it and SIGKILL once a[0] ns have passed (at once for 0),
// and exits with the main process's status (128 + its signal) when it
// ends: the kernel then kills whatever else is left in the namespace.
// The fork shares this memory until the main process's execve, which it
// waits for (CLONE_VM|CLONE_VFORK, on a stack of its own): no page is
// copied.
//
//go:norace
//go:nosplit
func rawDoMonitor(p *rawProg, i int) {
	op := &p.ops[i]
	self, _, _ := syscall.RawSyscall6(unix.SYS_GETPID, 0, 0, 0, 0, 0, 0)
	p.ppid = self
	p.main.next = i + 1 // main's kind, program and clone3 arguments are set before the clone
	// nsup's command line and environment, which this copy has, blanked
	// before the main process exists (it could read /proc/1/cmdline at
	// once); it needs neither (its arguments are the program's).
	rawBlank(p)
	pid, e := rawCloneOnStack(&p.main)
	if e != 0 {
		rawFailed(p, op.step, partCall, syscall.Errno(e))
	}
	// Nothing of the environment's stays open here: its stdio, nsup's
	// report pipe (the main process holds its own copy until its execve).
	syscall.RawSyscall6(unix.SYS_CLOSE_RANGE, 0, ^uintptr(0), 0, 0, 0, 0)
	p.sigset = ^uint64(0)
	stopping := false
	for {
		var timeout uintptr
		if stopping && p.deadline >= 0 {
			now := rawNow(p)
			left := p.deadline - now
			if left <= 0 {
				syscall.RawSyscall6(unix.SYS_KILL, pid, uintptr(unix.SIGKILL), 0, 0, 0, 0)
				p.deadline = -1
				continue
			}
			p.ts.Sec, p.ts.Nsec = left/1e9, left%1e9
			timeout = uintptr(unsafe.Pointer(&p.ts))
		}
		sig, _, e := syscall.RawSyscall6(unix.SYS_RT_SIGTIMEDWAIT, uintptr(unsafe.Pointer(&p.sigset)), uintptr(unsafe.Pointer(&p.siginfo[0])), timeout, 8, 0, 0)
		if e != 0 {
			continue // EAGAIN: the grace period is over (checked above); EINTR
		}
		switch syscall.Signal(sig) {
		case unix.SIGCHLD:
			for {
				r, _, e := syscall.RawSyscall6(unix.SYS_WAIT4, ^uintptr(0), uintptr(unsafe.Pointer(&p.status)), unix.WNOHANG, 0, 0, 0)
				if e != 0 || r == 0 {
					break
				}
				if r == pid {
					ws := syscall.WaitStatus(p.status)
					if ws.Signaled() {
						rawExit(128 + uintptr(ws.Signal()))
					}
					rawExit(uintptr(ws.ExitStatus()))
				}
			}
		case unix.SIGTERM:
			if stopping {
				continue
			}
			stopping = true
			if op.a[0] == 0 {
				syscall.RawSyscall6(unix.SYS_KILL, pid, uintptr(unix.SIGKILL), 0, 0, 0, 0)
				p.deadline = -1
				continue
			}
			syscall.RawSyscall6(unix.SYS_KILL, pid, uintptr(unix.SIGTERM), 0, 0, 0, 0)
			p.deadline = rawNow(p) + int64(op.a[0])
		case unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH:
			syscall.RawSyscall6(unix.SYS_KILL, pid, sig, 0, 0, 0, 0)
		}
	}
}

// rawNow is CLOCK_MONOTONIC in ns.
//
//go:norace
//go:nosplit
func rawNow(p *rawProg) int64 {
	syscall.RawSyscall6(unix.SYS_CLOCK_GETTIME, unix.CLOCK_MONOTONIC, uintptr(unsafe.Pointer(&p.ts)), 0, 0, 0, 0)
	return p.ts.Sec*1e9 + p.ts.Nsec
}
