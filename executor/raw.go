package executor

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The raw stages. The launcher's child (the child stage) and every new
// process before its execve (the proc steps) run a rawProg: steps turned
// into system calls before the fork (rawprep.go), made by the copy of one
// thread of nsup, which has a Go runtime that believes it still has all
// its threads, so it must not allocate, grow its stack, be preempted or
// take a lock: these functions are nosplit, use only the program's
// memory, and run with every signal blocked (as the child half of Go's
// syscall.forkAndExecInChild). A failed step is reported as (step, part,
// errno) over the report pipe, which the execve at the end closes.

// rawProg is one raw program and its working memory.
type rawProg struct {
	ops []rawOp
	// pins keeps alive what the steps' arguments point to (rawBuilder.pin).
	pins []unsafe.Pointer
	// report is the write end of the report pipe (close-on-exec).
	report uintptr
	// fds[:nfds] become the process's 0, 1, 2, ...: stdio and, for
	// nsup's init, the setup socket, the lock and the control socket.
	fds  [6]uintptr
	nfds int
	// exe is nsup's binary (execveat of init), or ^0.
	exe uintptr
	// ppid is what getppid(2) says while the parent lives: checked after
	// the parent-death signal is set, so that none is born an orphan.
	ppid uintptr
	// mask is the signal mask restored before the execve.
	mask uint64
	// main is the entry of the process a Monitor step forks, on a stack
	// of its own (it shares this memory until its execve).
	main rawEntry
	// launch is the launcher's child's entry.
	launch rawEntry

	// lifeline is a pidfd of nsup (^0 without one): readable once nsup
	// has exited (rawLifeline).
	lifeline uintptr
	pollfd   [2]int32
	// pidns is the pid namespace the stage joins after its root switch
	// (^0 without one, or once joined), proc's for it before: rawlate.go;
	// pair and late are that step's socket pair and clone3 arguments,
	// noClone3 that clone3 is refused (clone(2) then).
	pidns    uintptr
	pair     [2]int32
	late     cloneArgs
	noClone3 bool

	// rootFD is the root's handle, opened for the path at rootOf
	// (rawOpenRoot). (An address, not a pointer: the raw stages write no
	// pointer, whose write barrier would call into the runtime.)
	rootFD uintptr
	rootOf uintptr
	// kept is the fd of the mount a Detached bind made, for the
	// MountSetattr (ByFD) that follows it; ^0 when none.
	kept uintptr
	// held are the fds of the mounts the Held steps made (proc, sysfs,
	// binds), one per held target, which the steps beneath them resolve
	// their paths from; ^0 where none. Its length, one slot per target
	// the plan holds, is fixed before the fork (rawheld.go).
	held []uintptr
	// trees are the host's clones of nsup's folders (OpenTree), one
	// per bind that moves one in (hosttree.go); ^0 once taken.
	trees []uintptr

	// blank are nsup's command line and environment in this process's
	// memory (from /proc/self/stat), which a Monitor, a copy of nsup that
	// stays, blanks: /proc/1/cmdline is for every process inside to read.
	// Unset (nil) in a process that shares nsup's memory.
	blank [2]memArea

	// Scratch, one step at a time.
	how      [9]unix.OpenHow // see rawHow*
	st       unix.Stat_t
	fdpath   [3][32]byte
	ovlConf  [8]*byte // an overlay's options for fsconfig, set before the fork (overlayTreeConf)
	data     [320]byte
	capHdr   unix.CapUserHeader
	capData  [2]unix.CapUserData
	ifr      [unix.IFNAMSIZ + 24]byte
	sigset   uint64
	siginfo  [128]byte
	ts       unix.Timespec
	dfl      [4]uint64 // a struct sigaction: SIG_DFL, no flags, no mask
	rec      [3]uint64
	byte1    [1]byte
	status   int32
	deadline int64
	rlim     [2]uint64 // struct rlimit, rawCloseFrom's fallback
}

