package executor

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// IsInit reports whether this process is nsup executed by a child stage
// as an environment's init: its arguments are exactly planner.InitArgv
// and fd 3 is a socket (the host's setup channel). Typing the argument
// by hand does not make an init: the socket is missing.
func IsInit() bool {
	if len(os.Args) != len(planner.InitArgv) || os.Args[1] != planner.InitArgv[1] {
		return false
	}
	var st unix.Stat_t
	return unix.Fstat(stageFD, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFSOCK
}

// RunInit runs nsup's init: it reads its steps from the host, applies
// them in order (its confinement, then the process tree), and runs as
// the environment's PID 1 until the main process has ended. It returns
// the exit status; the caller exits with it.
func RunInit() int {
	// Everything here that is per thread must be on one thread: the
	// credentials a clone carries, and Pdeathsig of the processes init
	// starts (the thread that forks them must outlive them). Init never
	// unlocks.
	runtime.LockOSThread()
	conn := os.NewFile(stageFD, "nsup-init")
	// Inherited without close-on-exec: set it, so that no process of the
	// environment inherits it.
	unix.CloseOnExec(stageFD)
	c := &stage{sys: linuxKernel{}, conn: conn}
	c.init.sys = c.sys
	return c.run(json.NewDecoder(conn))
}

// stage is nsup's init of one environment while the host sets it up.
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
	var req request
	for first := true; ; first = false {
		req = request{}
		if err := dec.Decode(&req); err != nil {
			// EOF before the last run: nsup died or gave up. Undo.
			c.init.killAll()
			send(c.conn, reply{Kind: replyError, Step: -1, Detail: "read the steps: " + err.Error()})
			return 1
		}
		if first {
			c.env, c.lockFD, c.controlFD = req.Env, req.LockFD, req.ControlFD
			c.init.env = req.Env
			c.init.color, c.init.colorBase = req.Color, req.ColorBase
			c.init.logMax = req.LogMax
			c.init.execPause = req.ExecPause.point()
		}
		if i, err := c.steps(req); err != nil {
			c.init.killAll()
			send(c.conn, errorReply(i, err))
			return 1
		}
		if err := send(c.conn, reply{Kind: replyOK, Procs: c.init.started()}); err != nil {
			c.init.killAll()
			return 1
		}
		if req.Last {
			break
		}
	}
	if req.Health && len(c.init.procs) > 0 {
		c.reportHealth()
	} else if cl, ok := c.conn.(io.Closer); ok {
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

// reportHealth sends the main process's health to the host as it
// changes, from a goroutine of its own: init never waits for the host.
// The latest state is sent (one in between may be skipped); once a write
// fails (nsup has gone: apply -d has returned), the channel is closed.
func (c *stage) reportHealth() {
	var mu sync.Mutex
	var cur reply
	ch := make(chan struct{}, 1)
	c.init.notify = func(health, why string) {
		mu.Lock()
		cur = reply{Kind: replyHealth, Health: health, Detail: why}
		mu.Unlock()
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	c.init.notify(lifecycle.HealthStarting, "")
	c.init.notified = lifecycle.HealthStarting
	go func() {
		for range ch {
			mu.Lock()
			r := cur
			mu.Unlock()
			if err := send(c.conn, r); err != nil {
				if cl, ok := c.conn.(io.Closer); ok {
					cl.Close()
				}
				return
			}
		}
	}()
}

// steps performs the steps of one request in order: init's own, and each
// Spawn with the proc steps that follow it. It returns the index of the
// step that failed.
func (c *stage) steps(req request) (int, error) {
	hook := func(i int) (fail, pause *failPoint) {
		if req.Fail != nil {
			fail = &failPoint{Step: req.Fail.Step, Errno: unix.Errno(req.Fail.Errno)}
		}
		if req.Pause != nil {
			pause = &failPoint{Step: req.Pause.Step}
		}
		return
	}
	fail, pause := hook(0)
	for k := 0; k < len(req.Steps); k++ {
		is := req.Steps[k]
		if pause != nil && pause.Step == is.Index {
			c.pause(is.Index)
		}
		if fail != nil && fail.Step == is.Index {
			return is.Index, fail.Errno
		}
		if op, ok := is.Step.Op.(planner.Spawn); ok {
			j := k + 1
			for j < len(req.Steps) && req.Steps[j].Step.Stage == planner.Proc {
				j++
			}
			procs := req.Steps[k+1 : j]
			k = j - 1
			if err := c.init.start(op, procs, fail, pause); err != nil {
				if f, ok := err.(*rawFailure); ok {
					if f.paused {
						c.pause(f.step)
					}
					return f.step, f.err
				}
				return is.Index, err
			}
			continue
		}
		if err := c.do(is.Step); err != nil {
			return is.Index, err
		}
	}
	return 0, nil
}

// pause is the test hook that stops init before step i, for good: the
// host is told, and a test kills nsup meanwhile.
func (c *stage) pause(i int) {
	send(c.conn, reply{Kind: replyPaused, Step: i})
	for {
		time.Sleep(time.Hour)
	}
}

// do performs one of init's own steps: one case per operation the init
// stage performs (planner's stage table, checked when the plan was
// loaded). Its threads share one set of credentials only if each gets
// them: capabilities and no_new_privs go on every thread, the filter
// with TSYNC.
func (c *stage) do(st planner.Step) error {
	switch op := st.Op.(type) {
	case planner.Prctl:
		switch op.Option {
		case unix.PR_SET_NAME:
			return c.sys.SetName(op.Name)
		case unix.PR_SET_NO_NEW_PRIVS:
			return c.sys.AllThreadsPrctl(int(op.Option), op.Arg)
		}
		return c.sys.Prctl(int(op.Option), op.Arg)
	case planner.Capset:
		return c.sys.Capset(op.Keep)
	case planner.CloseRange:
		return c.sys.CloseRange(op.First)
	case planner.Seccomp:
		return c.sys.Seccomp(uint(op.Flags), op.Program)
	default:
		return fmt.Errorf("%s is not a step of nsup's init: %w", planner.FormatOp(op), unix.EINVAL)
	}
}

// lookPath finds argv[0] in the PATH of env, inside the environment's root
// (init runs in it), as the planner does in a tree it knows
// (planner.LookPath): this serves the trees it cannot know (tar) and
// nsup exec's commands.
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
