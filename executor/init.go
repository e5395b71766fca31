package executor

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// Init is the child stage staying on as PID 1 of the environment (init:
// true). PID 1 of a pid namespace has duties no ordinary program takes on
// (pid_namespaces(7)): orphans are reparented to it and must be reaped,
// the kernel delivers it only the signals it handles, and when it exits
// the kernel kills every process of the namespace. So init:
//
//   - starts the tree: each process after its parent (the plan lists it
//     later), in declaration order;
//   - reaps every child at once, orphans included: it blocks in wait4(2);
//   - forwards SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH to
//     the main process;
//   - when a process exits, stops its declared descendants, deepest
//     first: each process of a level gets SIGTERM, then SIGKILL once its
//     stop_timeout is over, and the next level up is stopped once the
//     one below is gone;
//   - stops the whole tree the same way, the main process last, when the
//     main process exits or init receives SIGTERM (nsup down, or a ^C of a
//     foreground nsup with several environments), and exits with the main
//     process's status;
//   - when a detached environment's init, serves nsup exec on its control
//     socket (control.go) and writes its exit status into its lock file.

// forwarded are the signals init passes on to the main process: the ones
// a terminal, a supervisor or a user sends to interrupt, reload or resize.
// SIGTERM is not among them: it stops the whole environment.
var forwarded = []os.Signal{syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH}

