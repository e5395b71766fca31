package executor

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"unsafe"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// Entering a user, mount or time namespace needs a process of one thread:
// setns(2) refuses a user namespace to a multithreaded process (EINVAL),
// a mount namespace to one whose threads share their filesystem
// attributes (CLONE_FS, EINVAL), a time namespace likewise (EUSERS). A Go
// program has several threads from its first instruction on. design.md
// names two ways out; nsup takes a third, in Go:
//
//   - a C constructor run before the Go runtime starts (runc's nsexec)
//     needs cgo: nsup's static build would link libc and start through
//     it, and the constructor would run, if only to look at argv, in
//     every nsup process, on the measured start-up path;
//   - asking the joined environment's init to spawn the child works only
//     for a join by name, not by path, and that init has dropped the
//     capabilities it would need to create namespaces (Capset).
//
// Instead the host's locked thread forks (a plain fork(2): a copy of
// nsup with this one thread, the stage "fork" of the plan), and the copy,
// like the child half of Go's own syscall.forkAndExecInChild, makes raw
// system calls only: setns(2) for each join, user first, then a clone(2)
// with the new namespaces and CLONE_PARENT, so that the child stage is
// nsup's child (it waits for it, and Pdeathsig ties it to this thread);
// then it reports the child's pid and exits. The child waits until the
// host has written its maps, takes its identity, puts its fds in place
// and executes nsup's child stage. None of this costs an environment
// that does not join such a namespace: those are created by exec.Cmd
// from the host thread, as before.
//
// From the fork to the execve no Go code may allocate, grow the stack, or
// be preempted: the functions are nosplit, their data prepared before the
// fork, and every signal is blocked on the forking thread meanwhile (the
// copy restores the mask just before its execve).

