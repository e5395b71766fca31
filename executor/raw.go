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
	// mainStack is the top of the stack of the process a Monitor step
	// forks (which shares this memory until its execve); main is its
	// entry.
	mainStack uintptr
	main      rawEntry
	// launch is the launcher's child's entry.
	launch rawEntry

	// lifeline is a pidfd of nsup (^0 without one): readable once nsup
	// has exited (rawLifeline).
	lifeline uintptr
	pollfd   [2]int32

	// rootFD is the root's handle, opened for the path at rootOf
	// (rawOpenRoot). (An address, not a pointer: the raw stages write no
	// pointer, whose write barrier would call into the runtime.)
	rootFD uintptr
	rootOf uintptr

	// Scratch, one step at a time.
	how      [4]unix.OpenHow // see rawHow*
	st       unix.Stat_t
	fdpath   [3][32]byte
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
}

// Open modes of the resolver (rawProg.how).
const (
	rawHowFollow   = iota // O_PATH, inside the root
	rawHowNoFollow        // the same, the last component not followed
	rawHowBeneath         // one name in a folder just made: no symlink
	rawHowHost            // a host path: no symlink at all
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
	skip   [2]uint64     // rawBounding: capabilities kept
	argv   **byte
	envv   **byte
}

// Kinds of raw steps.
const (
	rawSys      = iota // syscall nr(a...)
	rawBounding        // prctl(PR_CAPBSET_DROP, c) for c < a[0] unless in skip
	rawInherit         // capget; inheritable = permitted; capset
	rawPdeath          // prctl(PR_SET_PDEATHSIG, a[0]), then getppid() == ppid or exit
	rawMount           // see rawDoMount
	rawSetattr         // mount_setattr of p[0] inside the root s[0], attr at a[1], flags a[0]
	rawOverlay         // see rawDoOverlay
	rawSymlink         // symlinkat(s[1], folder p[0] inside the root s[0], name s[2])
	rawLinkUp          // SIOCGIFFLAGS, IFF_UP, SIOCSIFFLAGS of the interface in ifr (s[0])
	rawWrite           // open(s[0], O_WRONLY), one write(2) of a[0] bytes at s[1]
	rawExec            // execve(s[0], argv, envv), or execveat(exe, "") when flag
	rawMonitor         // fork; the child goes on; this process is PID 1 (rawDoMonitor)
	rawFail            // fail with errno a[0] (test hook)
	rawPause           // report paused, then wait to be killed (test hook)
)

