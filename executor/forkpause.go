package executor

import (
	"io"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The pause hook (Options.pauseAt) in the forked copy: a test stops the
// copy before one of its steps (stage fork: its prctl, a setns, its
// clone), with the steps before it done, then kills nsup there or lets
// the copy go on (ResumeFrom). The host holds no pause of its own for
// them: the copy performs them, after the fork.

// pauseCopy prepares the pause of step pause.Step if it is one of the
// copy's (fork < step <= clone).
func (a *launchArgs) pauseCopy(pause *failPoint, fork, clone int) error {
	if pause == nil || fork < 0 || pause.Step <= fork || pause.Step > clone {
		return nil
	}
	a.pause = rawOp{kind: rawPause, step: uintptr(pause.Step)}
	if pause.Resume != "" {
		var err error
		a.pause.s[0], err = cstr(pause.Resume)
		return err
	}
	return nil
}

// launchPause, in the copy, pauses before step if the hook says so. The
// copy then dies with nsup, as its child does (launchLifeline): a test
// that kills nsup there finds nothing left.
//
//go:norace
//go:nosplit
func launchPause(a *launchArgs, step uintptr) {
	if a.pause.kind != rawPause || a.pause.step != step {
		return
	}
	syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0, 0)
	rawLifeline(a.prog)
	rawDoPause(a.prog, &a.pause)
}

// rawDoPause reports the pause before op's step, then waits: until a
// byte comes through the FIFO s[0], if set, else until killed.
//
//go:norace
//go:nosplit
func rawDoPause(p *rawProg, op *rawOp) {
	rawReport(p, reportPaused, op.step, 0)
	if op.s[0] == nil {
		for {
			syscall.RawSyscall6(unix.SYS_PPOLL, 0, 0, 0, 0, 8, 0) // no fd, no timeout: until killed
		}
	}
	fd, _, e := syscall.RawSyscall6(unix.SYS_OPENAT, atFDCWD, uintptr(unsafe.Pointer(op.s[0])), unix.O_RDONLY|unix.O_CLOEXEC, 0, 0, 0)
	if e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	for {
		n, _, e := syscall.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&p.byte1[0])), 1)
		if e != syscall.EINTR && (e != 0 || n == 1 || n == 0) {
			break
		}
	}
	rawClose(fd)
}

// copyReports returns what reads the reports of the forked copy and its
// child. launch waits for the copy's exit before it reads them; a pause
// of the copy's (pauseCopy) holds that exit back, so it is heard first:
// until its clone the copy alone writes to rep, and the one report read
// then is the pause's, or the copy's failure (or end) before it, which
// is handed on as the first.
func (r *envRun) copyReports(a *launchArgs, rep io.Reader) func() (what, step, value uint64, err error) {
	next := func() (uint64, uint64, uint64, error) { return readReport(rep) }
	if a.pause.kind != rawPause {
		return next
	}
	what, step, value, err := readReport(rep)
	if err == nil && what == reportPaused {
		if r.a.opts.paused != nil {
			r.a.opts.paused(r.env.Name, int(step))
		}
		return next
	}
	first := true
	return func() (uint64, uint64, uint64, error) {
		if first {
			first = false
			return what, step, value, err
		}
		return readReport(rep)
	}
}
