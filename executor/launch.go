package executor

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// The launcher: one way to create every environment's child. From the
// host's locked thread, a raw clone(2) makes a copy of nsup with that one
// thread, in the new namespaces, which makes raw system calls only, like
// the child half of Go's own syscall.forkAndExecInChild: it waits for its
// id maps (written by the host), takes its identity, does the plan's
// launch steps (a session keyring of its own, the bounding set, the
// inheritable set, no_new_privs) while it is still one thread, so that
// every thread and process to come inherits them, puts its fds in place
// and executes nsup's child stage. It reports a failure as (step, errno)
// over a pipe; its execve closes that pipe.
//
// Entering a user, mount or time namespace needs a process of one thread:
// setns(2) refuses a user namespace to a multithreaded process (EINVAL),
// a mount namespace to one whose threads share their filesystem
// attributes (CLONE_FS, EINVAL), a time namespace likewise (EUSERS). A Go
// program has several threads from its first instruction on. So for
// those joins (a plan's Fork step; and a pid namespace's, and every join
// of rootless nsup, see planner.namespaces) the host forks a copy first
// (the stage "fork" of the plan), which joins them, user first, creates
// the child with CLONE_PARENT, so that it is nsup's child (nsup waits for
// it, and Pdeathsig ties it to the host's thread), reports its pid and
// exits. Net, uts, ipc and cgroup namespaces are joined by the host's
// thread itself (setns steps of stage host), before the clone.
//
// From the clone to the execve no Go code may allocate, grow the stack,
// or be preempted: the functions are nosplit, their data prepared before
// the clone, and every signal is blocked on the cloning thread meanwhile
// (the child restores the mask just before its execve).

// launchArgs is everything the copy and the child need, prepared before
// the clone.
type launchArgs struct {
	// forked: a copy joins setns[:nsetns] first, then clones.
	forked bool
	setns  [8]forkSetns
	nsetns int
	// The child's clone flags (CLONE_NEW*, and CLONE_PARENT from a copy)
	// and step.
	flags, cloneStep uintptr
	// report is the write end of the report pipe (close-on-exec: the
	// child's execve closes it).
	report uintptr
	// release is the read end of the pipe the child waits on for its maps,
	// or ^0.
	release uintptr
	// root: become uid and gid 0 of the user namespace before the execve,
	// and drop the supplementary groups where setgroups(2) is allowed (in
	// a joined user namespace an EPERM says it is not: kept then).
	root, setgroups bool
	// ops are the launch steps, in plan order.
	ops  [64]rawOp
	nops int
	// caps is capget's and capset's buffer for InheritCaps.
	capHdr  unix.CapUserHeader
	capData [2]unix.CapUserData
	// fds[:nfds] become the child's 0, 1, 2, ...: stdio, the setup
	// channel, and, detached, the lock and the control socket.
	fds  [6]uintptr
	nfds int
	ppid uintptr // the child's parent's pid, 0 when it is outside its pid namespace
	// The execve: by path, or through exe (execveat AT_EMPTY_PATH).
	byFD              bool
	exe               uintptr
	path, empty       *byte
	argv, envv        *[3]*byte
	mask              uint64 // signal mask restored before execve
	execStep          uintptr
	oldmask, blockall uint64
}

type forkSetns struct{ fd, nstype, step uintptr }

// rawOp is one launch step: a system call, or a few for InheritCaps.
type rawOp struct {
	kind, step   uintptr
	nr           uintptr
	a1, a2, a3   uintptr
	ignore       syscall.Errno // an errno that is no failure
	repeat, from uintptr       // rawRepeat: a1 = from, from+1, ... for repeat calls (skipping mask bits)
	skip         [2]uint64     // rawRepeat: values of a1 not to call with (kept capabilities)
}

const (
	rawCall    = iota // syscall(nr, a1, a2, a3)
	rawInherit        // capget, inheritable = permitted, capset
	rawRepeat         // syscall(nr, a1 = from..from+repeat-1 unless in skip, a2, a3)
	rawFail           // fail with errno a1 (test hook)
)

// Report records, three uint64 each: what, step, value.
const (
	reportPid = 1 // the child's pid (value)
	reportErr = 2 // step failed with errno value
)