// caught are the signals init subscribes to: SIGTERM, the forwarded ones,
// and those whose default handling in the Go runtime would end init, and
// with it the environment, if a process inside sent one to PID 1
// (runtime/sigtab: _SigKill and _SigThrow). The kernel delivers to PID 1
// only signals it has a handler for, and the Go runtime has one for each;
// the others (SIGPIPE, SIGSEGV sent by kill, ...) it already drops.
// Caught, not ignored: an ignored disposition would be inherited by the
// processes init starts.
var caught = append([]os.Signal{syscall.SIGTERM, syscall.SIGILL, syscall.SIGTRAP, syscall.SIGABRT,
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
	// op and steps are its Spawn and proc steps: a restart runs them
	// again.
	op    planner.Spawn
	steps []indexedStep
	// run counts its starts, so that a timer of an earlier run (a grace
	// period, a healthcheck) never acts on a later one; started is when
	// the current run began.
	run     int
	started time.Time
	// lastExit is the status of its last end (ended: it has ended once);
	// signal the signal that ended it, 0 if it exited.
	lastExit int
	ended    bool
	signal   unix.Signal
	// restarts counts its restarts; streak the quick ones in a row, for
	// the back-off; pending is set while a restart waits for its
	// back-off, token tells that wait's timer from an older one.
	restarts, streak int
	pending          bool
	token            int
	health           *health // nil without a healthcheck
}

type initState struct {
	// sys starts nsup exec's commands (Spawn), as the stage's switch
	// starts the tree's processes.
	sys kernel
	// mu guards everything below once init runs: its loop, the signal
	// goroutine, grace-period timers and exec sessions all take it.
	mu    sync.Mutex
	procs []*proc
	main  *proc
	// spawns are each process's Spawn and proc steps, by name: nsup exec
	// starts its command as the named process starts.
	spawns map[string][]indexedStep
	// stops are the stops under way, each a sequence of levels, deepest
	// first (see advance).
	stops      [][]*stopLevel
	mainStatus int
	mainDone   bool
	// out copies the output of processes whose lines are prefixed; nil
	// when no process's is.
	out       *outputs
	color     bool
	colorBase int
	// logMax bounds a detached environment's log (Stdio.Max), which
	// every process's output then reaches through init, and log writes
	// it once the first process is started (cappedLog); 0 and nil
	// otherwise.
	logMax int64
	log    *cappedLog
	// execs are the processes nsup exec started, by pid.
	execs map[int]*execSession
	// env is the environment's name, for init's own messages.
	env string
	// execPause is the test hook's pause of the next nsup exec's command
	// (execpause.go), nil otherwise.
	execPause *failPoint
	// running is set once init's loop runs: healthchecks and restarts
	// start then (before, during setup, nothing would reap them).
	running bool
	// stopping: the whole tree is being stopped (SIGTERM), nothing is
	// restarted any more.
	stopping bool
	// pending counts the restarts waiting for their back-off; wake (one
	// slot) tells the loop, waiting with no child to wait for, that a
	// process was started or a restart given up.
	pending int
	wake    chan struct{}
	// checks are the healthchecks running, by pid: told their status
	// when reaped.
	checks map[int]chan int
	// notify, when set, is told the main process's health as it changes
	// (the host waits for it: depends_on healthy); notified is the last
	// told.
	notify   func(health, why string)
	notified string
}

func (in *initState) find(name string) *proc {
	for _, p := range in.procs {
		if p.name == name {
			return p
		}
	}
	return nil
}

// start is a Spawn step: the process is forked and its proc steps run
// now, so a child process always starts after its parent (the plan lists
// it later). fail and pause are the test hooks of its steps.
func (in *initState) start(op planner.Spawn, procs []indexedStep, fail, pause *failPoint) error {
	var parent *proc
	depth := 0
	if op.Parent != "" {
		if parent = in.find(op.Parent); parent == nil {
			return fmt.Errorf("parent process %q is not started: %w", op.Parent, unix.ESRCH)
		}
		depth = parent.depth + 1
	}
	pr := &proc{name: op.Process, parent: parent, depth: depth, main: op.Main,
		grace: time.Duration(op.StopTimeout) * time.Millisecond, op: op, steps: procs}
	if op.Healthcheck != nil {
		pr.health = &health{}
	}
	if err := in.launch(pr, fail, pause); err != nil {
		return err
	}
	in.procs = append(in.procs, pr)
	if in.spawns == nil {
		in.spawns = map[string][]indexedStep{}
	}
	in.spawns[op.Process] = procs
	if op.Main || (in.main == nil && parent == nil) {
		in.main = pr
	}
	return nil
}

// launch forks pr and runs its proc steps: its first start, or a
// restart.
func (in *initState) launch(pr *proc, fail, pause *failPoint) error {
	stdio := [3]int{0, 1, 2}
	var ends []*os.File
	defer func() {
		for _, f := range ends {
			f.Close() // the process has its own copies: EOF comes when it and its children are done
		}
	}()
	if pr.op.NoTerminal {
		// An empty pipe, not the terminal of init's fd 0 (the main
		// process's): its write end closed, a read says EOF at once.
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		w.Close()
		ends = append(ends, r)
		stdio[0] = int(r.Fd())
	}
	if pr.op.Output != "" || in.logMax > 0 {
		// Lines of several processes would mix in one place: each process
		// writes to pipes of its own, and init prefixes every line. A
		// bounded log (Stdio.Max, on init's fds 1 and 2) is written by
		// init alone, prefixed or not.
		if in.out == nil {
			var out, errw io.Writer = os.Stdout, os.Stderr
			if in.logMax > 0 {
				l, err := newCappedLog(os.Stdout, in.logMax)
				if err != nil {
					return fmt.Errorf("the log: %w", err)
				}
				out, errw, in.log = l, l, l
			}
			in.out = newOutputs(in.color, in.colorBase, out, errw)
		}
		w1, w2, err := in.out.add(pr.op.Output, in.env+"/"+pr.name)
		if err != nil {
			return err
		}
		ends = []*os.File{w1, w2}
		stdio[1], stdio[2] = int(w1.Fd()), int(w2.Fd())
	}
	prog, err := procProg(pr.steps, stdio, fail, pause)
	if err != nil {
		return err
	}
	pid, err := in.sys.Spawn(prog)
	if err != nil {
		return err
	}
	pr.pid, pr.alive, pr.queued = pid, true, false
	pr.run++
	pr.started = time.Now()
	in.healthStart(pr)
	return nil
}

// procProg prepares a process's proc steps, with init's fds stdio as its
// 0, 1 and 2. A command without a path (a tar root) is looked up in its
// PATH, inside the root init runs in, from its working directory.
func procProg(procs []indexedStep, stdio [3]int, fail, pause *failPoint) (*rawProg, error) {
	cwd := "/"
	for _, is := range procs {
		if c, ok := is.Step.Op.(planner.Chdir); ok {
			cwd = c.Path
		}
	}
	b := &rawBuilder{prog: newRawProg(), exe: -1, fail: fail, pause: pause, lookPath: func(argv, env []string) (string, error) {
		return lookPath(argv, env, cwd)
	}}
	for _, is := range procs {
		if is.Step.Stage != planner.Proc {
			return nil, fmt.Errorf("step %d of stage %s among a process's steps: %w", is.Index, is.Step.Stage, unix.EINVAL)
		}
		if err := b.add(is.Index, is.Step); err != nil {
			return nil, &rawFailure{step: is.Index, err: err}
		}
	}
	for i, fd := range stdio {
		b.prog.fds[i] = uintptr(fd)
	}
	b.prog.nfds = len(stdio)
	return b.prog, nil
}

// started lists the processes started so far, for the host's state file.
func (in *initState) started() []lifecycle.StateProc {
	var out []lifecycle.StateProc
	for _, p := range in.procs {
		sp := lifecycle.StateProc{Name: p.name, Pid: p.pid}
		if p.parent != nil {
			sp.Parent = p.parent.name
		}
		out = append(out, sp)
	}
	return out
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

// stopLevel is processes of one depth being stopped together (see
// advance).
type stopLevel struct {
	procs    []*proc
	signaled bool
}

func (l *stopLevel) alive() bool {
	for _, p := range l.procs {
		if p.alive {
			return true
		}
	}
	return false
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
			}
		}
		if len(l.procs) > 0 {
			out = append(out, l)
		}
	}
	// The whole tree (SIGTERM to init) stops the main process last, on
	// its own: the others of its level before it.
	if n := len(out); top == nil && n > 0 && len(out[n-1].procs) > 1 {
		last := out[n-1]
		if i := slices.Index(last.procs, in.main); i >= 0 {
			rest := &stopLevel{procs: slices.Delete(slices.Clone(last.procs), i, i+1)}
			out = append(out[:n-1], rest, &stopLevel{procs: []*proc{in.main}})
		}
	}
	return out
}

