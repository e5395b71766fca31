package executor

// The host's side of a launch once the child exists: releasing it,
// reading how its raw steps went, and what the child needs read from
// the host before it.

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path"
	"sync"
	"syscall"
	"unsafe"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// launched is the host's side of one launch: the pipes to release the
// child and to learn how its raw steps went.
type launched struct {
	// report is the read end of the child's report pipe, blocking (not
	// the runtime's poller's, as os.Pipe's are): the thread that reads
	// it sleeps in read(2) until the child writes or ends, and the kernel
	// wakes it, rather than the poller waking a locked goroutine that
	// must then get its thread back.
	report  *os.File
	release *os.File // write end, nil if the child does not wait
	// lifeline is nsup's pidfd, which the child polls; dumpable, when
	// the child shares nsup's memory, is what prctl(PR_GET_DUMPABLE) said
	// of it before the child made it not dumpable: given back once the
	// child has left it (its execve), or -1.
	lifeline *os.File
	dumpable int
	// ctx is the apply's: a late clone's child (rejoined) is killed
	// once it is done, as the stage is; lateTold, once its pid was told.
	ctx      context.Context
	lateTold bool
}

// lateNS is the fd of the pid namespace the child stage joins after its
// root switch (step i, rawlate.go): by a forked copy's stage only (it
// clones again, a copy of its own memory), outside a user namespace of
// its own (which does not own that pid namespace: setns refuses it).
func (r *envRun) lateNS(i int, op planner.Setns, forked, newUser bool) (uintptr, error) {
	if !forked || newUser {
		return 0, fmt.Errorf("a pid namespace is joined after the root switch by a forked copy's stage outside a user namespace of its own: %w", unix.EINVAL)
	}
	fd, err := r.nsFD(i, op)
	if err != nil {
		return 0, err
	}
	return uintptr(fd), nil
}

