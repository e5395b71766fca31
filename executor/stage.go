package executor

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// IsStage reports whether this process is nsup re-executed by Apply as an
// environment's child stage: its arguments are exactly planner.StageArgv
// and fd 3 is a socket (Apply's end of the setup channel). Typing the
// argument by hand does not make a stage: the socket is missing.
func IsStage() bool {
	if len(os.Args) != len(planner.StageArgv) || os.Args[1] != planner.StageArgv[1] {
		return false
	}
	var st unix.Stat_t
	return unix.Fstat(stageFD, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFSOCK
}

// RunStage runs the child stage: it reads its steps from the host, applies
// them in order, and then either becomes the main process (init: false,
// by execve) or runs as the environment's init (PID 1) until the main
// process exits. It returns the exit status; the caller exits with it.
func RunStage() int {
	// Everything here that is per thread must be on one thread: no_new_privs
	// (prctl(2)), the credentials an execve or a fork carries, and
	// Pdeathsig of the processes init starts (the thread that forks them
	// must outlive them). The stage never unlocks.
	runtime.LockOSThread()

	conn := os.NewFile(stageFD, "nsup-stage")
	// Inherited without close-on-exec (ExtraFiles): set it, so that the
	// main process's execve closes it and the host reads EOF.
	unix.CloseOnExec(stageFD)
	c := &stage{sys: linuxKernel{}, conn: conn}
	c.init.sys = c.sys
	return c.run(json.NewDecoder(conn))
}

// stage is the child stage of one environment.
type stage struct {
	sys  kernel
	conn io.Writer
	env  string
	init initState
	// lockFD and controlFD are a detached environment's lock and control
	// socket, handed over by the host; 0 otherwise.
	lockFD, controlFD int
}

// run applies the runs of steps the host sends, one request each, until
// the last; then init takes over (if there is a tree to run).
func (c *stage) run(dec *json.Decoder) int {
	for first := true; ; first = false {
		var req request
		if err := dec.Decode(&req); err != nil {
			// EOF before the last run: nsup died or gave up. Undo.
			c.init.killAll()
			send(c.conn, reply{Kind: replyError, Step: -1, Detail: "read the steps: " + err.Error()})
			return 1
		}
		if first {
			c.env, c.lockFD, c.controlFD = req.Env, req.LockFD, req.ControlFD
			c.init.color, c.init.colorBase = req.Color, req.ColorBase
		}
		for _, is := range req.Steps {
			if req.Pause != nil && req.Pause.Step == is.Index {
				pause(c.conn, is.Index)
			}
			var err error
			if req.Fail != nil && req.Fail.Step == is.Index {
				err = unix.Errno(req.Fail.Errno)
			} else {
				err = c.do(is.Index, is.Step)
			}
			if err != nil {
				c.init.killAll()
				send(c.conn, errorReply(is.Index, err))
				return 1
			}
		}
		if err := send(c.conn, reply{Kind: replyOK, Procs: c.init.started()}); err != nil {
			c.init.killAll()
			return 1
		}
		if req.Last {
			break
		}
	}
	if cl, ok := c.conn.(io.Closer); ok {
		cl.Close()
	}
	if len(c.init.procs) == 0 {
		return 0
	}
	if c.controlFD > 0 {
		go c.init.serve(c.controlFD)
	}
	st := c.init.run()
	if os.Getpid() != 1 {
		killLeft() // no kernel does it: init is not PID 1 (the subreaper step)
	}
	c.init.finish(st, c.lockFD)
	return st
}

// pause is the test hook that stops the stage before step i, for good:
// the host is told, and a test kills nsup meanwhile.
func pause(conn io.Writer, i int) {
	send(conn, reply{Kind: replyPaused, Step: i})
	for {
		time.Sleep(time.Hour)
	}
}

// wrongStage is an operation the host performs, found among the child's
// steps: a plan the planner would not make.
func wrongStage(op planner.Op) error {
	return fmt.Errorf("%s is a host step, the child stage cannot perform it: %w", op.Syscall(), unix.EINVAL)
}

// do performs one step of the child or init stage: one case per operation.
func (c *stage) do(index int, st planner.Step) error {
	switch op := st.Op.(type) {
	case planner.Rootfs:
		return wrongStage(op)
	case planner.Fork:
		return wrongStage(op)
	case planner.Clone:
		return wrongStage(op)
	case planner.Unshare:
		// This thread only, which is init's and forks the processes: they
		// are born in the new namespace (a time namespace, made here so
		// that the user namespace owns it: time_for_children).
		return c.sys.Unshare(int(op.Flags))
	case planner.Setns:
		return wrongStage(op)
	case planner.TimeOffsets:
		return c.sys.Write("/proc/$TID/timens_offsets", op.Text())
	case planner.UIDMap:
		return wrongStage(op)
	case planner.GIDMap:
		return wrongStage(op)
	case planner.DenySetgroups:
		return wrongStage(op)
	case planner.Execve:
		if st.Stage == planner.Child {
			// The re-execution of nsup as this stage: it is how this
			// process started (Apply's clone and execve), already done.
			return nil
		}
		p := op.Path
		if p == "" {
			var err error
			if p, err = lookPath(op.Argv, op.Env, "."); err != nil {
				return err
			}
		}
		// Tell the host before the call: if it succeeds, nothing of nsup
		// is left to say so, and the host reads EOF instead.
		if err := send(c.conn, reply{Kind: replyExec, Step: index}); err != nil {
			return err
		}
		return c.sys.Exec(p, op.Argv, op.Env)
	case planner.Mount:
		return c.sys.Mount(op)
	case planner.MountSetattr:
		return c.sys.MountSetattr(op)
	case planner.Overlay:
		return c.sys.Overlay(op.Target, op.Lower, op.UserXattr, op.NoDev)
	case planner.Symlink:
		return c.sys.Symlink(op.Root, op.Target, op.Link)
	case planner.LinkUp:
		return c.sys.LinkUp(op.Name)
	case planner.Sethostname:
		return c.sys.Sethostname(op.Name)
	case planner.Setdomainname:
		return c.sys.Setdomainname(op.Name)
	case planner.PivotRoot:
		return c.sys.PivotRoot(op.NewRoot, op.PutOld)
	case planner.Chdir:
		return c.sys.Chdir(op.Path)
	case planner.Umount2:
		return c.sys.Umount2(op.Target, int(op.Flags))
	case planner.Prctl:
		if op.Option == unix.PR_SET_NAME {
			return c.sys.SetName(op.Name)
		}
		if op.Option == unix.PR_SET_NO_NEW_PRIVS {
			// A thread's, like the capabilities: on every thread.
			return c.sys.AllThreadsPrctl(int(op.Option), op.Arg)
		}
		return c.sys.Prctl(int(op.Option), op.Arg)
	case planner.Capset:
		return c.sys.Capset(op.Keep)
	case planner.Seccomp:
		return c.sys.Seccomp(uint(op.Flags), op.Program)
	case planner.Prlimit:
		return c.sys.Prlimit(int(op.Resource), op.Soft, op.Hard)
	case planner.Setctty:
		return c.sys.Setctty()
	case planner.Keyctl, planner.InheritCaps, planner.CapbsetDrop:
		// The launcher's, before the execve that started this stage.
		return fmt.Errorf("%s is a launch step, done before the child stage's execve: %w", planner.FormatOp(op), unix.EINVAL)
	case planner.Openpty:
		return wrongStage(op)
	case planner.CloseRange:
		return c.sys.CloseRange(op.First)
	case planner.Setgroups:
		return c.sys.Setgroups(op.Groups)
	case planner.Setresgid:
		return c.sys.Setresgid(op.GID)
	case planner.Setresuid:
		return c.sys.Setresuid(op.UID)
	case planner.Start:
		return c.init.start(c.sys, op)
	case planner.Setsid:
		return c.sys.Setsid()
	case planner.Mkdir:
		return wrongStage(op)
	case planner.Flock:
		return wrongStage(op)
	case planner.Stdio:
		return wrongStage(op)
	case planner.Listen:
		return wrongStage(op)
	case planner.SaveState:
		return wrongStage(op)
	default:
		return fmt.Errorf("unhandled operation %T", op)
	}
}

// lookPath finds argv[0] in the PATH of env, inside the environment's root
// (the stage has switched to it), as the planner does in a tree it knows
// (planner.LookPath): this serves the trees it cannot know (tar).
func lookPath(argv, env []string, cwd string) (string, error) {
	if len(argv) == 0 || argv[0] == "" {
		return "", fmt.Errorf("empty argv: %w", unix.ENOENT)
	}
	p, ok := planner.LookPath(argv[0], env, cwd, func(p string) bool {
		var st unix.Stat_t
		return unix.Stat(p, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Mode&0o111 != 0
	})
	if !ok {
		return "", fmt.Errorf("%s not found in PATH=%s: %w", argv[0], planner.EnvPath(env), unix.ENOENT)
	}
	return p, nil
}