// stop starts stopping the descendants of top (everything when top is
// nil). Called with mu held.
func (in *initState) stop(top *proc) {
	if ls := in.levels(top); len(ls) > 0 {
		in.stops = append(in.stops, ls)
	}
	in.advance()
}

// advance moves every stop under way on: finished levels are dropped,
// and the first level still alive of each stop is signalled: SIGTERM to
// each of its processes, and SIGKILL to each one still there once its own
// stop_timeout is over (at once for a stop_timeout of 0). The next level
// up is signalled once the whole level is gone. Called with mu held.
func (in *initState) advance() {
	stops := in.stops[:0]
	for _, seq := range in.stops {
		for len(seq) > 0 && !seq[0].alive() {
			seq = seq[1:]
		}
		if len(seq) == 0 {
			continue
		}
		stops = append(stops, seq)
		l := seq[0]
		if l.signaled {
			continue
		}
		l.signaled = true
		for _, p := range l.procs {
			if !p.alive {
				continue
			}
			if p.grace <= 0 {
				unix.Kill(p.pid, unix.SIGKILL)
				continue
			}
			unix.Kill(p.pid, unix.SIGTERM)
			run := p.run
			time.AfterFunc(p.grace, func() {
				in.mu.Lock()
				defer in.mu.Unlock()
				if p.alive && p.run == run {
					// Still the same process: init reaps under mu, and
					// marks it dead before its pid can be reused (and a
					// restart is another run).
					unix.Kill(p.pid, unix.SIGKILL)
				}
			})
		}
	}
	in.stops = stops
}

