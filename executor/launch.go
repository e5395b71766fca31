package executor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"unsafe"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// The launcher: one way to create every environment's child. From the
// host's locked thread, a raw clone3(2) makes a copy of nsup with that one
// thread, in the new namespaces, which makes raw system calls only (as
// the child half of Go's own syscall.forkAndExecInChild): it waits for
// its id maps (written by the host), becomes root of its user namespace,
// puts its fds in place, and runs the child stage, a rawProg prepared
// before the clone from the plan's child steps (raw.go, rawprep.go): the
// keyring, the bounding set, no_new_privs, the mounts, the root switch,
// the confinement. It ends with the execve of the main process (init:
// false, after its proc steps), of nsup's init, or as the main process's
// minimal PID 1 (Monitor). It reports a failure as (step, part, errno)
// over a pipe; the execve closes that pipe.
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
// From the clone on no Go code runs in the copy: the functions are
// nosplit, their data prepared before the clone, and every signal is
// blocked on the cloning thread meanwhile (the child resets the handlers
// and restores the mask just before its execve).

// rawStackSize is the size of the stack of a child that shares nsup's
// memory: its nosplit functions take less than a KiB.
const rawStackSize = 64 << 10

// launchArgs is what the copy and the child need besides the program,
// prepared before the clone.
type launchArgs struct {
	// forked: a copy joins setns[:nsetns] first, then clones; noDump:
	// it makes itself not dumpable before (the plan's first fork step,
	// step noDumpStep); pause: the test hook's pause of one of its steps
	// (pauseCopy), if its kind is rawPause.
	forked, noDump bool
	noDumpStep     uintptr
	pause          rawOp
	setns          [8]forkSetns
	nsetns         int
	// The child's clone flags (CLONE_NEW*, and CLONE_PARENT from a copy)
	// and step.
	flags, cloneStep uintptr
	// release is the read end of the pipe the child waits on for the
	// host's steps after the clone (its maps, say), or ^0; releaseW its
	// write end, which the child closes.
	release, releaseW uintptr
	// root: become uid and gid 0 of the user namespace first, and drop
	// the supplementary groups where setgroups(2) is allowed (in a joined
	// user namespace an EPERM says it is not: kept then).
	root, setgroups bool
	ppid            uintptr // the child's parent's pid, 0 when it is outside its pid namespace
	prog            *rawProg
	oldmask         uint64
	blockall        uint64
	// The clone3 arguments of the host's fork of the copy and of the
	// copy's clone of the child; noClone3: the host's clone3 was refused
	// (ENOSYS), the copy uses clone(2) too.
	fork, child cloneArgs
	noClone3    bool
	// cgroupNS: the child makes its cgroup namespace once released, not
	// at its clone: without clone3 it enters its unified group only while
	// it waits, and a namespace made before would be rooted at nsup's.
	cgroupNS bool
}

type forkSetns struct{ fd, nstype, step uintptr }

// launchCopy is the forked copy of nsup (stage fork): joins, then the
// child.
//
//go:norace
//go:nosplit
func launchCopy(a *launchArgs) {
	p := a.prog
	// A copy of nsup's memory (fork): nsup's command line and environment
	// blanked here, before any setns (see launch).
	rawBlank(p)
	if a.noDump {
		launchPause(a, a.noDumpStep)
		syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_DUMPABLE, 0, 0, 0, 0, 0)
	}
	for i := 0; i < a.nsetns; i++ {
		s := &a.setns[i]
		launchPause(a, s.step)
		if _, _, e := syscall.RawSyscall(unix.SYS_SETNS, s.fd, s.nstype, 0); e != 0 {
			rawFailed(p, s.step, partCall, e)
		}
	}
	launchPause(a, a.cloneStep)
	var pid uintptr
	var e syscall.Errno
	if a.noClone3 {
		pid, _, e = syscall.RawSyscall6(unix.SYS_CLONE, uintptr(a.child.flags)|uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	} else {
		pid, _, e = syscall.RawSyscall6(unix.SYS_CLONE3, uintptr(unsafe.Pointer(&a.child)), cloneArgsSize, 0, 0, 0, 0)
	}
	if e != 0 {
		rawFailed(p, a.cloneStep, partCall, e)
	}
	if pid == 0 {
		return // the child: its caller goes on with launchChild
	}
	rawReport(p, reportPid, 0, pid)
	rawExit(0)
}

