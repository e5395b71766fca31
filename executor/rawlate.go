package executor

import (
	"fmt"
	"syscall"
	"unsafe"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// A pid namespace joined late (planner.Clone.Late): the child stage is
// born outside the pid namespace it joins, does its mounts there (proc
// made for the joined namespace: fsconfig "pidns"), switches its root,
// and only then joins (setns, which moves only the children it makes
// after) and clones the process that goes on in there, with nothing of
// nsup's but fds 0 to N, the report pipe and nsup's binary; the stage
// reports that process's pid and exits. A stage born in the joined
// namespace was seen there, with the host's root as its /proc/PID/root
// and every fd of nsup's, by whoever holds that namespace: root of
// another runtime's container, with CAP_SYS_PTRACE on the host, passes
// the ptrace access check on it, and wrote the host's files through it
// (helper-148, TestRootPtraceJoinerByPathStageUnreachable).

// lateOp is the raw step of the child stage's Setns (its pid namespace,
// whose fd the launcher opened: rawProg.pidns) or of its Late clone.
func (b *rawBuilder) lateOp(st planner.Step) (rawOp, error) {
	switch op := st.Op.(type) {
	case planner.Setns:
		if st.Stage != planner.Child || op.NSType != unix.CLONE_NEWPID || b.lateNS != "" {
			return rawOp{}, fmt.Errorf("%s: the child stage joins one pid namespace, and nothing else: %w", planner.FormatOp(op), unix.EINVAL)
		}
		b.lateNS = op.Path
		return rawOp{kind: rawSetnsLate}, nil
	case planner.Clone:
		if st.Stage != planner.Child || !op.Late || op.Flags != unix.CLONE_PARENT || op.Cgroup != "" || op.UserRoot || b.lateNS == "" || b.late {
			return rawOp{}, fmt.Errorf("%s: the child stage's clone is one late clone (CLONE_PARENT alone), after its pid namespace's setns: %w", planner.FormatOp(op), unix.EINVAL)
		}
		b.late = true
		return rawOp{kind: rawLate}, nil
	}
	return rawOp{}, fmt.Errorf("%s: not a step of the child stage: %w", planner.FormatOp(st.Op), unix.EINVAL)
}

// pidNSMount makes o, a held proc mount, proc of the pid namespace the
// stage joins later.
func (b *rawBuilder) pidNSMount(o *rawOp, op planner.Mount) error {
	if op.FSType != "proc" || o.flag&rawMountHeld == 0 || o.flag&rawMountBind != 0 {
		return fmt.Errorf("%s: only a held proc mount is made for a pid namespace: %w", planner.FormatOp(op), unix.EINVAL)
	}
	if b.pidNS != "" && b.pidNS != op.PidNS {
		return fmt.Errorf("%s: proc for two pid namespaces: %w", planner.FormatOp(op), unix.EINVAL)
	}
	b.pidNS = op.PidNS
	o.flag |= rawMountPidNS
	return nil
}

// lateChecked checks the program's late join once every step is added:
// its proc mounts are of the pid namespace it joins, and a join has its
// clone.
func (b *rawBuilder) lateChecked() error {
	switch {
	case b.pidNS != "" && b.pidNS != b.lateNS:
		return fmt.Errorf("proc made for %s, and the pid namespace joined after the root switch is %q: %w", b.pidNS, b.lateNS, unix.EINVAL)
	case b.lateNS != "" && !b.late:
		return fmt.Errorf("the pid namespace %s joined after the root switch, and no late clone: %w", b.lateNS, unix.EINVAL)
	}
	return nil
}

// rawDoSetnsLate joins the pid namespace (its children will be born in
// it) and closes its fd.
//
//go:norace
//go:nosplit
func rawDoSetnsLate(p *rawProg, op *rawOp) {
	if _, _, e := syscall.RawSyscall(unix.SYS_SETNS, p.pidns, unix.CLONE_NEWPID, 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	rawClose(p.pidns)
	p.pidns = ^uintptr(0)
}

// rawDoLate is the late clone. The stage closes nsup's pidfd and every
// other fd of nsup's but fds 0 to nfds-1, the report pipe and nsup's
// binary, and clones (CLONE_PARENT: nsup's child, in the joined pid
// namespace). The child sets its parent-death signal (nsup's thread) and
// says so over a socket pair; the stage, outside, then checks that nsup
// is alive (getppid: nsup's pid while it lives) and lets it go on, or
// kills it; the child, let go (or, if the stage died, not: end of file),
// makes a session of its own and returns to the steps after this one.
// The stage reports the child's pid first: nsup then reaps the stage
// and waits for the child instead.
//
//go:norace
//go:nosplit
func rawDoLate(p *rawProg, op *rawOp) {
	rawClose(p.lifeline)
	p.lifeline = ^uintptr(0)
	if e := rawCloseFrom(p, uintptr(p.nfds), true); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	if _, _, e := syscall.RawSyscall6(unix.SYS_SOCKETPAIR, unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0, uintptr(unsafe.Pointer(&p.pair[0])), 0, 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	var pid uintptr
	var e syscall.Errno
	if p.noClone3 {
		pid, _, e = syscall.RawSyscall6(unix.SYS_CLONE, unix.CLONE_PARENT, 0, 0, 0, 0, 0)
	} else {
		p.late = cloneArgs{flags: unix.CLONE_PARENT}
		pid, _, e = syscall.RawSyscall6(unix.SYS_CLONE3, uintptr(unsafe.Pointer(&p.late)), cloneArgsSize, 0, 0, 0, 0)
	}
	if e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	if pid == 0 {
		rawClose(uintptr(p.pair[0]))
		syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0, 0)
		p.ppid = 0 // getppid(2) says 0 in here: nsup is outside
		p.byte1[0] = 1
		syscall.RawSyscall6(unix.SYS_WRITE, uintptr(p.pair[1]), uintptr(unsafe.Pointer(&p.byte1[0])), 1, 0, 0, 0)
		if n, _, e := syscall.RawSyscall6(unix.SYS_READ, uintptr(p.pair[1]), uintptr(unsafe.Pointer(&p.byte1[0])), 1, 0, 0, 0); e != 0 || n != 1 {
			rawExit(1)
		}
		rawClose(uintptr(p.pair[1]))
		if _, _, e := syscall.RawSyscall(unix.SYS_SETSID, 0, 0, 0); e != 0 {
			rawFailed(p, op.step, partCall, e)
		}
		return
	}
	rawClose(uintptr(p.pair[1]))
	rawReport(p, reportPid, op.step, pid)
	if n, _, e := syscall.RawSyscall6(unix.SYS_READ, uintptr(p.pair[0]), uintptr(unsafe.Pointer(&p.byte1[0])), 1, 0, 0, 0); e != 0 || n != 1 {
		rawExit(1) // the child is gone: nsup reads the report pipe's end
	}
	if ppid, _, _ := syscall.RawSyscall6(unix.SYS_GETPPID, 0, 0, 0, 0, 0, 0); ppid != p.ppid {
		syscall.RawSyscall(unix.SYS_KILL, pid, uintptr(unix.SIGKILL), 0)
		rawExit(1)
	}
	syscall.RawSyscall6(unix.SYS_WRITE, uintptr(p.pair[0]), uintptr(unsafe.Pointer(&p.byte1[0])), 1, 0, 0, 0)
	rawExit(0)
}