func (in *initState) byPid(pid int) *proc {
	for _, p := range in.procs {
		if p.pid == pid && p.alive {
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

// reaped handles the end of process pid. Called with mu held.
func (in *initState) reaped(pid int, ws unix.WaitStatus) {
	if s, ok := in.execs[pid]; ok {
		delete(in.execs, pid)
		s.end(status(ws))
		return
	}
	if c, ok := in.checks[pid]; ok {
		delete(in.checks, pid)
		c <- status(ws)
		return
	}
	p := in.byPid(pid)
	if p == nil {
		return // an orphan: reaped, nothing else to do
	}
	p.alive = false
	p.lastExit, p.ended, p.signal = status(ws), true, 0
	if ws.Signaled() {
		p.signal = ws.Signal()
	}
	in.exited(p)
}

// exited handles the end of a declared process: a restart if its policy
// says so (its descendants stopped meanwhile), else the stop of its
// descendants, or of the whole tree for the main process. Called with mu
// held.
func (in *initState) exited(p *proc) {
	in.healthEnd(p)
	if in.restartable(p) {
		in.stop(p)
		in.scheduleRestart(p)
		in.advance()
		return
	}
	if p == in.main {
		in.mainEnded()
		in.mainStatus, in.mainDone = p.lastExit, true
		in.cancelRestarts(nil)
		in.stop(nil)
	} else {
		in.cancelRestarts(p)
		in.stop(p)
	}
	in.advance()
}

// signals handles the signals init receives.
func (in *initState) signals() {
	// Subscribing costs a round trip to the runtime's signal thread per
	// signal (about 0.1 ms each here), so it happens off the path from
	// the main process's exit to init's.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, caught...)
	for s := range sigs {
		in.mu.Lock()
		switch {
		case s == syscall.SIGTERM:
			in.stopAll()
		case isForwarded(s) && in.main != nil && in.main.alive:
			unix.Kill(in.main.pid, s.(syscall.Signal))
		}
		in.mu.Unlock()
	}
}

// run is init's loop, until the main process has exited and the rest of
// the tree is stopped. It returns the main process's status.
//
// The loop blocks in wait4(2) on init's own thread, so a child's exit is
// seen at once, with no signal delivery through the Go runtime in between
// (which costs milliseconds with one P and a locked thread): an orphan's
// zombie is reaped as soon as it exists. Signals, grace-period timers and
// exec sessions run on goroutines of their own; all take mu, as the loop
// does.
func (in *initState) run() int {
	in.mu.Lock()
	in.running = true
	if in.wake == nil {
		in.wake = make(chan struct{}, 1)
	}
	for _, p := range in.procs {
		if p.alive {
			in.healthStart(p)
		}
	}
	in.mu.Unlock()
	go in.signals()
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		in.mu.Lock()
		if err != nil {
			// ECHILD: nothing to wait for now. A restart waiting for its
			// back-off, or a child started since wait4 returned, means
			// the tree goes on.
			if in.pending > 0 && !in.mainDone {
				wake := in.wake
				in.mu.Unlock()
				<-wake
				continue
			}
			if in.children() {
				in.mu.Unlock()
				continue
			}
			st := in.mainStatus
			in.mu.Unlock()
			return st
		}
		in.reaped(pid, ws)
		done := in.mainDone && len(in.stops) == 0
		st := in.mainStatus
		in.mu.Unlock()
		if done {
			// Whatever else runs (orphans of the tree, nsup exec's
			// processes) is killed by the kernel when PID 1 exits.
			return st
		}
	}
}

// finish ends init: the last output of prefixed processes is copied
// (boundedly: an orphan still holding a pipe dies only with init), and a
// detached environment's exit status is written into its lock file, read
// by nsup ps and nsup down once the lock is released by init's exit.
func (in *initState) finish(st int, lockFD int) {
	if in.out != nil {
		in.out.drain(outputDrain)
	}
	if lockFD > 0 {
		b := []byte(strconv.Itoa(st) + "\n")
		unix.Ftruncate(lockFD, 0)
		unix.Pwrite(lockFD, b, 0)
	}
}

// outputDrain bounds the wait for the last lines of prefixed processes
// once the tree is stopped.
const outputDrain = 200 * time.Millisecond