// launchChild is the child's prologue; its caller then runs the child
// stage (rawRun). Each is called from launch, so that the chain of nosplit
// calls stays within what the linker allows.
//
//go:norace
//go:nosplit
func launchChild(a *launchArgs) {
	p := a.prog
	// Die with the host's thread (see envRun.run), and not be born an
	// orphan: if the host is gone already, so is the reason to run.
	launchLifeline(a)
	if a.release != ^uintptr(0) {
		// The host writes one byte once its steps after the clone are
		// done (the maps in place, its thread back home), or closes
		// the pipe if it gives up (or dies: this copy of its write end
		// goes first, so that the read then ends).
		rawClose(a.releaseW)
		n, _, e := syscall.RawSyscall6(unix.SYS_READ, a.release, uintptr(unsafe.Pointer(&p.byte1[0])), 1, 0, 0, 0)
		if e != 0 || n != 1 {
			rawExit(1)
		}
		rawClose(a.release)
	}
	if a.cgroupNS {
		if _, _, e := syscall.RawSyscall(unix.SYS_UNSHARE, unix.CLONE_NEWCGROUP, 0, 0); e != 0 {
			rawFailed(p, a.cloneStep, partCall, e)
		}
	}
	if a.root {
		// Root of the user namespace: its capabilities there are kept
		// through a change of ids only if uid 0 is among them
		// (capabilities(7)).
		if a.setgroups {
			if _, _, e := syscall.RawSyscall6(unix.SYS_SETGROUPS, 0, 0, 0, 0, 0, 0); e != 0 && e != syscall.EPERM {
				rawFailed(p, a.cloneStep, partCall, e)
			}
		}
		if _, _, e := syscall.RawSyscall6(unix.SYS_SETRESGID, 0, 0, 0, 0, 0, 0); e != 0 {
			rawFailed(p, a.cloneStep, partCall, e)
		}
		if _, _, e := syscall.RawSyscall6(unix.SYS_SETRESUID, 0, 0, 0, 0, 0, 0); e != 0 {
			rawFailed(p, a.cloneStep, partCall, e)
		}
		// A change of ids clears the parent-death signal (prctl(2)).
		launchLifeline(a)
	}
	rawPlace(p, a.cloneStep)
}

// launchLifeline sets the parent-death signal and exits if nsup is gone
// already: its pid (getppid(2) says 0 for a parent outside one's pid
// namespace, alive or not), and a pidfd of nsup, which poll(2) finds
// readable once nsup has exited.
//
//go:norace
//go:nosplit
func launchLifeline(a *launchArgs) {
	p := a.prog
	syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0, 0)
	if ppid, _, _ := syscall.RawSyscall6(unix.SYS_GETPPID, 0, 0, 0, 0, 0, 0); ppid != a.ppid {
		rawExit(1)
	}
	rawLifeline(p)
}