//go:norace
//go:nosplit
func launchReport(a *launchArgs, what, step, value uintptr) {
	rec := [3]uint64{uint64(what), uint64(step), uint64(value)}
	syscall.RawSyscall(unix.SYS_WRITE, a.report, uintptr(unsafe.Pointer(&rec[0])), unsafe.Sizeof(rec))
}

//go:norace
//go:nosplit
func launchExit(code uintptr) {
	for {
		syscall.RawSyscall(unix.SYS_EXIT_GROUP, code, 0, 0)
	}
}

//go:norace
//go:nosplit
func launchFail(a *launchArgs, step uintptr, e syscall.Errno) {
	launchReport(a, reportErr, step, uintptr(e))
	launchExit(1)
}

// launchCopy is the forked copy of nsup (stage fork): joins, then the
// child.
//
//go:norace
//go:nosplit
func launchCopy(a *launchArgs) {
	for i := range a.setns {
		if i >= a.nsetns {
			break
		}
		s := a.setns[i]
		if _, _, e := syscall.RawSyscall(unix.SYS_SETNS, s.fd, s.nstype, 0); e != 0 {
			launchFail(a, s.step, e)
		}
	}
	pid, _, e := syscall.RawSyscall6(unix.SYS_CLONE, a.flags|uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	if e != 0 {
		launchFail(a, a.cloneStep, e)
	}
	if pid == 0 {
		launchChild(a)
	}
	launchReport(a, reportPid, 0, pid)
	launchExit(0)
}

// launchChild is the child before its execve of the child stage.
//
//go:norace
//go:nosplit
func launchChild(a *launchArgs) {
	if a.release != ^uintptr(0) {
		// The host writes one byte once the maps are in place, or closes
		// the pipe if it gives up.
		var b [1]byte
		n, _, e := syscall.RawSyscall(unix.SYS_READ, a.release, uintptr(unsafe.Pointer(&b[0])), 1)
		if e != 0 || n != 1 {
			launchExit(1)
		}
	}
	if a.root {
		// Root of the user namespace before the execve, or the execve
		// clears the capabilities (capabilities(7)).
		if a.setgroups {
			if _, _, e := syscall.RawSyscall(unix.SYS_SETGROUPS, 0, 0, 0); e != 0 && e != syscall.EPERM {
				launchFail(a, a.execStep, e)
			}
		}
		if _, _, e := syscall.RawSyscall(unix.SYS_SETRESGID, 0, 0, 0); e != 0 {
			launchFail(a, a.execStep, e)
		}
		if _, _, e := syscall.RawSyscall(unix.SYS_SETRESUID, 0, 0, 0); e != 0 {
			launchFail(a, a.execStep, e)
		}
	}
	for i := range a.ops {
		if i >= a.nops {
			break
		}
		launchOp(a, &a.ops[i])
	}
	// Die with the host's thread (see envRun.run), and not be born an
	// orphan: if the host is gone already, so is the reason to run.
	syscall.RawSyscall(unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0)
	if ppid, _, _ := syscall.RawSyscall(unix.SYS_GETPPID, 0, 0, 0); ppid != a.ppid {
		launchExit(1)
	}
	// The fds: first out of the way (close-on-exec copies above 10), then
	// into place, so that no source is overwritten before it is copied
	// (nor nsup's fd, by its copy).
	var tmp [6]uintptr
	for i := range a.fds {
		if i >= a.nfds {
			break
		}
		fd, _, e := syscall.RawSyscall(unix.SYS_FCNTL, a.fds[i], unix.F_DUPFD_CLOEXEC, 10)
		if e != 0 {
			launchFail(a, a.execStep, e)
		}
		tmp[i] = fd
	}
	if a.byFD {
		// nsup's own fd may be one of 0 to 3: out of the way too.
		fd, _, e := syscall.RawSyscall(unix.SYS_FCNTL, a.exe, unix.F_DUPFD_CLOEXEC, 10)
		if e != 0 {
			launchFail(a, a.execStep, e)
		}
		a.exe = fd
	}
	for i := range tmp {
		if i >= a.nfds {
			break
		}
		if _, _, e := syscall.RawSyscall(unix.SYS_DUP3, tmp[i], uintptr(i), 0); e != 0 {
			launchFail(a, a.execStep, e)
		}
	}
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&a.mask)), 0, 8, 0, 0)
	var e syscall.Errno
	if a.byFD {
		_, _, e = syscall.RawSyscall6(unix.SYS_EXECVEAT, a.exe, uintptr(unsafe.Pointer(a.empty)),
			uintptr(unsafe.Pointer(a.argv)), uintptr(unsafe.Pointer(a.envv)), unix.AT_EMPTY_PATH, 0)
	} else {
		_, _, e = syscall.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(a.path)),
			uintptr(unsafe.Pointer(a.argv)), uintptr(unsafe.Pointer(a.envv)))
	}
	launchFail(a, a.execStep, e)
}