// memArea is len bytes at at.
type memArea struct {
	at  unsafe.Pointer
	len uintptr
}

// Open modes of the resolver (rawProg.how).
const (
	rawHowFollow   = iota // O_PATH, inside the root
	rawHowNoFollow        // the same, the last component not followed
	rawHowBeneath         // one name in a folder just made: no symlink
	rawHowHost            // a host path: no symlink at all
	rawHowCwd             // a working folder: no magic link (rawDoChdir)
	// rawHowFollow and rawHowNoFollow crossing no mount: the walk of a
	// path that, as planned, crosses none (rawPath.noXDev).
	rawHowFollowNoXDev
	rawHowNoFollowNoXDev
	// rawHowFollow and rawHowNoFollow following no symlink: the walk
	// beneath a held mount (rawPath.noLinks).
	rawHowFollowNoLinks
	rawHowNoFollowNoLinks
)

// rawPath is a path inside the environment's root, split for the
// resolver: full is "a/b/c" ("." for the root itself), prefix[i] its
// first i+1 components, name[i] the (i+1)th.
type rawPath struct {
	full       *byte
	prefix     []*byte
	name       []*byte
	create     uint8 // rawCreate*
	followLast bool
	// noXDev: what is missing is made by a walk that crosses no mount
	// (RESOLVE_NO_XDEV): the plan knows the path crosses none
	// (planner.Mount.NoXDev).
	noXDev bool
	// noLinks: what is missing is made by a walk that follows no
	// symlink (RESOLVE_NO_SYMLINKS): beneath a held mount, whose
	// folder (a writable bind's, the host's) root inside may have
	// left links in, to have a folder made in another folder of it
	// that the spec binds read-only after (helper-63's review).
	noLinks bool
}

const (
	rawCreateNone = iota
	rawCreateDir
	rawCreateFile
)

// rawOp is one raw step.
type rawOp struct {
	kind   uint8
	step   uintptr
	nr     uintptr
	a      [6]uintptr
	ignore syscall.Errno // an errno that is no failure
	s      [5]*byte      // strings, as each kind says
	p      [2]rawPath    // paths inside the root, as each kind says
	flag   uintptr       // as each kind says
	under  uintptr       // rawMount beneath a held mount: its slot in held
	slot   uintptr       // rawMount whose fd is held: its slot in held
	conf   []*byte       // rawMount held: its options, a key and a value (nil: a flag) each (fsconfigPairs)
	skip   [2]uint64     // rawBounding: capabilities kept
	argv   **byte
	envv   **byte
}

// Kinds of raw steps.
const (
	rawSys       = iota // syscall nr(a...)
	rawBounding         // prctl(PR_CAPBSET_DROP, c) for c < a[0] unless in skip
	rawInherit          // capget; inheritable = permitted; capset
	rawPdeath           // prctl(PR_SET_PDEATHSIG, a[0]), then getppid() == ppid or exit
	rawMount            // see rawDoMount
	rawSetattr          // mount_setattr of p[0] inside the root s[0], attr at a[1], flags a[0]
	rawOverlay          // see rawDoOverlay
	rawSymlink          // symlinkat(s[1], folder p[0] inside the root s[0] (or beneath held slot under: flag rawMountBeneath), name s[2])
	rawEtcFile          // see rawDoEtcFile
	rawLinkUp           // SIOCGIFFLAGS, IFF_UP, SIOCSIFFLAGS of the interface in ifr (s[0])
	rawWrite            // open(s[0], O_WRONLY), one write(2) of a[0] bytes at s[1]
	rawExec             // execve(s[0], argv, envv), or execveat(exe, "") when flag
	rawMonitor          // fork; the child goes on; this process is PID 1 (rawDoMonitor)
	rawFail             // fail with errno a[0] (test hook)
	rawPause            // report paused, then wait to be killed (test hook)
	rawChdir            // see rawDoChdir
	rawCloseFds         // see rawDoCloseFds
	rawLandlock         // see rawDoLandlock
	rawTerminal         // fds 0-2 that are the terminal reopened through its read-only clone (rawTerminalClone)
	rawMakeCwd          // p[0] inside the root s[0] resolved, what is missing made (rawResolve), the fd closed
	rawSetnsLate        // setns(pidns, CLONE_NEWPID) (rawlate.go)
	rawLate             // the late clone (rawDoLate)
)