// launch creates the child of the environment: from the Clone step at
// step clone (or, with a Fork step at fork >= 0, the copy's steps from
// there). It returns the index of the last raw step: the child stage's
// steps and, when it ends by becoming or forking the main process, the
// main process's proc steps. The child then waits for release (if it has
// maps to wait for) and runs them.
func (r *envRun) launch(ctx context.Context, fork, clone int) (int, error) {
	env := r.env
	fail, pause := r.hooks()
	a := &launchArgs{release: ^uintptr(0), forked: fork >= 0}
	for j := fork + 1; fork >= 0 && j < clone; j++ {
		st := env.Steps[j]
		if pr, ok := st.Op.(planner.Prctl); ok && st.Stage == planner.Forked && pr.Option == unix.PR_SET_DUMPABLE && pr.Arg == 0 {
			if fail != nil && fail.Step == j {
				return 0, stepError(env, j, fail.Errno)
			}
			a.noDump, a.noDumpStep = true, uintptr(j)
			continue
		}
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
	if err := a.pauseCopy(pause, fork, clone); err != nil {
		return 0, stepError(env, pause.Step, err)
	}
	// The host's steps after the clone (the maps, nsup's thread back in
	// its own v1 groups, pasta) are the host's; the child's and the main
	// process's, up to an execve, the program's. The child waits for
	// them, as the plan orders: a child that went on would run its
	// process (a Monitor's main) while a host step may yet fail, and
	// what the process wrote (in a volume this apply made) would outlive
	// the rollback (found by CI: TestRootVolumes, failed at the join
	// back, left the volume with the process's file in it).
	newUser := a.flags&unix.CLONE_NEWUSER != 0
	a.setgroups = true
	var uidMap, gidMap []planner.IDMapLine // of a new user namespace
	waits := newUser                       // for host steps after the clone
	prog := newRawProg()
	b := &rawBuilder{prog: prog, exe: r.a.exe, joinsUser: joinsUser, fail: fail, pause: pause, lookPath: r.lookPathInRoot, trees: r.trees.clone()}
	end, initExec, monitor := -1, false, false
	for j := clone + 1; j < len(env.Steps) && end < 0; j++ {
		st := env.Steps[j]
		if st.Stage == planner.Host {
			waits = true
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
		if st.Stage != planner.Child && st.Stage != planner.Proc {
			return 0, stepError(env, j, fmt.Errorf("stage %s before the child stage's execve: %w", st.Stage, unix.EINVAL))
		}
		if err := b.add(j, st); err != nil {
			return 0, stepError(env, j, err)
		}
		if op, ok := st.Op.(planner.Setns); ok {
			var err error
			if prog.pidns, err = r.lateNS(j, op, a.forked, newUser); err != nil {
				return 0, stepError(env, j, err)
			}
		}
		switch st.Op.(type) {
		case planner.Execve:
			end, initExec = j, st.Stage == planner.Child
		case planner.Monitor:
			monitor = true
		}
	}
	if end < 0 {
		return 0, stepError(env, clone, fmt.Errorf("no execve after the clone: %w", unix.EINVAL))
	}
	if err := b.lateChecked(); err != nil {
		return 0, stepError(env, clone, err)
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
	// Root of the user namespace, as the clone step says (planner's
	// userRoot): of a joined one, or of a new one whose maps have a 0.
	// A plan whose step says otherwise than its maps and joins (saved by
	// an nsup whose plan did not say) is refused, not half done.
	root := joinsUser || newUser && mapsZero(uidMap) && mapsZero(gidMap)
	if op.UserRoot != root || op.DropGroups != (root && a.setgroups) {
		return 0, stepError(env, clone, fmt.Errorf("the step's change to root of the user namespace (%t, setgroups %t) is not what its maps and joins ask (%t, %t): %w",
			op.UserRoot, op.DropGroups, root, root && a.setgroups, unix.EINVAL))
	}
	a.root, a.setgroups = op.UserRoot, op.DropGroups

	// Everything the copy and the child touch, allocated now.
	var pfd [2]int
	if err := unix.Pipe2(pfd[:], unix.O_CLOEXEC); err != nil {
		return 0, os.NewSyscallError("pipe2", err)
	}
	rep, repW := os.NewFile(uintptr(pfd[0]), "report"), os.NewFile(uintptr(pfd[1]), "report")
	defer repW.Close()
	l := &launched{report: rep, dumpable: -1, ctx: ctx}
	var relR *os.File
	var err error
	if waits {
		relR, l.release, err = os.Pipe()
		if err != nil {
			rep.Close()
			return 0, err
		}
		defer relR.Close()
		a.release, a.releaseW = relR.Fd(), l.release.Fd()
	}
	prog.report = repW.Fd()
	// The unified group the child is born in (CLONE_INTO_CGROUP), or, where
	// a filter of the host's refuses clone3, put in by the launcher while
	// it waits (as a v1 group is).
	var into uint64
	a.noClone3 = !canClone3()
	prog.noClone3 = a.noClone3
	if op.Cgroup != "" && a.noClone3 && a.release == ^uintptr(0) {
		relR, l.release, err = os.Pipe()
		if err != nil {
			l.close()
			return 0, err
		}
		defer relR.Close()
		a.release, a.releaseW = relR.Fd(), l.release.Fd()
	}
	if op.Cgroup != "" && a.noClone3 && a.flags&unix.CLONE_NEWCGROUP != 0 {
		a.flags &^= unix.CLONE_NEWCGROUP
		a.cgroupNS = true
	}
	if op.Cgroup != "" {
		fd, err := unix.Open(nsupPath(op.Cgroup), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			l.close()
			return 0, stepError(env, clone, fmt.Errorf("open %s: %w", op.Cgroup, err))
		}
		defer unix.Close(fd)
		into = uint64(fd)
	}
	// nsup's lifeline for the child: a parent-death signal set once nsup
	// is gone would never come (launchLifeline).
	if pidfd, err := unix.PidfdOpen(os.Getpid(), 0); err == nil {
		l.lifeline = os.NewFile(uintptr(pidfd), "nsup-pidfd")
		prog.lifeline = uintptr(pidfd)
	}
	sock, files, done, err := r.childFiles(initExec)
	if err != nil {
		l.close()
		return 0, err
	}
	defer done()
	closeSock := func() {
		if sock != nil {
			sock.Close()
		}
	}
	if len(files) > len(prog.fds) {
		l.close()
		closeSock()
		return 0, fmt.Errorf("%d fds for the child stage: %w", len(files), unix.EINVAL)
	}
	for k, file := range files {
		prog.fds[k] = file.Fd()
	}
	prog.nfds = len(files)
	a.ppid = uintptr(os.Getpid())
	for _, s := range a.setns[:a.nsetns] {
		if s.nstype == unix.CLONE_NEWPID {
			a.ppid = 0
		}
	}
	if a.flags&unix.CLONE_NEWPID != 0 {
		// getppid(2) says 0 for a parent outside one's pid namespace.
		a.ppid = 0
	}
	// The main process of init: false is this child: its parent-death
	// check is the child's own.
	prog.ppid = a.ppid
	a.blockall = ^uint64(0)
	a.prog = prog
	if monitor || a.forked {
		// A Monitor is a copy of nsup's memory either way (forked, or
		// cloned without CLONE_VM below): it blanks nsup's arguments. So
		// does a forked copy, before it joins a pid namespace, where its
		// /proc/PID/cmdline and environ are there for anyone to read
		// until the environment's execve (found by a review).
		prog.blank = ownArgs()
		if prog.blank[0].len == 0 {
			// Not found: the copy would show nsup's command line and
			// environment (a token in it, say) to whoever is inside.
			// Refused rather than shown (found by a review).
			l.close()
			closeSock()
			return 0, fmt.Errorf("nsup's command line and environment, to be hidden from the environment: not found in /proc/self/stat: %w", unix.ENOENT)
		}
	}
	// The stacks of the child and of the main process it may fork, which
	// share nsup's memory (rawCloneOnStack): a mapping of their own, kept
	// until the child is reaped.
	stacks, err := unix.Mmap(-1, 0, 2*rawStackSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_STACK)
	if err != nil {
		l.close()
		closeSock()
		return 0, err
	}
	base := uintptr(unsafe.Pointer(&stacks[0]))
	prog.main.args = cloneArgs{flags: unix.CLONE_VM | unix.CLONE_VFORK, exitSignal: uint64(unix.SIGCHLD),
		stack: uint64(base + rawStackSize), stackSize: rawStackSize}
	prog.launch = rawEntry{kind: entryLaunch, a: a}

	// The clone, with every signal blocked on this thread, and no fd being
	// made meanwhile without close-on-exec (syscall.ForkLock's contract).
	syscall.ForkLock.Lock()
	_, _, e := syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK,
		uintptr(unsafe.Pointer(&a.blockall)), uintptr(unsafe.Pointer(&a.oldmask)), 8, 0, 0)
	if e != 0 {
		syscall.ForkLock.Unlock()
		l.close()
		closeSock()
		return 0, stepError(env, clone, e)
	}
	prog.mask = a.oldmask
	var pid uintptr
	if a.forked {
		a.fork = cloneArgs{exitSignal: uint64(unix.SIGCHLD)}
		a.child = cloneArgs{flags: uint64(a.flags)} // CLONE_PARENT: no exit signal of its own
		if op.Cgroup != "" {
			a.child.flags |= unix.CLONE_INTO_CGROUP
			a.child.cgroup = into
		}
		if a.noClone3 {
			// A filter of the host's that refuses clone3 as Docker's
			// profile does (it cannot read its flags): clone(2).
			a.child.flags &^= unix.CLONE_INTO_CGROUP
			pid, _, e = syscall.RawSyscall6(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
		} else {
			pid, _, e = syscall.RawSyscall6(unix.SYS_CLONE3, uintptr(unsafe.Pointer(&a.fork)), cloneArgsSize, 0, 0, 0, 0)
		}
		if pid == 0 && e == 0 {
			launchCopy(a) // returns in its child only
			launchChild(a)
			rawRun(prog)
			rawFailed(prog, a.cloneStep, partCall, syscall.EINVAL) // a program without an execve
		}
	} else {
		// A child that executes a program soon shares nsup's memory until
		// then, on a stack of its own: nothing is copied, and nsup goes on
		// at once. One that stays as the main process's PID 1 (Monitor) is
		// a copy, which holds no more of nsup's memory than it touches:
		// shared, it would count all of nsup's for as long as it runs.
		vm := uintptr(unix.CLONE_VM)
		if monitor {
			vm = 0
		} else if d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0); err == nil {
			l.dumpable = d
		}
		var errno uintptr
		prog.launch.args = cloneArgs{flags: uint64(a.flags | vm), exitSignal: uint64(unix.SIGCHLD),
			stack: uint64(base), stackSize: rawStackSize}
		if op.Cgroup != "" {
			prog.launch.args.flags |= unix.CLONE_INTO_CGROUP
			prog.launch.args.cgroup = into
		}
		if a.noClone3 {
			// As above: the same with clone(2), which has no cgroup.
			prog.launch.args.flags &^= unix.CLONE_INTO_CGROUP
			pid, errno = rawCloneOnStack(&prog.launch)
		} else {
			pid, errno = rawClone3OnStack(&prog.launch)
		}
		e = syscall.Errno(errno)
	}
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&a.oldmask)), 0, 8, 0, 0)
	syscall.ForkLock.Unlock()
	step := clone
	if a.forked {
		step = fork
	}
	if e != 0 {
		l.close()
		closeSock()
		unix.Munmap(stacks)
		return 0, stepError(env, step, e)
	}
	// What the child reads and writes, while it runs in nsup's memory.
	r.prog, r.stacks = prog, stacks
	repW.Close() // only the copy and its child hold it now
	if a.forked {
		next := r.copyReports(a, rep) // a pause of the copy's, heard before its exit
		var ws unix.WaitStatus
		for {
			_, err := unix.Wait4(int(pid), &ws, 0, nil)
			if err != unix.EINTR {
				break
			}
		}
		// The copy's record, its child's pid, is in the pipe: it wrote it
		// before it exited. The child may have written first, though: a
		// step that failed at once, in a child that waits for no map.
		// That error is the child's to report, once nsup knows the
		// child's pid to reap it by (a child left unreaped in a joined pid
		// namespace would keep that namespace's init from ever ending).
		var childErr error
		var late, lateStep uintptr // the pid of the late clone's child (rawlate.go), told first
		for pid = 0; pid == 0; {
			what, st, value, err := next()
			switch {
			case err != nil:
				l.close()
				closeSock()
				return 0, stepError(env, fork, fmt.Errorf("the forked copy ended without a word (%v): %w", err, unix.EIO))
			case what&0xff == reportErr && st <= uint64(clone):
				// The copy's own failure (a setns, the clone): no child.
				l.close()
				closeSock()
				return 0, stepError(env, int(st), unix.Errno(value))
			case what&0xff == reportErr:
				childErr = r.rawError(int(st), what>>8, unix.Errno(value))
			case what == reportPaused:
				// The test hook, reached by a child that waits for no
				// map before the copy's record (dropped here, it was
				// never said: a flake under CPU hogs).
				if r.a.opts.paused != nil {
					r.a.opts.paused(r.env.Name, int(st))
				}
			case what == reportPid && st > uint64(clone) && late == 0:
				late, lateStep = uintptr(value), uintptr(st)
			case what == reportPid && st > uint64(clone):
				childErr = fmt.Errorf("%s: the child stage told a late clone's pid twice: %w", env.Name, unix.EIO)
			case what == reportPid:
				pid = uintptr(value)
			}
		}
		if r.child = int(pid); late != 0 && childErr == nil {
			if childErr = r.rejoined(l, int(lateStep), int(late)); childErr == nil {
				pid = late
			}
		}
		if childErr != nil {
			r.child = int(pid) // reaped by run, as any child that failed
			l.close()
			closeSock()
			return 0, childErr
		}
	}
	r.child, r.sock, r.launched = int(pid), sock, l
	if op.Cgroup != "" && a.noClone3 {
		// Born outside its unified group (clone(2)): put in while it
		// waits for release.
		if err := cgroupWrite(filepath.Join(nsupPath(op.Cgroup), "cgroup.procs"), strconv.Itoa(int(pid))); err != nil {
			r.signal(unix.SIGKILL)
			return 0, stepError(env, clone, err)
		}
	}
	r.stopKill = context.AfterFunc(ctx, func() {
		if !r.letGo.Load() { // released: it outlives nsup
			r.signal(unix.SIGKILL)
		}
	})
	return end, nil
}