// launchOp performs one launch step.
//
//go:norace
//go:nosplit
func launchOp(a *launchArgs, op *rawOp) {
	switch op.kind {
	case rawCall:
		if _, _, e := syscall.RawSyscall(op.nr, op.a1, op.a2, op.a3); e != 0 && e != op.ignore {
			launchFail(a, op.step, e)
		}
	case rawInherit:
		hdr, data := uintptr(unsafe.Pointer(&a.capHdr)), uintptr(unsafe.Pointer(&a.capData[0]))
		if _, _, e := syscall.RawSyscall(unix.SYS_CAPGET, hdr, data, 0); e != 0 {
			launchFail(a, op.step, e)
		}
		a.capData[0].Inheritable = a.capData[0].Permitted
		a.capData[1].Inheritable = a.capData[1].Permitted
		if _, _, e := syscall.RawSyscall(unix.SYS_CAPSET, hdr, data, 0); e != 0 {
			launchFail(a, op.step, e)
		}
	case rawRepeat:
		for v := op.from; v < op.from+op.repeat; v++ {
			if v < 128 && op.skip[v/64]&(1<<(v%64)) != 0 {
				continue
			}
			if _, _, e := syscall.RawSyscall(op.nr, op.a1, v, op.a3); e != 0 && e != op.ignore {
				launchFail(a, op.step, e)
			}
		}
	case rawFail:
		launchFail(a, op.step, syscall.Errno(op.a1))
	}
}

// launched is the host's side of one launch: the pipes to release the
// child and to learn how its execve went.
type launched struct {
	report  *os.File // read end
	release *os.File // write end, nil if the child does not wait
	// launchEnd is the child stage's execve step: the child steps up to
	// it are the launcher's.
	launchEnd int
}

