package executor

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// Init is the child stage staying on as PID 1 of the environment (init:
// true). PID 1 of a pid namespace has duties no ordinary program takes on
// (pid_namespaces(7)): orphans are reparented to it and must be reaped,
// the kernel delivers it only the signals it handles, and when it exits
// the kernel kills every process of the namespace. So init starts the
// tree, reaps every child, forwards signals to the main process, and when
// the main process exits stops the rest and exits with its status.

// forwarded are the signals init passes on to the main process: the ones
// a terminal, a supervisor or a user sends to stop, reload or resize.
var forwarded = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH}

// caught are the signals init subscribes to: the forwarded ones, and those
// whose default handling in the Go runtime would end init, and with it the
// environment, if a process inside sent one to PID 1 (runtime/sigtab:
// _SigKill and _SigThrow). The kernel delivers to PID 1 only signals it
// has a handler for, and the Go runtime has one for each; the others
// (SIGUSR1, SIGPIPE, SIGSEGV sent by kill, ...) it already drops. Caught,
// not ignored: an ignored disposition would be inherited by the processes
// init starts.
var caught = append([]os.Signal{syscall.SIGILL, syscall.SIGTRAP, syscall.SIGABRT,
	syscall.SIGSTKFLT, syscall.SIGSYS}, forwarded...)

func isForwarded(s os.Signal) bool {
	for _, f := range forwarded {
		if s == f {
			return true
		}
	}
	return false
}

// proc is one started process of the tree.
type proc struct {
	name   string
	parent *proc
	pid    int
	depth  int
	main   bool
	grace  time.Duration // between SIGTERM and SIGKILL
	alive  bool
	queued bool // a stop of it is under way
}

type initState struct {
	procs []*proc
	main  *proc
}

func (in *initState) find(name string) *proc {
	for _, p := range in.procs {
		if p.name == name {
			return p
		}
	}
	return nil
}

// start is the Start step: the process is forked and executed now, so a
// child process always starts after its parent (the plan lists it later).
func (in *initState) start(k kernel, op planner.Start) error {
	var parent *proc
	depth := 0
	if op.Parent != "" {
		if parent = in.find(op.Parent); parent == nil {
			return fmt.Errorf("parent process %q is not started: %w", op.Parent, unix.ESRCH)
		}
		depth = parent.depth + 1
	}
	p := op.Path
	if p == "" {
		var err error
		if p, err = lookPath(op.Argv, op.Env); err != nil {
			return err
		}
	}
	pid, err := k.ForkExec(p, op.Argv, op.Env, op.Cwd, op.UID, op.GID, op.NoSetgroups)
	if err != nil {
		return err
	}
	pr := &proc{name: op.Process, parent: parent, pid: pid, depth: depth, main: op.Main,
		grace: time.Duration(op.StopTimeout) * time.Millisecond, alive: true}
	in.procs = append(in.procs, pr)
	if op.Main || (in.main == nil && parent == nil) {
		in.main = pr
	}
	return nil
}

// killAll stops what a failed setup had started.
func (in *initState) killAll() {
	for _, p := range in.procs {
		if p.alive && p.pid > 0 {
			unix.Kill(p.pid, unix.SIGKILL)
			var ws unix.WaitStatus
			unix.Wait4(p.pid, &ws, 0, nil)
			p.alive = false
		}
	}
}

// stopLevel is processes of one depth being stopped together: SIGTERM,
// then SIGKILL once the grace period is over.
type stopLevel struct {
	procs    []*proc
	grace    time.Duration
	deadline time.Time
	killed   bool
}

func (l *stopLevel) alive() bool {
	for _, p := range l.procs {
		if p.alive {
			return true
		}
	}
	return false
}

func (l *stopLevel) signal(sig unix.Signal) {
	for _, p := range l.procs {
		if p.alive {
			unix.Kill(p.pid, sig)
		}
	}
}

// levels lists the living descendants of top (all processes when top is
// nil) that are not being stopped yet, deepest first: a child is stopped
// before its parent, which may want to see it go.
func (in *initState) levels(top *proc) []*stopLevel {
	under := func(p *proc) bool {
		for q := p.parent; q != nil; q = q.parent {
			if q == top {
				return true
			}
		}
		return top == nil
	}
	maxDepth := -1
	for _, p := range in.procs {
		if p.alive && !p.queued && under(p) {
			maxDepth = max(maxDepth, p.depth)
		}
	}
	var out []*stopLevel
	for d := maxDepth; d >= 0; d-- {
		l := &stopLevel{}
		for _, p := range in.procs {
			if p.depth == d && p.alive && !p.queued && under(p) {
				p.queued = true
				l.procs = append(l.procs, p)
				l.grace = max(l.grace, p.grace)
			}
		}
		if len(l.procs) > 0 {
			out = append(out, l)
		}
	}
	return out
}

func (in *initState) byPid(pid int) *proc {
	for _, p := range in.procs {
		if p.pid == pid {
			return p
		}
	}
	return nil
}

// status is a wait status as a shell reports it: the exit code, or 128
// plus the signal that killed the process.
func status(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// run is init's loop, until the main process has exited and the rest of
// the tree is stopped. It returns the main process's status.
//
// The loop blocks in wait4(2) on init's own thread, so a child's exit is
// seen at once, with no signal delivery through the Go runtime in between
// (which costs milliseconds with one P and a locked thread). Signals are
// forwarded by a goroutine of their own, and grace periods end by timers;
// both take mu, as the loop does.
func (in *initState) run() int {
	var mu sync.Mutex
	main := in.main
	go func() {
		// Subscribing costs a round trip to the runtime's signal thread per
		// signal (about 0.1 ms each here), so it happens off the path from
		// the main process's exit to init's.
		sigs := make(chan os.Signal, 8)
		signal.Notify(sigs, caught...)
		for s := range sigs {
			mu.Lock()
			if isForwarded(s) && main != nil && main.alive {
				unix.Kill(main.pid, s.(syscall.Signal))
			}
			mu.Unlock()
		}
	}()
	mainStatus, mainDone := 0, false
	var queue []*stopLevel
	// advance starts the stop of the first level still alive (SIGTERM,
	// then SIGKILL when its grace period ends) and drops finished ones.
	var advance func()
	advance = func() {
		for len(queue) > 0 {
			l := queue[0]
			if !l.alive() {
				queue = queue[1:]
				continue
			}
			if l.deadline.IsZero() {
				l.signal(unix.SIGTERM)
				l.deadline = time.Now().Add(l.grace)
				time.AfterFunc(l.grace, func() {
					mu.Lock()
					defer mu.Unlock()
					if !l.killed && l.alive() {
						l.signal(unix.SIGKILL)
						l.killed = true
					}
				})
			}
			return
		}
	}
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			// ECHILD: nothing is left to wait for.
			return mainStatus
		}
		mu.Lock()
		if p := in.byPid(pid); p != nil { // else an orphan: reaped, nothing else to do
			p.alive = false
			if p == main {
				mainStatus, mainDone = status(ws), true
				queue = append(queue, in.levels(nil)...)
			} else {
				queue = append(queue, in.levels(p)...)
			}
			advance()
		}
		done := mainDone && len(queue) == 0
		mu.Unlock()
		if done {
			// Whatever else runs (orphans of the tree) is killed by the
			// kernel when PID 1 exits.
			return mainStatus
		}
	}
}