// Parts of a step that failed, for the message (rawError).
const (
	partCall   = iota // the call itself
	partRoot          // opening the root
	partSource        // resolving the source
	partTarget        // resolving the target
	partLink          // the target is a symlink
	partLower         // opening the overlay's lower layer
	partNotDev        // the source is not the host's device it names (rawCheckNode)
)

// Report records: three uint64 each, what | part<<8, step, value.
const (
	reportPid    = 1 // the child's pid (value), from the forked copy
	reportErr    = 2 // step failed with errno value
	reportPaused = 3 // the pause hook stopped before step
)

//go:norace
//go:nosplit
func rawReport(p *rawProg, what, step, value uintptr) {
	p.rec[0], p.rec[1], p.rec[2] = uint64(what), uint64(step), uint64(value)
	syscall.RawSyscall6(unix.SYS_WRITE, p.report, uintptr(unsafe.Pointer(&p.rec[0])), unsafe.Sizeof(p.rec), 0, 0, 0)
}

//go:norace
//go:nosplit
func rawExit(code uintptr) {
	for {
		syscall.RawSyscall6(unix.SYS_EXIT_GROUP, code, 0, 0, 0, 0, 0)
	}
}

//go:norace
//go:nosplit
func rawFailed(p *rawProg, step, part uintptr, e syscall.Errno) {
	p.rec[0], p.rec[1], p.rec[2] = uint64(reportErr|part<<8), uint64(step), uint64(e)
	syscall.RawSyscall6(unix.SYS_WRITE, p.report, uintptr(unsafe.Pointer(&p.rec[0])), unsafe.Sizeof(p.rec), 0, 0, 0)
	for {
		syscall.RawSyscall6(unix.SYS_EXIT_GROUP, 127, 0, 0, 0, 0, 0)
	}
}

// rawPlace moves the fds the program uses (report, exe) out of the way,
// above 10 (close-on-exec copies), then puts fds[:nfds] in place as 0, 1,
// 2, ..., so that no source is overwritten before it is copied.
//
//go:norace
//go:nosplit
func rawPlace(p *rawProg, step uintptr) {
	fd, _, e := syscall.RawSyscall6(unix.SYS_FCNTL, p.report, unix.F_DUPFD_CLOEXEC, 10, 0, 0, 0)
	if e != 0 {
		rawExit(127)
	}
	p.report = fd
	if p.exe != ^uintptr(0) {
		fd, _, e := syscall.RawSyscall6(unix.SYS_FCNTL, p.exe, unix.F_DUPFD_CLOEXEC, 10, 0, 0, 0)
		if e != 0 {
			rawFailed(p, step, partCall, e)
		}
		p.exe = fd
	}
	if p.lifeline != ^uintptr(0) {
		fd, _, e := syscall.RawSyscall6(unix.SYS_FCNTL, p.lifeline, unix.F_DUPFD_CLOEXEC, 10, 0, 0, 0)
		if e != 0 {
			rawFailed(p, step, partCall, e)
		}
		p.lifeline = fd
	}
	if p.pidns != ^uintptr(0) {
		fd, _, e := syscall.RawSyscall6(unix.SYS_FCNTL, p.pidns, unix.F_DUPFD_CLOEXEC, 10, 0, 0, 0)
		if e != 0 {
			rawFailed(p, step, partCall, e)
		}
		p.pidns = fd
	}
	rawPlaceTrees(p, step)
	for i := 0; i < p.nfds; i++ {
		fd, _, e := syscall.RawSyscall6(unix.SYS_FCNTL, p.fds[i], unix.F_DUPFD_CLOEXEC, 10, 0, 0, 0)
		if e != 0 {
			rawFailed(p, step, partCall, e)
		}
		p.fds[i] = fd
	}
	for i := 0; i < p.nfds; i++ {
		if _, _, e := syscall.RawSyscall6(unix.SYS_DUP3, p.fds[i], uintptr(i), 0, 0, 0, 0); e != 0 {
			rawFailed(p, step, partCall, e)
		}
	}
}