// launch creates the child of the environment: from the Clone step at
// step clone (or, with a Fork step at fork >= 0, the copy's steps from
// there). It returns the index of the child stage's execve; the steps up
// to it are the launcher's. The child then waits for release (if it has
// maps to wait for) and executes nsup's child stage.
func (r *envRun) launch(ctx context.Context, fork, clone int) (int, error) {
	env := r.env
	fail, _ := r.hooks()
	a := &launchArgs{release: ^uintptr(0), forked: fork >= 0}
	a.capHdr.Version = unix.LINUX_CAPABILITY_VERSION_3
	for j := fork + 1; fork >= 0 && j < clone; j++ {
		st := env.Steps[j]
		op, ok := st.Op.(planner.Setns)
		if st.Stage != planner.Forked || !ok {
			return 0, stepError(env, j, fmt.Errorf("%s cannot be made by the forked copy: %w", st.Op.Syscall(), unix.EINVAL))
		}
		if a.nsetns == len(a.setns) {
			return 0, stepError(env, j, fmt.Errorf("more than %d joins: %w", len(a.setns), unix.EINVAL))
		}
		fd, err := r.nsFD(j, op)
		if err != nil {
			return 0, stepError(env, j, err)
		}
		a.setns[a.nsetns] = forkSetns{uintptr(fd), uintptr(op.NSType), uintptr(j)}
		a.nsetns++
		if fail != nil && fail.Step == j {
			return 0, stepError(env, j, fail.Errno)
		}
	}
	joinsUser := false
	for _, s := range a.setns[:a.nsetns] {
		joinsUser = joinsUser || s.nstype == unix.CLONE_NEWUSER
	}
	op := env.Steps[clone].Op.(planner.Clone)
	if (op.Flags&unix.CLONE_PARENT != 0) != a.forked {
		return 0, stepError(env, clone, fmt.Errorf("CLONE_PARENT is for a clone by a forked copy, and only: %w", unix.EINVAL))
	}
	a.flags, a.cloneStep = uintptr(op.Flags), uintptr(clone)
	if fail != nil && fail.Step == clone {
		return 0, stepError(env, clone, fail.Errno)
	}
	// The host's steps after the clone (the maps) are the host's; the
	// child's, up to the execve of the child stage, the launcher's.
	newUser := a.flags&unix.CLONE_NEWUSER != 0
	a.setgroups = true
	var uidMap, gidMap []planner.IDMapLine // of a new user namespace
	exec := -1
	for j := clone + 1; j < len(env.Steps) && exec < 0; j++ {
		st := env.Steps[j]
		if st.Stage == planner.Host {
			switch op := st.Op.(type) {
			case planner.DenySetgroups:
				a.setgroups = false
			case planner.UIDMap:
				uidMap = op.Lines
			case planner.GIDMap:
				gidMap = op.Lines
			}
			continue
		}
		if st.Stage != planner.Child {
			return 0, stepError(env, j, fmt.Errorf("stage %s before the child stage's execve: %w", st.Stage, unix.EINVAL))
		}
		if x, ok := st.Op.(planner.Execve); ok {
			exec = j
			a.byFD = x.ByFD
			break
		}
		if err := a.addOp(j, st.Op); err != nil {
			return 0, stepError(env, j, err)
		}
		if fail != nil && fail.Step == j {
			a.ops[a.nops-1] = rawOp{kind: rawFail, step: uintptr(j), a1: uintptr(fail.Errno)}
		}
	}
	if exec < 0 {
		return 0, stepError(env, clone, fmt.Errorf("no child stage execve after the clone: %w", unix.EINVAL))
	}
	a.execStep = uintptr(exec)
	for i := range a.ops[:a.nops] {
		if o := &a.ops[i]; o.kind == rawCall && o.nr == unix.SYS_SETGROUPS && joinsUser {
			// Denied in a joined user namespace whose gid map was written
			// without privilege (user_namespaces(7)): the groups are kept.
			o.ignore = unix.EPERM
		}
	}
	if fail != nil && fail.Step == exec {
		if err := a.addOp(exec, planner.Keyctl{}); err != nil {
			return 0, stepError(env, exec, err)
		}
		a.ops[a.nops-1] = rawOp{kind: rawFail, step: uintptr(exec), a1: uintptr(fail.Errno)}
	}
	if !joinsUser && !newUser {
		a.setgroups = false
	}
	if newUser && !joinsUser {
		for _, s := range a.setns[:a.nsetns] {
			if s.nstype == unix.CLONE_NEWPID {
				if err := pidNSSafe(int(s.fd)); err != nil {
					return 0, stepError(env, int(s.step), err)
				}
			}
		}
	}
	// Root of the user namespace: of a joined one, or of a new one whose
	// maps have a 0 (its own uid, nsup's, need not be mapped at all, as
	// with a range of subordinate ids).
	a.root = joinsUser
	if newUser {
		a.root = mapsZero(uidMap) && mapsZero(gidMap)
	}

	// Everything the copy and the child touch, allocated now.
	rep, repW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer repW.Close()
	l := &launched{report: rep, launchEnd: exec}
	var relR *os.File
	if newUser {
		relR, l.release, err = os.Pipe()
		if err != nil {
			rep.Close()
			return 0, err
		}
		defer relR.Close()
		a.release = relR.Fd()
	}
	a.report = repW.Fd()
	sock, files, done, err := r.childFiles()
	if err != nil {
		l.close()
		return 0, err
	}
	defer done()
	if len(files) > len(a.fds) {
		l.close()
		sock.Close()
		return 0, fmt.Errorf("%d fds for the child stage: %w", len(files), unix.EINVAL)
	}
	for k, file := range files {
		a.fds[k] = file.Fd()
	}
	a.nfds = len(files)
	a.exe = uintptr(r.a.exe)
	a.ppid = uintptr(os.Getpid())
	if !a.forked {
		// The child of this thread: getppid(2) says nsup's pid.
		a.ppid = uintptr(os.Getpid())
	}
	for _, s := range a.setns[:a.nsetns] {
		if s.nstype == unix.CLONE_NEWPID {
			a.ppid = 0
		}
	}
	if a.flags&unix.CLONE_NEWPID != 0 {
		// getppid(2) says 0 for a parent outside one's pid namespace.
		a.ppid = 0
	}
	a.path, _ = unix.BytePtrFromString("/proc/self/exe")
	a.empty, _ = unix.BytePtrFromString("")
	argv := [3]*byte{}
	argv[0], _ = unix.BytePtrFromString(planner.StageArgv[0])
	argv[1], _ = unix.BytePtrFromString(planner.StageArgv[1])
	envv := [3]*byte{}
	a.argv, a.envv = &argv, &envv
	a.blockall = ^uint64(0)

	// The clone, with every signal blocked on this thread, and no fd being
	// made meanwhile without close-on-exec (syscall.ForkLock's contract).
	syscall.ForkLock.Lock()
	_, _, e := syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK,
		uintptr(unsafe.Pointer(&a.blockall)), uintptr(unsafe.Pointer(&a.oldmask)), 8, 0, 0)
	if e != 0 {
		syscall.ForkLock.Unlock()
		l.close()
		sock.Close()
		return 0, stepError(env, clone, e)
	}
	a.mask = a.oldmask
	var pid uintptr
	if a.forked {
		pid, _, e = syscall.RawSyscall6(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
		if pid == 0 && e == 0 {
			launchCopy(a)
		}
	} else {
		pid, _, e = syscall.RawSyscall6(unix.SYS_CLONE, a.flags|uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
		if pid == 0 && e == 0 {
			launchChild(a)
		}
	}
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&a.oldmask)), 0, 8, 0, 0)
	syscall.ForkLock.Unlock()
	step := clone
	if a.forked {
		step = fork
	}
	if e != 0 {
		l.close()
		sock.Close()
		return 0, stepError(env, step, e)
	}
	repW.Close() // only the copy and its child hold it now
	if a.forked {
		var ws unix.WaitStatus
		for {
			_, err := unix.Wait4(int(pid), &ws, 0, nil)
			if err != unix.EINTR {
				break
			}
		}
		// The copy's record, its child's pid, is in the pipe: it wrote it
		// before it exited. The child may have written first, though: a
		// launch step that failed at once, in a child that waits for no
		// map. That error is the child's to report, once nsup knows the
		// child's pid to reap it by (a child left unreaped in a joined pid
		// namespace would keep that namespace's init from ever ending).
		var childErr error
		for pid = 0; pid == 0; {
			what, st, value, err := readReport(rep)
			switch {
			case err != nil:
				l.close()
				sock.Close()
				return 0, stepError(env, fork, fmt.Errorf("the forked copy ended without a word (%v): %w", err, unix.EIO))
			case what == reportErr && st <= uint64(clone):
				// The copy's own failure (a setns, the clone): no child.
				l.close()
				sock.Close()
				return 0, stepError(env, int(st), unix.Errno(value))
			case what == reportErr:
				childErr = stepError(env, int(st), unix.Errno(value))
			case what == reportPid:
				pid = uintptr(value)
			}
		}
		if childErr != nil {
			if proc, err := os.FindProcess(int(pid)); err == nil {
				r.proc = proc // reaped by run, as any child that failed
			}
			l.close()
			sock.Close()
			return 0, childErr
		}
	}
	proc, err := os.FindProcess(int(pid))
	if err != nil {
		unix.Kill(int(pid), unix.SIGKILL)
		l.close()
		sock.Close()
		return 0, stepError(env, clone, err)
	}
	r.proc, r.sock, r.launched = proc, sock, l
	r.stopKill = context.AfterFunc(ctx, func() {
		if !r.letGo.Load() { // released: it outlives nsup
			proc.Kill()
		}
	})
	return exec, nil
}