// forkArgs is everything the copy and its child need, prepared before the
// fork.
type forkArgs struct {
	setns  [8]forkSetns
	nsetns int
	// clone: the child's flags (CLONE_NEW*|CLONE_PARENT) and step.
	flags, cloneStep uintptr
	// report is the write end of the report pipe (close-on-exec: the
	// child's execve closes it).
	report uintptr
	// release is the read end of the pipe the child waits on for its maps,
	// or -1.
	release uintptr
	// root: become uid and gid 0 of the user namespace before the execve,
	// and drop the supplementary groups where setgroups(2) is allowed (in
	// a joined user namespace an EPERM says it is not: kept then).
	root, setgroups bool
	// fds[:nfds] become the child's 0, 1, 2, ...: stdio, the setup
	// channel, and, detached, the lock and the control socket.
	fds  [6]uintptr
	nfds int
	ppid uintptr // the host's pid: the child's parent (CLONE_PARENT)
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

// Report records, three uint64 each: what, step, value.
const (
	reportPid = 1 // the child's pid (value)
	reportErr = 2 // step failed with errno value
)

//go:norace
//go:nosplit
func forkReport(a *forkArgs, what, step, value uintptr) {
	rec := [3]uint64{uint64(what), uint64(step), uint64(value)}
	syscall.RawSyscall(unix.SYS_WRITE, a.report, uintptr(unsafe.Pointer(&rec[0])), unsafe.Sizeof(rec))
}

//go:norace
//go:nosplit
func forkExit(code uintptr) {
	for {
		syscall.RawSyscall(unix.SYS_EXIT_GROUP, code, 0, 0)
	}
}

// forkCopy is the copy of nsup (stage fork): joins, then the child.
//
//go:norace
//go:nosplit
func forkCopy(a *forkArgs) {
	for i := range a.setns {
		if i >= a.nsetns {
			break
		}
		s := a.setns[i]
		if _, _, e := syscall.RawSyscall(unix.SYS_SETNS, s.fd, s.nstype, 0); e != 0 {
			forkReport(a, reportErr, s.step, uintptr(e))
			forkExit(1)
		}
	}
	pid, _, e := syscall.RawSyscall6(unix.SYS_CLONE, a.flags|uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	if e != 0 {
		forkReport(a, reportErr, a.cloneStep, uintptr(e))
		forkExit(1)
	}
	if pid == 0 {
		forkChild(a)
	}
	forkReport(a, reportPid, 0, pid)
	forkExit(0)
}

// forkChild is the child stage before its execve.
//
//go:norace
//go:nosplit
func forkChild(a *forkArgs) {
	if a.release != ^uintptr(0) {
		// The host writes one byte once the maps are in place, or closes
		// the pipe if it gives up.
		var b [1]byte
		n, _, e := syscall.RawSyscall(unix.SYS_READ, a.release, uintptr(unsafe.Pointer(&b[0])), 1)
		if e != 0 || n != 1 {
			forkExit(1)
		}
	}
	if a.root {
		// Root of the user namespace before the execve, or the execve
		// clears the capabilities (capabilities(7)).
		if a.setgroups {
			if _, _, e := syscall.RawSyscall(unix.SYS_SETGROUPS, 0, 0, 0); e != 0 && e != syscall.EPERM {
				forkReport(a, reportErr, a.execStep, uintptr(e))
				forkExit(1)
			}
		}
		if _, _, e := syscall.RawSyscall(unix.SYS_SETRESGID, 0, 0, 0); e != 0 {
			forkReport(a, reportErr, a.execStep, uintptr(e))
			forkExit(1)
		}
		if _, _, e := syscall.RawSyscall(unix.SYS_SETRESUID, 0, 0, 0); e != 0 {
			forkReport(a, reportErr, a.execStep, uintptr(e))
			forkExit(1)
		}
	}
	// Die with the host's thread (see envRun.run), and not be born an
	// orphan: if the host is gone already, so is the reason to run.
	syscall.RawSyscall(unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0)
	if ppid, _, _ := syscall.RawSyscall(unix.SYS_GETPPID, 0, 0, 0); ppid != a.ppid {
		forkExit(1)
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
			forkReport(a, reportErr, a.execStep, uintptr(e))
			forkExit(1)
		}
		tmp[i] = fd
	}
	if a.byFD {
		// nsup's own fd may be one of 0 to 3: out of the way too.
		fd, _, e := syscall.RawSyscall(unix.SYS_FCNTL, a.exe, unix.F_DUPFD_CLOEXEC, 10)
		if e != 0 {
			forkReport(a, reportErr, a.execStep, uintptr(e))
			forkExit(1)
		}
		a.exe = fd
	}
	for i := range tmp {
		if i >= a.nfds {
			break
		}
		if _, _, e := syscall.RawSyscall(unix.SYS_DUP3, tmp[i], uintptr(i), 0); e != 0 {
			forkReport(a, reportErr, a.execStep, uintptr(e))
			forkExit(1)
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
	forkReport(a, reportErr, a.execStep, uintptr(e))
	forkExit(127)
}

// forked is the host's side of one fork: the child stage's pid once the
// copy reported it, and the pipes to release the child and to learn how
// its execve went.
type forked struct {
	pid     int
	report  *os.File // read end
	release *os.File // write end, nil if the child does not wait
}

// forkClone performs the steps of stage fork that follow step i (setns...,
// clone): it returns the index of the clone step. The copy is waited for
// here; the child then waits for release (if it must) and executes
// nsup's child stage.
func (r *envRun) forkClone(ctx context.Context, i int) (int, error) {
	env := r.env
	a := &forkArgs{release: ^uintptr(0)}
	clone := -1
	for j := i + 1; j < len(env.Steps) && clone < 0; j++ {
		st := env.Steps[j]
		if st.Stage != planner.Forked {
			return 0, stepError(env, j, fmt.Errorf("stage %s inside a fork: %w", st.Stage, unix.EINVAL))
		}
		switch op := st.Op.(type) {
		case planner.Setns:
			if a.nsetns == len(a.setns) {
				return 0, stepError(env, j, fmt.Errorf("more than %d joins: %w", len(a.setns), unix.EINVAL))
			}
			fd, err := r.nsFD(j, op)
			if err != nil {
				return 0, stepError(env, j, err)
			}
			a.setns[a.nsetns] = forkSetns{uintptr(fd), uintptr(op.NSType), uintptr(j)}
			a.nsetns++
		case planner.Clone:
			clone = j
			a.flags, a.cloneStep = uintptr(op.Flags), uintptr(j)
		default:
			return 0, stepError(env, j, fmt.Errorf("%s cannot be made by the forked copy: %w", op.Syscall(), unix.EINVAL))
		}
	}
	if clone < 0 {
		return 0, stepError(env, i, fmt.Errorf("a fork without a clone: %w", unix.EINVAL))
	}
	// The child stage's execve, the first child step; maps before it.
	exec := -1
	newUser := a.flags&unix.CLONE_NEWUSER != 0
	a.setgroups = true
	var uidMap, gidMap string // of a new user namespace
	for j := clone + 1; j < len(env.Steps); j++ {
		st := env.Steps[j]
		if st.Stage == planner.Host {
			switch op := st.Op.(type) {
			case planner.Write:
				switch op.Path {
				case "/proc/$CHILD/setgroups":
					a.setgroups = false
				case "/proc/$CHILD/uid_map":
					uidMap = op.Data
				case "/proc/$CHILD/gid_map":
					gidMap = op.Data
				}
			case planner.Newidmap:
				if strings.Contains(op.Program, "newgidmap") {
					gidMap = op.Map
				} else {
					uidMap = op.Map
				}
			}
		}
		if x, ok := st.Op.(planner.Execve); ok && st.Stage == planner.Child {
			exec = j
			a.byFD = x.ByFD
			break
		}
	}
	if exec < 0 {
		return 0, stepError(env, clone, fmt.Errorf("no child stage execve after the clone: %w", unix.EINVAL))
	}
	a.execStep = uintptr(exec)
	joinsUser := false
	for _, s := range a.setns[:a.nsetns] {
		joinsUser = joinsUser || s.nstype == unix.CLONE_NEWUSER
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
	// Root of the user namespace, as exec.Cmd's path makes the child
	// (userMaps): of a joined one, or of a new one whose maps have a 0.
	a.root = joinsUser
	if newUser {
		u, errU := parseMap(uidMap)
		g, errG := parseMap(gidMap)
		a.root = errU == nil && errG == nil && mapsZero(u) && mapsZero(g)
	}

	// Everything the copy touches, allocated now.
	rep, repW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer repW.Close()
	f := &forked{report: rep}
	var relR *os.File
	if newUser {
		relR, f.release, err = os.Pipe()
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
		f.close()
		return 0, err
	}
	defer done()
	if len(files) > len(a.fds) {
		f.close()
		sock.Close()
		return 0, fmt.Errorf("%d fds for the child stage: %w", len(files), unix.EINVAL)
	}
	for k, file := range files {
		a.fds[k] = file.Fd()
	}
	a.nfds = len(files)
	a.exe = uintptr(r.a.exe)
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
	a.path, _ = unix.BytePtrFromString("/proc/self/exe")
	a.empty, _ = unix.BytePtrFromString("")
	argv := [3]*byte{}
	argv[0], _ = unix.BytePtrFromString(planner.StageArgv[0])
	argv[1], _ = unix.BytePtrFromString(planner.StageArgv[1])
	envv := [3]*byte{}
	a.argv, a.envv = &argv, &envv
	a.blockall = ^uint64(0)

	// The fork, with every signal blocked on this thread, and no fd being
	// made meanwhile without close-on-exec (syscall.ForkLock's contract).
	syscall.ForkLock.Lock()
	_, _, e := syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK,
		uintptr(unsafe.Pointer(&a.blockall)), uintptr(unsafe.Pointer(&a.oldmask)), 8, 0, 0)
	if e != 0 {
		syscall.ForkLock.Unlock()
		f.close()
		sock.Close()
		return 0, stepError(env, i, e)
	}
	a.mask = a.oldmask
	pid1, _, e := syscall.RawSyscall6(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	if pid1 == 0 && e == 0 {
		forkCopy(a)
	}
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&a.oldmask)), 0, 8, 0, 0)
	syscall.ForkLock.Unlock()
	if e != 0 {
		f.close()
		sock.Close()
		return 0, stepError(env, i, e)
	}
	repW.Close() // only the copy and its child hold it now
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(int(pid1), &ws, 0, nil)
		if err != unix.EINTR {
			break
		}
	}
	what, step, value, err := readReport(rep)
	if err != nil || what != reportPid {
		f.close()
		sock.Close()
		if err == nil && what == reportErr {
			return 0, stepError(env, int(step), unix.Errno(value))
		}
		return 0, stepError(env, i, fmt.Errorf("the forked copy ended without a word (%v): %w", err, unix.EIO))
	}
	f.pid = int(value)
	proc, err := os.FindProcess(f.pid)
	if err != nil {
		unix.Kill(f.pid, unix.SIGKILL)
		f.close()
		sock.Close()
		return 0, stepError(env, clone, err)
	}
	r.proc, r.sock, r.forked = proc, sock, f
	r.stopKill = context.AfterFunc(ctx, func() {
		if !r.letGo.Load() { // released: it outlives nsup
			proc.Kill()
		}
	})
	return clone, nil
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

// releaseForked lets the forked child go on to its execve (its maps are
// written) and returns how that went: nil once the execve succeeded.
func (r *envRun) releaseForked() error {
	f := r.forked
	if f == nil {
		return nil
	}
	r.forked = nil
	if f.release != nil {
		if _, err := f.release.Write([]byte{1}); err != nil {
			f.close()
			return err
		}
	}
	defer f.close()
	what, step, value, err := readReport(f.report)
	if err == io.EOF {
		return nil // closed by the execve
	}
	if err != nil || what != reportErr {
		return fmt.Errorf("%s: the child stage ended before its execve: %w", r.env.Name, unix.EIO)
	}
	return stepError(r.env, int(step), unix.Errno(value))
}

func (f *forked) close() {
	f.report.Close()
	if f.release != nil {
		f.release.Close()
	}
}

func readReport(rd io.Reader) (what, step, value uint64, err error) {
	var b [24]byte
	if _, err := io.ReadFull(rd, b[:]); err != nil {
		return 0, 0, 0, err
	}
	return binary.NativeEndian.Uint64(b[0:]), binary.NativeEndian.Uint64(b[8:]), binary.NativeEndian.Uint64(b[16:]), nil
}