// rawEntry is what a child made by rawCloneOnStack runs, and how it is
// made: args first, so that the entry's address is the arguments' too
// (clone_amd64.s).
type rawEntry struct {
	args cloneArgs
	kind uintptr // entryLaunch or entryMain
	a    *launchArgs
	p    *rawProg
	next int // entryMain: the first step to run
}

// cloneArgs is struct clone_args of clone3(2) (linux/sched.h) up to
// cgroup (CLONE_ARGS_SIZE_VER2): the launcher's child is made by clone3,
// which can also place it in a cgroup (CLONE_INTO_CGROUP) or return a
// pidfd, where clone(2) cannot (clone(2) with the same arguments where a
// filter refuses clone3, and for the processes made after the
// environment's filter is loaded: rawCloneOnStack).
type cloneArgs struct {
	flags      uint64 // CLONE_*, without the exit signal
	pidfd      uint64
	childTID   uint64
	parentTID  uint64
	exitSignal uint64 // 0 with CLONE_PARENT (the parent's parent is told as its parent would be)
	stack      uint64 // the lowest address of the child's stack, or 0: the caller's, copied
	stackSize  uint64
	tls        uint64
	setTID     uint64
	setTIDSize uint64
	cgroup     uint64
}

// cloneArgsSize is clone3's second argument.
const cloneArgsSize = unsafe.Sizeof(cloneArgs{})

const (
	entryLaunch = iota // the launcher's child: its prologue, then the program
	entryMain          // the main process a Monitor forked: the steps after it
	entrySpawn         // a process init starts: its fds, then its steps
)

// rawChildEntry is where a child made by rawCloneOnStack starts, on its
// own stack.
//
//go:norace
//go:nosplit
func rawChildEntry(e *rawEntry) {
	switch e.kind {
	case entryLaunch:
		launchChild(e.a)
		rawRunFrom(e.a.prog, 0)
		rawFailed(e.a.prog, e.a.cloneStep, partCall, syscall.EINVAL) // a program without an execve
	case entryMain:
		rawRunFrom(e.p, e.next)
		rawFailed(e.p, e.p.ops[e.next-1].step, partCall, syscall.EINVAL)
	case entrySpawn:
		rawPlace(e.p, e.p.ops[0].step)
		rawRunFrom(e.p, 0)
		rawFailed(e.p, e.p.ops[0].step, partCall, syscall.EINVAL)
	}
	rawExit(127)
}

// rawRun performs the program's steps in order. It returns only if the
// program has no execve (a test's); a step that fails ends the process.
//
//go:norace
//go:nosplit
func rawRun(p *rawProg) { rawRunFrom(p, 0) }