// addOp prepares one launch step.
func (a *launchArgs) addOp(step int, op planner.Op) error {
	if a.nops == len(a.ops) {
		return fmt.Errorf("more than %d launch steps: %w", len(a.ops), unix.EINVAL)
	}
	o := rawOp{step: uintptr(step)}
	switch op := op.(type) {
	case planner.Keyctl:
		// A kernel without keyrings (CONFIG_KEYS=n) has no keys to hide.
		o = rawOp{kind: rawCall, step: o.step, nr: unix.SYS_KEYCTL, a1: unix.KEYCTL_JOIN_SESSION_KEYRING, ignore: unix.ENOSYS}
	case planner.InheritCaps:
		o.kind = rawInherit
	case planner.Setgroups:
		if len(op.Groups) != 0 {
			return fmt.Errorf("the launcher drops the supplementary groups, and sets none: %w", unix.EINVAL)
		}
		o = rawOp{kind: rawCall, step: o.step, nr: unix.SYS_SETGROUPS}
	case planner.CapbsetDrop:
		o = rawOp{kind: rawRepeat, step: o.step, nr: unix.SYS_PRCTL, a1: unix.PR_CAPBSET_DROP, from: 0, repeat: uintptr(lastCap() + 1)}
		for _, n := range op.Keep {
			c, ok := capNames[n]
			if !ok {
				return fmt.Errorf("unknown capability %s: %w", n, unix.EINVAL)
			}
			o.skip[c/64] |= 1 << (c % 64)
		}
	case planner.Prctl:
		if op.Option != unix.PR_SET_NO_NEW_PRIVS {
			return fmt.Errorf("%s is not a launch step: %w", planner.FormatOp(op), unix.EINVAL)
		}
		o = rawOp{kind: rawCall, step: o.step, nr: unix.SYS_PRCTL, a1: uintptr(op.Option), a2: uintptr(op.Arg)}
	default:
		return fmt.Errorf("%s cannot be done by the launcher, before the child stage's execve: %w", op.Syscall(), unix.EINVAL)
	}
	a.ops[a.nops] = o
	a.nops++
	return nil
}