// rejoined makes pid, the late clone's child, the child nsup waits for,
// and reaps the stage that made it (which exits once the child's
// parent-death signal is set). A kill meant for the stage that came too
// late to reach the child is made again.
//
// The record comes over the report pipe, which the late clone's child
// holds until its execve, in the pid namespace it joined: root there
// with CAP_SYS_PTRACE on the host reopens it through /proc/PID/fd and
// told nsup a host process of its choosing, which nsup then waited for
// and killed (helper-162, TestRootJoinPidLateReportNotForged). Taken
// once, at the plan's late clone, and only a child of nsup's other than
// the stage.
func (r *envRun) rejoined(l *launched, step, pid int) error {
	old := r.child
	late := -1
	for i, st := range r.env.Steps {
		if op, ok := st.Op.(planner.Clone); ok && op.Late && st.Stage == planner.Child {
			late = i
		}
	}
	var info unix.Siginfo
	err := error(unix.ECHILD) // the stage's own pid, or none
	for i := 0; i == 0 || err == unix.EINTR; i++ {
		if pid > 0 && pid != old {
			err = unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		}
	}
	if l.lateTold || step != late || err != nil {
		return fmt.Errorf("%s: the child stage told the pid %d of a late clone at step %d (told before: %t; not a child of nsup's: %v): %w", r.env.Name, pid, step, l.lateTold, err, unix.EIO)
	}
	l.lateTold = true
	r.mu.Lock()
	r.child = pid
	r.mu.Unlock()
	var ws unix.WaitStatus
	for {
		if _, err := unix.Wait4(old, &ws, 0, nil); err != unix.EINTR {
			break
		}
	}
	if l.ctx != nil && l.ctx.Err() != nil && !r.letGo.Load() {
		r.signal(unix.SIGKILL)
	}
	return nil
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

// releaseLaunched lets the child go on (the host steps after its clone
// are done) and returns how its raw steps went: nil once its execve
// succeeded (for a Monitor, the main process's).
func (r *envRun) releaseLaunched() error {
	l := r.launched
	if l == nil {
		return nil
	}
	r.launched = nil
	defer l.close()
	if l.release != nil {
		if _, err := l.release.Write([]byte{1}); err != nil {
			return err
		}
	}
	for {
		what, step, value, err := readReport(l.report)
		switch {
		case err == io.EOF:
			return nil // closed by the execve
		case err != nil:
			return fmt.Errorf("%s: the child stage ended before its execve: %w", r.env.Name, unix.EIO)
		case what == reportPaused:
			if r.a.opts.paused != nil {
				r.a.opts.paused(r.env.Name, int(step))
			}
		case what&0xff == reportErr:
			return r.rawError(int(step), what>>8, unix.Errno(value))
		case what == reportPid && step > 0:
			if err := r.rejoined(l, int(step), int(value)); err != nil { // the late clone's child (rawlate.go)
				return err
			}
		default:
			return fmt.Errorf("%s: the child stage said %d: %w", r.env.Name, what, unix.EIO)
		}
	}
}

// rawError is the error of a raw step, the part of it that failed said
// as the Go code of the same step would.
func (r *envRun) rawError(step int, part uint64, e unix.Errno) error {
	err := error(e)
	if step >= 0 && step < len(r.env.Steps) {
		switch op := r.env.Steps[step].Op.(type) {
		case planner.Mount:
			switch part {
			case partSource:
				if op.SourceInRoot {
					err = fmt.Errorf("resolve %s inside the root: %w", op.Source, e)
				} else if e == unix.ELOOP {
					err = symlinkNow(op.Source)
				} else {
					err = fmt.Errorf("open %s: %w", op.Source, e)
				}
			case partTarget:
				err = fmt.Errorf("resolve %s inside the root: %w", op.Target, e)
			case partNotDev:
				err = fmt.Errorf("%s on the host is not the device it names (something replaced it there; bound, it would be what root inside reads and writes): %w", op.Source, e)
			case partLink:
				err = targetLinkError(r.env, op.Target, e)
			case partRoot:
				err = fmt.Errorf("open %q: %w", op.Root, e)
				if e == unix.ELOOP {
					err = symlinkNow(op.Root)
				}
			}
		case planner.Console, planner.ReadOnlyTerminal:
			if part == partNotDev {
				err = fmt.Errorf("the terminal's /dev/pts name is not fd 0's terminal in the child's mount namespace (something was mounted or renamed there; reopened, it would be the environment's terminal): %w", e)
			}
		case planner.MountSetattr:
			if part == partTarget {
				err = fmt.Errorf("resolve %s inside the root: %w", op.Path, e)
			}
		case planner.MakeCwd:
			if part == partTarget {
				err = fmt.Errorf("make the working directory %s inside the root: %w", op.Path, e)
				if e == unix.EXDEV {
					// A tar root's link (/var/run -> /run) led the walk,
					// which crosses no mount, into one: the plan cannot
					// see the archive's links (helper-136's review).
					err = fmt.Errorf("%w (a symlink of the tree leads the working directory into a mount: give the cwd as the path it leads to)", err)
				}
			}
		case planner.Symlink:
			if part == partTarget {
				err = fmt.Errorf("resolve %s inside the root: %w", path.Dir(op.Link), e)
			}
		case planner.Overlay:
			if part == partLower {
				err = fmt.Errorf("open %q: %w", op.Lower, e)
				if e == unix.ELOOP {
					err = symlinkNow(op.Lower)
				}
			}
		}
	}
	return stepError(r.env, step, err)
}

// symlinkNow is the error of a host path the plan resolved, opened
// without following a symlink, and found with one.
func symlinkNow(p string) error {
	return explained{fmt.Sprintf("%s: a symlink is in this path now, which the plan resolved without one (changed since it was planned?): refused, it could lead anywhere", p), unix.ELOOP}
}

func (l *launched) close() {
	if l.dumpable >= 0 {
		// The child shared this memory, and made it not dumpable: it has
		// left it (execve) or ended; nsup is dumpable as it was.
		unix.Prctl(unix.PR_SET_DUMPABLE, uintptr(l.dumpable), 0, 0, 0)
		l.dumpable = -1
	}
	if l.lifeline != nil {
		l.lifeline.Close()
	}
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

// ownArgs are where nsup's command line and environment are in its
// memory, from /proc/self/stat (arg_start, arg_end, env_start, env_end,
// fields 48 to 51, proc(5)), for a Monitor to blank in its copy; none if
// that cannot be read, and launch then refuses to make a copy that needs
// them.
var ownArgs = sync.OnceValue(readOwnArgs)

// readOwnArgs reads the line with read(2) into this frame: no os.File (a
// finalizer, the poller), no allocation; at every apply of a Monitor,
// where os.ReadFile and strings.Fields took 0.04 ms.
func readOwnArgs() (r [2]memArea) {
	fd, err := unix.Open("/proc/self/stat", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return r
	}
	var b [2048]byte // 52 fields of at most 20 digits, and a name of 64
	n, err := unix.Read(fd, b[:])
	unix.Close(fd)
	if err != nil || n <= 0 || n == len(b) {
		return r
	}
	v, ok := parseOwnArgs(b[:n])
	if !ok {
		return r
	}
	for k := range r {
		if v[2*k+1] > v[2*k] {
			// An address outside Go's heap, which the collector ignores.
			r[k].at, r[k].len = unsafe.Add(unsafe.Pointer(nil), v[2*k]), v[2*k+1]-v[2*k]
		}
	}
	return r
}

// parseOwnArgs returns fields 48 to 51 of a /proc/PID/stat line, none of
// them 0.
func parseOwnArgs(b []byte) (v [4]uintptr, ok bool) {
	// Past the command's name, which may have spaces and parentheses:
	// field 3 on.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return v, false
	}
	b = b[i+1:]
	for field := 3; field <= 51; field++ {
		for len(b) > 0 && b[0] == ' ' {
			b = b[1:]
		}
		end := 0
		for end < len(b) && b[end] != ' ' && b[end] != '\n' {
			end++
		}
		if end == 0 {
			return v, false
		}
		if field >= 48 {
			var n uintptr
			for _, c := range b[:end] {
				if c < '0' || c > '9' || n > (^uintptr(0)-9)/10 {
					return v, false
				}
				n = n*10 + uintptr(c-'0')
			}
			if n == 0 {
				return v, false
			}
			v[field-48] = n
		}
		b = b[end:]
	}
	return v, true
}

// staticSelf says why nsup's binary may not start its init, nil if it
// may. The init is started inside the environment, after the root
// switch, by an execveat of that binary: linked dynamically (with cgo),
// it would be loaded by the environment's ld.so and libc, which whoever
// made the tree wrote, while it still holds every capability. A binary
// whose program headers cannot be read is refused too. Asked once.
var staticSelf = sync.OnceValue(func() error {
	interp, err := planner.ELFInterp("/proc/self/exe")
	if err != nil {
		return fmt.Errorf("whether nsup's binary is static, its init's to start: %w", err)
	}
	if interp != "" {
		return fmt.Errorf("nsup is linked dynamically (program interpreter %s): its init, started inside the environment after the root switch, would be loaded by the environment's %s, with every capability: build nsup static (CGO_ENABLED=0, as make build does)", interp, interp)
	}
	return nil
})

// canClone3 says whether clone3(2) may be called here: a filter of the
// host's (Docker's default profile, gVisor) may answer it with ENOSYS,
// where clone3(NULL, 0) is otherwise EINVAL (no arguments). Asked once.
var canClone3 = sync.OnceValue(func() bool {
	_, _, e := syscall.RawSyscall(unix.SYS_CLONE3, 0, 0, 0)
	return e != unix.ENOSYS && e != unix.EPERM
})