// rawRunFrom performs the program's steps from the ith: one case per
// kind of step. (One function, not a loop calling another: the chain of
// nosplit calls the linker allows is short.)
//
//go:norace
//go:nosplit
func rawRunFrom(p *rawProg, i int) {
	for ; i < len(p.ops); i++ {
		op := &p.ops[i]
		switch op.kind {
		case rawSys:
			rawDoSys(p, op)
		case rawBounding:
			rawDoBounding(p, op)
		case rawInherit:
			rawDoInherit(p, op)
		case rawPdeath:
			rawDoPdeath(p, op)
		case rawMount:
			rawDoMount(p, op)
		case rawSetattr:
			rawDoSetattr(p, op)
		case rawOverlay:
			if op.flag&rawMountHostTree != 0 {
				rawDoOverlayTree(p, op) // overlaytree.go
			} else {
				rawDoOverlay(p, op)
			}
		case rawSymlink:
			rawDoSymlink(p, op)
		case rawMakeCwd:
			rawDoMakeCwd(p, op)
		case rawEtcFile:
			rawDoEtcFile(p, op)
		case rawTerminal:
			rawConsoleReopen(p, op, rawTerminalClone(p, op))
		case rawLinkUp:
			rawDoLinkUp(p, op)
		case rawWrite:
			rawDoWrite(p, op)
		case rawExec:
			rawDoExec(p, op)
		case rawMonitor:
			rawDoMonitor(p, i)
		case rawFail:
			rawFailed(p, op.step, partCall, syscall.Errno(op.a[0]))
		case rawChdir:
			rawDoChdir(p, op)
		case rawCloseFds:
			rawDoCloseFds(p, op)
		case rawLandlock:
			rawDoLandlock(p, op)
		case rawPause:
			rawDoPause(p, op)
		case rawSetnsLate:
			rawDoSetnsLate(p, op)
		case rawLate:
			rawDoLate(p, op)
		}
	}
}

//go:norace
//go:nosplit
func rawDoSys(p *rawProg, op *rawOp) {
	if op.flag != 0 {
		rawDropRoot(p) // the root switch
	}
	if _, _, e := syscall.RawSyscall6(op.nr, op.a[0], op.a[1], op.a[2], op.a[3], op.a[4], op.a[5]); e != 0 && e != op.ignore {
		rawFailed(p, op.step, partCall, e)
	}
}

//go:norace
//go:nosplit
func rawDoBounding(p *rawProg, op *rawOp) {
	for c := uintptr(0); c < op.a[0]; c++ {
		if c < 128 && op.skip[c/64]&(1<<(c%64)) != 0 {
			continue
		}
		if _, _, e := syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, c, 0, 0, 0, 0); e != 0 {
			rawFailed(p, op.step, partCall, e)
		}
	}
}