// lastCap is the highest capability the kernel has
// (/proc/sys/kernel/cap_last_cap): one newer than nsup's list is dropped
// from the bounding set too.
func lastCap() int {
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n < 128 {
			return n
		}
	}
	return unix.CAP_LAST_CAP
}

// pidNSSafe refuses a pid namespace for a child stage that makes a user
// namespace of its own, when the pid namespace is owned by nsup's user
// namespace: its processes may be of nsup's uid there, and such a process
// has every capability in a user namespace nsup makes (its owner's uid,
// user_namespaces(7)), whatever capabilities it kept, so ptrace access to
// the child stage, whose /proc/PID/root is the host's root until its
// pivot_root: root inside an environment without a user namespace could
// read and write any host file through it.
func pidNSSafe(fd int) error {
	owner, err := unix.IoctlRetInt(fd, unix.NS_GET_USERNS)
	if err != nil {
		return err
	}
	defer unix.Close(owner)
	var o, self unix.Stat_t
	if err := unix.Fstat(owner, &o); err != nil {
		return err
	}
	if err := unix.Stat("/proc/self/ns/user", &self); err != nil {
		return err
	}
	if o.Dev == self.Dev && o.Ino == self.Ino {
		return explained{"this pid namespace is owned by nsup's own user namespace: its processes (root there, whatever capabilities they kept) would have every capability in the new user namespace, and could reach the host's root through the child stage's /proc/PID/root; join its user namespace too, or make none", unix.EPERM}
	}
	return nil
}

// releaseLaunched lets the child go on to its execve (its maps are
// written) and returns how that went: nil once the execve succeeded.
func (r *envRun) releaseLaunched() error {
	l := r.launched
	if l == nil {
		return nil
	}
	r.launched = nil
	if l.release != nil {
		if _, err := l.release.Write([]byte{1}); err != nil {
			l.close()
			return err
		}
	}
	defer l.close()
	what, step, value, err := readReport(l.report)
	if err == io.EOF {
		return nil // closed by the execve
	}
	if err != nil || what != reportErr {
		return fmt.Errorf("%s: the child stage ended before its execve: %w", r.env.Name, unix.EIO)
	}
	return stepError(r.env, int(step), unix.Errno(value))
}

func (l *launched) close() {
	l.report.Close()
	if l.release != nil {
		l.release.Close()
	}
}

func readReport(rd io.Reader) (what, step, value uint64, err error) {
	var b [24]byte
	if _, err := io.ReadFull(rd, b[:]); err != nil {
		return 0, 0, 0, err
	}
	return binary.NativeEndian.Uint64(b[0:]), binary.NativeEndian.Uint64(b[8:]), binary.NativeEndian.Uint64(b[16:]), nil
}