// Parts of a step that failed, for the message (rawError).
const (
	partCall   = iota // the call itself
	partRoot          // opening the root
	partSource        // resolving the source
	partTarget        // resolving the target
	partLink          // the target is a symlink
	partLower         // opening the overlay's lower layer
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

// rawEntry is what a child made by rawCloneOnStack runs.
type rawEntry struct {
	kind uintptr // entryLaunch or entryMain
	a    *launchArgs
	p    *rawProg
	next int // entryMain: the first step to run
}

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
			rawDoOverlay(p, op)
		case rawSymlink:
			rawDoSymlink(p, op)
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
		case rawPause:
			rawReport(p, reportPaused, op.step, 0)
			for {
				syscall.RawSyscall6(unix.SYS_PPOLL, 0, 0, 0, 0, 8, 0) // no fd, no timeout: until killed
			}
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

//go:norace
//go:nosplit
func rawDoSymlink(p *rawProg, op *rawOp) {
	root := rawOpenRoot(p, op)
	dir, e := rawResolve(p, root, &op.p[0])
	if e != 0 {
		rawFailed(p, op.step, partTarget, e)
	}
	if _, _, e := syscall.RawSyscall6(unix.SYS_SYMLINKAT, uintptr(unsafe.Pointer(op.s[1])), dir, uintptr(unsafe.Pointer(op.s[2])), 0, 0, 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	rawClose(dir)
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

//go:norace
//go:nosplit
func rawClose(fd uintptr) {
	if fd != ^uintptr(0) {
		syscall.RawSyscall6(unix.SYS_CLOSE, fd, 0, 0, 0, 0, 0)
	}
}

// rawOpenRoot opens the root s[0] (O_PATH) when the step resolves a path
// inside it, else returns ^0. Opened when first needed after the root's
// own bind or overlay (which drop it: rawDropRoot), the handle is the top
// of its mount stack, the tree the environment will see; the mounts
// inside it that follow do not change that, so the steps after share it.
//
//go:norace
//go:nosplit
func rawOpenRoot(p *rawProg, op *rawOp) uintptr {
	if op.s[0] == nil {
		return ^uintptr(0)
	}
	if p.rootFD != ^uintptr(0) && p.rootOf == uintptr(unsafe.Pointer(op.s[0])) {
		return p.rootFD
	}
	rawDropRoot(p)
	fd, _, e := syscall.RawSyscall6(unix.SYS_OPENAT, atFDCWD, uintptr(unsafe.Pointer(op.s[0])), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0, 0, 0)
	if e != 0 {
		rawFailed(p, op.step, partRoot, e)
	}
	p.rootFD, p.rootOf = fd, uintptr(unsafe.Pointer(op.s[0]))
	return fd
}

// rawDropRoot closes the root's handle: a step is about to change what
// the root's path leads to (its bind, its overlay, the root switch).
//
//go:norace
//go:nosplit
func rawDropRoot(p *rawProg) {
	rawClose(p.rootFD)
	p.rootFD, p.rootOf = ^uintptr(0), 0
}

//go:norace
//go:nosplit
func rawOpenat2(dirfd uintptr, path *byte, how *unix.OpenHow) (uintptr, syscall.Errno) {
	fd, _, e := syscall.RawSyscall6(unix.SYS_OPENAT2, dirfd, uintptr(unsafe.Pointer(path)), uintptr(unsafe.Pointer(how)), unsafe.Sizeof(*how), 0, 0)
	return fd, e
}

// rawResolve resolves rp inside the root (openat2(2) RESOLVE_IN_ROOT:
// every symlink and ".." stays inside it) to an O_PATH fd, making what
// is missing when rp.create says so: folders 0755, the last one an empty
// 0644 file for rawCreateFile, each by name in its parent's resolved fd.
// The same walk as store.OpenInRoot's, which the closure builder uses.
//
//go:norace
//go:nosplit
func rawResolve(p *rawProg, root uintptr, rp *rawPath) (uintptr, syscall.Errno) {
	last := &p.how[rawHowNoFollow]
	if rp.followLast {
		last = &p.how[rawHowFollow]
	}
	fd, e := rawOpenat2(root, rp.full, last)
	if e != syscall.ENOENT || rp.create == rawCreateNone {
		return fd, e
	}
	// Something is missing: walk from the root, one component at a time.
	parent, e := rawOpenat2(root, &dot[0], &p.how[rawHowFollow])
	if e != 0 {
		return 0, e
	}
	n := len(rp.name)
	for i := 0; i < n; i++ {
		how := &p.how[rawHowFollow]
		if i == n-1 {
			how = last
		}
		name := rawAt(rp.name, i)
		fd, e = rawOpenat2(root, rawAt(rp.prefix, i), how)
		if e == syscall.ENOENT {
			// Made by name in its parent's fd: an empty 0644 file, or a
			// 0755 folder.
			if i == n-1 && rp.create == rawCreateFile {
				fd, _, e = syscall.RawSyscall6(unix.SYS_OPENAT, parent, uintptr(unsafe.Pointer(name)), unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644, 0, 0)
				if e == 0 {
					rawClose(fd)
				}
			} else {
				_, _, e = syscall.RawSyscall6(unix.SYS_MKDIRAT, parent, uintptr(unsafe.Pointer(name)), 0o755, 0, 0, 0)
			}
			if e != 0 && e != syscall.EEXIST {
				rawClose(parent)
				return 0, e
			}
			// The entry just made, through its parent's fd: one name, no
			// symlink, nothing to resolve.
			fd, e = rawOpenat2(parent, name, &p.how[rawHowBeneath])
			if e == 0 && (i < n-1 || rp.followLast) {
				_, _, se := syscall.RawSyscall6(unix.SYS_NEWFSTATAT, fd, uintptr(unsafe.Pointer(&empty[0])), uintptr(unsafe.Pointer(&p.st)), unix.AT_EMPTY_PATH, 0, 0)
				if se == 0 && p.st.Mode&unix.S_IFMT == unix.S_IFLNK {
					// EEXIST above, and a symlink: it points (inside the
					// root) to nothing. Like mkdir -p, do not make its
					// target.
					rawClose(fd)
					e = syscall.ENOENT
				}
			}
		}
		rawClose(parent)
		if e != 0 {
			return 0, e
		}
		parent = fd
	}
	return parent, 0
}

// rawAt is s[i], which the caller knows is there (no bounds check: the
// panic it would call is no nosplit code).
//
//go:norace
//go:nosplit
func rawAt(s []*byte, i int) *byte {
	return *(**byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(s)), uintptr(i)*unsafe.Sizeof(s[0])))
}

var dot = [2]byte{'.', 0}

// atFDCWD is AT_FDCWD (-100) as a system call argument.
const atFDCWD = ^uintptr(99)

//go:norace
//go:nosplit
func rawIsLink(p *rawProg, fd uintptr) bool {
	_, _, e := syscall.RawSyscall6(unix.SYS_NEWFSTATAT, fd, uintptr(unsafe.Pointer(&empty[0])), uintptr(unsafe.Pointer(&p.st)), unix.AT_EMPTY_PATH, 0, 0)
	return e == 0 && p.st.Mode&unix.S_IFMT == unix.S_IFLNK
}

var empty = [1]byte{0}

// rawFdPath writes "/proc/self/fd/FD" into b: how an fd is named to a
// call that takes no dirfd (mount(2)); the kernel follows it to the very
// file the fd holds, with no lookup by name.
//
//go:norace
//go:nosplit
func rawFdPath(b *[32]byte, fd uintptr) *byte {
	n := rawPut(b[:], 0, "/proc/self/fd/")
	n = rawPutUint(b[:], n, fd)
	b[n] = 0
	return &b[0]
}

//go:norace
//go:nosplit
func rawPut(b []byte, n int, s string) int {
	for i := 0; i < len(s) && n < len(b)-1; i++ {
		b[n] = s[i]
		n++
	}
	return n
}

//go:norace
//go:nosplit
func rawPutCString(b []byte, n int, s *byte) int {
	for q := s; *q != 0 && n < len(b)-1; q = (*byte)(unsafe.Add(unsafe.Pointer(q), 1)) {
		b[n] = *q
		n++
	}
	return n
}

//go:norace
//go:nosplit
func rawPutUint(b []byte, n int, v uintptr) int {
	var d [20]byte
	k := len(d)
	for {
		k--
		d[k] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	for ; k < len(d) && n < len(b)-1; k++ {
		b[n] = d[k]
		n++
	}
	return n
}

// rawDoMount is mount(2) of a step: s[0] the root when a path is inside
// it, s[1] the source, s[2] the fstype, s[3] the data, a[0] the flags;
// flag bits rawMount*. A bind's source is opened first and mounted
// through its fd: inside the root (p[0]), or a host path opened without
// following any symlink, since the planner resolved them all. A target
// inside the root (p[1]) is resolved there, made if missing, refused if
// it is a symlink, and mounted through its fd; else it is s[4].
//
//go:norace
//go:nosplit
func rawDoMount(p *rawProg, op *rawOp) {
	if op.flag&rawMountInRoot == 0 {
		rawDropRoot(p)
	}
	root := rawOpenRoot(p, op)
	source, target := op.s[1], op.s[4]
	src, tgt := ^uintptr(0), ^uintptr(0)
	if op.flag&rawMountBind != 0 {
		var e syscall.Errno
		if op.flag&rawMountSourceInRoot != 0 {
			src, e = rawResolve(p, root, &op.p[0])
		} else {
			src, e = rawOpenat2(atFDCWD, op.s[1], &p.how[rawHowHost])
		}
		if e != 0 {
			rawFailed(p, op.step, partSource, e)
		}
		source = rawFdPath(&p.fdpath[0], src)
		if op.flag&rawMountSelf != 0 {
			target = rawFdPath(&p.fdpath[1], src) // the root bound onto itself
		}
	}
	if op.flag&rawMountInRoot != 0 {
		var e syscall.Errno
		if tgt, e = rawResolve(p, root, &op.p[1]); e != 0 {
			rawFailed(p, op.step, partTarget, e)
		}
		if rawIsLink(p, tgt) {
			// The mount would cover the link itself, a trap for the reader.
			rawFailed(p, op.step, partLink, syscall.ELOOP)
		}
		target = rawFdPath(&p.fdpath[1], tgt)
	}
	if _, _, e := syscall.RawSyscall6(unix.SYS_MOUNT, uintptr(unsafe.Pointer(source)), uintptr(unsafe.Pointer(target)),
		uintptr(unsafe.Pointer(op.s[2])), op.a[0], uintptr(unsafe.Pointer(op.s[3])), 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	rawClose(src)
	rawClose(tgt)
}

// Flag bits of rawMount.
const (
	rawMountBind         = 1 << iota // a bind: the source is opened and mounted through its fd
	rawMountSourceInRoot             // the source is p[0], inside the root
	rawMountInRoot                   // the target is p[1], inside the root
	rawMountSelf                     // the target is the source (the root bound onto itself)
)

// rawDoSetattr is mount_setattr(2) of a step: of p[0] inside the root
// s[0], through its fd, or of the host path s[1].
//
//go:norace
//go:nosplit
func rawDoSetattr(p *rawProg, op *rawOp) {
	var e syscall.Errno
	if op.s[0] == nil {
		_, _, e = syscall.RawSyscall6(unix.SYS_MOUNT_SETATTR, atFDCWD, uintptr(unsafe.Pointer(op.s[1])), op.a[0], op.a[1], unsafe.Sizeof(unix.MountAttr{}), 0)
	} else {
		root := rawOpenRoot(p, op)
		fd, re := rawResolve(p, root, &op.p[0])
		if re != 0 {
			rawFailed(p, op.step, partTarget, re)
		}
		_, _, e = syscall.RawSyscall6(unix.SYS_MOUNT_SETATTR, fd, uintptr(unsafe.Pointer(&empty[0])), op.a[0]|unix.AT_EMPTY_PATH, op.a[1], unsafe.Sizeof(unix.MountAttr{}), 0)
		rawClose(fd)
	}
	if e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
}

// rawDoOverlay lays a writable overlay on s[1]: a tmpfs there holds the
// upper and work folders (overlayfs wants both on one filesystem), and
// the lower layer is the tree that was at s[1], held by an fd opened
// before the tmpfs hid it; the upper folder takes the lower root's owner
// and mode, which the merged root shows. All three layers are passed as
// /proc/self/fd paths, so no path needs escaping in the options. a[0] is
// MS_NODEV or 0; flag says userxattr.
//
//go:norace
//go:nosplit
func rawDoOverlay(p *rawProg, op *rawOp) {
	rawDropRoot(p)
	lower, _, e := syscall.RawSyscall6(unix.SYS_OPENAT, atFDCWD, uintptr(unsafe.Pointer(op.s[1])), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0, 0, 0)
	if e != 0 {
		rawFailed(p, op.step, partLower, e)
	}
	if _, _, e := syscall.RawSyscall6(unix.SYS_NEWFSTATAT, lower, uintptr(unsafe.Pointer(&empty[0])), uintptr(unsafe.Pointer(&p.st)), unix.AT_EMPTY_PATH, 0, 0); e != 0 {
		rawFailed(p, op.step, partLower, e)
	}
	uid, gid, mode := uintptr(p.st.Uid), uintptr(p.st.Gid), uintptr(p.st.Mode&0o7777)
	if _, _, e := syscall.RawSyscall6(unix.SYS_MOUNT, uintptr(unsafe.Pointer(&tmpfs[0])), uintptr(unsafe.Pointer(op.s[1])),
		uintptr(unsafe.Pointer(&tmpfs[0])), op.a[0], uintptr(unsafe.Pointer(&mode0700[0])), 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	top, _, e := syscall.RawSyscall6(unix.SYS_OPENAT, atFDCWD, uintptr(unsafe.Pointer(op.s[1])), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0, 0, 0)
	if e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	upper := rawOverlayDir(p, op, top, &upperName[0])
	work := rawOverlayDir(p, op, top, &workName[0])
	if _, _, e := syscall.RawSyscall6(unix.SYS_FCHOWNAT, upper, uintptr(unsafe.Pointer(&empty[0])), uid, gid, unix.AT_EMPTY_PATH, 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	if _, _, e := syscall.RawSyscall6(unix.SYS_FCHMODAT, atFDCWD, uintptr(unsafe.Pointer(rawFdPath(&p.fdpath[0], upper))), mode, 0, 0, 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	b := p.data[:]
	n := rawPut(b, 0, "lowerdir=")
	n = rawPutCString(b, n, rawFdPath(&p.fdpath[0], lower))
	n = rawPut(b, n, ",upperdir=")
	n = rawPutCString(b, n, rawFdPath(&p.fdpath[0], upper))
	n = rawPut(b, n, ",workdir=")
	n = rawPutCString(b, n, rawFdPath(&p.fdpath[0], work))
	if op.flag != 0 {
		n = rawPut(b, n, ",userxattr")
	}
	b[n] = 0
	if _, _, e := syscall.RawSyscall6(unix.SYS_MOUNT, uintptr(unsafe.Pointer(&overlayName[0])), uintptr(unsafe.Pointer(op.s[1])),
		uintptr(unsafe.Pointer(&overlayName[0])), op.a[0], uintptr(unsafe.Pointer(&b[0])), 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	rawClose(work)
	rawClose(upper)
	rawClose(top)
	rawClose(lower)
}

var (
	tmpfs       = [6]byte{'t', 'm', 'p', 'f', 's', 0}
	overlayName = [8]byte{'o', 'v', 'e', 'r', 'l', 'a', 'y', 0}
	mode0700    = [10]byte{'m', 'o', 'd', 'e', '=', '0', '7', '0', '0', 0}
	upperName   = [6]byte{'u', 'p', 'p', 'e', 'r', 0}
	workName    = [5]byte{'w', 'o', 'r', 'k', 0}
)

//go:norace
//go:nosplit
func rawOverlayDir(p *rawProg, op *rawOp, top uintptr, name *byte) uintptr {
	if _, _, e := syscall.RawSyscall6(unix.SYS_MKDIRAT, top, uintptr(unsafe.Pointer(name)), 0o700, 0, 0, 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	fd, _, e := syscall.RawSyscall6(unix.SYS_OPENAT, top, uintptr(unsafe.Pointer(name)), unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0, 0, 0)
	if e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	return fd
}

// rawDoLinkUp sets IFF_UP on an interface of this network namespace
// (netdevice(7)): its flags read and written back through any socket.
//
//go:norace
//go:nosplit
func rawDoLinkUp(p *rawProg, op *rawOp) {
	s, _, e := syscall.RawSyscall6(unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0, 0, 0, 0)
	if e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	for i := range p.ifr {
		p.ifr[i] = 0
	}
	rawPutCString(p.ifr[:unix.IFNAMSIZ], 0, op.s[0])
	if _, _, e := syscall.RawSyscall6(unix.SYS_IOCTL, s, unix.SIOCGIFFLAGS, uintptr(unsafe.Pointer(&p.ifr[0])), 0, 0, 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	*(*uint16)(unsafe.Pointer(&p.ifr[unix.IFNAMSIZ])) |= unix.IFF_UP
	if _, _, e := syscall.RawSyscall6(unix.SYS_IOCTL, s, unix.SIOCSIFFLAGS, uintptr(unsafe.Pointer(&p.ifr[0])), 0, 0, 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	rawClose(s)
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
		_, _, e = syscall.RawSyscall6(unix.SYS_EXECVE, uintptr(unsafe.Pointer(op.s[0])),
			uintptr(unsafe.Pointer(op.argv)), uintptr(unsafe.Pointer(op.envv)), 0, 0, 0)
	}
	// Blocked again: the failure is reported, and this copy exits.
	p.sigset = ^uint64(0)
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&p.sigset)), 0, 8, 0, 0)
	rawFailed(p, op.step, partCall, e)
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
	p.main.next = i + 1 // main's kind and program are set before the clone
	pid, e := rawCloneOnStack(unix.CLONE_VM|unix.CLONE_VFORK|uintptr(unix.SIGCHLD), p.mainStack, &p.main)
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