//go:norace
//go:nosplit
func rawDoInherit(p *rawProg, op *rawOp) {
	hdr, data := uintptr(unsafe.Pointer(&p.capHdr)), uintptr(unsafe.Pointer(&p.capData[0]))
	p.capHdr.Version = unix.LINUX_CAPABILITY_VERSION_3
	if _, _, e := syscall.RawSyscall6(unix.SYS_CAPGET, hdr, data, 0, 0, 0, 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	p.capData[0].Inheritable = p.capData[0].Permitted
	p.capData[1].Inheritable = p.capData[1].Permitted
	if _, _, e := syscall.RawSyscall6(unix.SYS_CAPSET, hdr, data, 0, 0, 0, 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
}

//go:norace
//go:nosplit
func rawDoWrite(p *rawProg, op *rawOp) {
	fd, _, e := syscall.RawSyscall6(unix.SYS_OPENAT, atFDCWD, uintptr(unsafe.Pointer(op.s[0])), unix.O_WRONLY|unix.O_CLOEXEC, 0, 0, 0)
	if e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	n, _, e := syscall.RawSyscall6(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(op.s[1])), op.a[0], 0, 0, 0)
	if e == 0 && n != op.a[0] {
		e = syscall.EIO
	}
	if e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	rawClose(fd)
}

// rawDoLandlock is the Landlock step: landlock_create_ruleset(a[0], a[1],
// 0), a ruleset that handles no access and scopes what the attribute at
// a[0] says; landlock_restrict_self of it (this thread and every process
// it makes from now on); its fd closed.
//
//go:norace
//go:nosplit
func rawDoLandlock(p *rawProg, op *rawOp) {
	fd, _, e := syscall.RawSyscall6(unix.SYS_LANDLOCK_CREATE_RULESET, op.a[0], op.a[1], 0, 0, 0, 0)
	if e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	_, _, e = syscall.RawSyscall6(unix.SYS_LANDLOCK_RESTRICT_SELF, fd, 0, 0, 0, 0, 0)
	if e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	rawClose(fd)
}

//go:norace
//go:nosplit
func rawClose(fd uintptr) {
	if fd != ^uintptr(0) {
		syscall.RawSyscall6(unix.SYS_CLOSE, fd, 0, 0, 0, 0, 0)
	}
}

// rawDoCloseFds is the child stage's close_range step: close-on-exec
// from a[0], as planned; and every fd of nsup's the process does not use
// closed now, before the environment's filter can refuse it (the cgroup
// folder of CLONE_INTO_CGROUP, nsup's binary where no init is started, a
// cache entry's lock): the kernel resolves an execve's path, and a
// script's interpreter, with the fds open then (/proc/self/fd/N).
//
//go:norace
//go:nosplit
func rawDoCloseFds(p *rawProg, op *rawOp) {
	if _, _, e := syscall.RawSyscall(unix.SYS_CLOSE_RANGE, op.a[0], ^uintptr(0), unix.CLOSE_RANGE_CLOEXEC); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	if e := rawCloseFrom(p, max(op.a[0], uintptr(p.nfds)), true); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
}

// rawCloseFrom closes every fd from first up but the report pipe and, own
// set, the program's other fds (nsup's pidfd, its binary), with
// close_range(2); where that is refused (a filter of the environment's
// without it, loaded before a process's execve), with close(2), one fd at
// a time up to the fd limit. An fd of nsup's left open at an execve is a
// way out (/proc/self/fd/N as the path or the #! interpreter), so the
// caller fails the step on an error.
//
//go:norace
//go:nosplit
func rawCloseFrom(p *rawProg, first uintptr, own bool) syscall.Errno {
	keep := [3]uintptr{p.report, ^uintptr(0), ^uintptr(0)}
	if own {
		keep[1], keep[2] = p.lifeline, p.exe
	}
	for i := 0; i < 3; i++ { // sorted, ^0 (none) last
		for j := i + 1; j < 3; j++ {
			if keep[j] < keep[i] {
				keep[i], keep[j] = keep[j], keep[i]
			}
		}
	}
	lo := first
	for i := 0; i < 3; i++ {
		k := keep[i]
		if k == ^uintptr(0) || k < lo {
			continue
		}
		if k > lo {
			if _, _, e := syscall.RawSyscall(unix.SYS_CLOSE_RANGE, lo, k-1, 0); e != 0 {
				return rawCloseEach(p, first, &keep)
			}
		}
		lo = k + 1
	}
	if _, _, e := syscall.RawSyscall(unix.SYS_CLOSE_RANGE, lo, ^uintptr(0), 0); e != 0 {
		return rawCloseEach(p, first, &keep)
	}
	return 0
}

// rawCloseEach is rawCloseFrom with close(2), up to the soft limit on fds
// (no fd is numbered past the limit it was made under, and nsup's is the
// highest this process had).
//
//go:norace
//go:nosplit
func rawCloseEach(p *rawProg, first uintptr, keep *[3]uintptr) syscall.Errno {
	limit := uintptr(1 << 20)
	if _, _, e := syscall.RawSyscall6(unix.SYS_PRLIMIT64, 0, unix.RLIMIT_NOFILE, 0, uintptr(unsafe.Pointer(&p.rlim[0])), 0, 0); e == 0 && p.rlim[0] < uint64(limit) {
		limit = uintptr(p.rlim[0])
	}
	for fd := first; fd < limit; fd++ {
		if fd == keep[0] || fd == keep[1] || fd == keep[2] {
			continue
		}
		if _, _, e := syscall.RawSyscall(unix.SYS_CLOSE, fd, 0, 0); e != 0 && e != syscall.EBADF {
			return e
		}
	}
	return 0
}
