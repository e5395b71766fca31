package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/executor/store"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

func init() {
	// The main goroutine keeps the main thread to itself (runtime docs:
	// "calling LockOSThread in an init function makes main run on the main
	// thread"), so that no goroutine of Apply that joins namespaces with
	// setns(2) ever runs there: a locked goroutine that exits takes its
	// thread along, except the main thread, which the runtime keeps, and
	// a main thread left in another network namespace would change what
	// nsup reads in /proc/self for the rest of its life.
	runtime.LockOSThread()
}

// Options for Apply. The zero value uses os.Stdin, os.Stdout and os.Stderr.
type Options struct {
	// Stdin, Stdout and Stderr are the environments' fds 0, 1 and 2.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Color colours the labels of prefixed output lines (the caller knows
	// whether Stdout is a terminal and NO_COLOR is unset).
	Color bool
	// Ended, if set, is told each foreground environment's exit status as
	// it ends.
	Ended func(env string, status int)

	// Index is the cache's digest index the plan was compiled with
	// (planner.Options.Index): the rootfs steps record in the cache what
	// it learnt. nil records nothing.
	Index *planner.Index

	// failAt makes one step fail, for rollback tests; pauseAt stops apply
	// before one step for good, for tests that kill nsup there, and
	// paused is told when it happens (export_test.go). They cannot be set
	// from outside the package, so nsup's command line cannot reach them.
	failAt  *failPoint
	pauseAt *failPoint
	paused  func(env string, step int)
	// exited, if set, is told how each environment's child ended (tests
	// read its resource usage).
	exited func(env string, ps *os.ProcessState)
	// started, if set, is called with each environment's child once it is
	// set up, while it runs (tests read its /proc/PID/ns).
	started func(env string, pid int)
}

// failPoint makes step Step of environment Env fail with Errno instead of
// being performed (or, as pauseAt, wait forever before it).
type failPoint struct {
	Env   string
	Step  int
	Errno unix.Errno
}

// Apply performs every environment of p, in plan order. In the
// foreground it returns once every environment has ended, with the exit
// status of the first environment (in plan order) whose main process
// exited non-zero, else 0. A detached plan (p.Detach) returns 0 once
// every environment is up, recorded and released: they outlive nsup.
// err is non-nil when setup failed, as
//
//	ORIGIN: step N: CALL: ERRNO-TEXT
//
// (a *StepError wrapping the errno); everything already set up is then
// undone: the children are killed, which takes their mount namespaces and
// every mount in them along, a partial cache entry is removed, and so is
// the state a detached environment had recorded.
//
// SIGINT and SIGTERM received meanwhile reach the environments: with one
// environment, they are forwarded to its child (its init, which forwards
// SIGINT to the main process and stops the tree on SIGTERM); with
// several, each in a process group of its own (the Setpgid step), the
// first stops them one after the other in reverse plan order (the
// reverse of their dependencies): SIGTERM to its init, and the next once
// it has ended; a second kills them all. Cancelling ctx kills the
// children.
func Apply(ctx context.Context, p *planner.Plan, opts Options) (int, error) {
	if p == nil {
		return 1, errors.New("apply: no plan")
	}
	if opts.Stdin == nil {
		opts.Stdin = os.Stdin
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	std, err := newStdio(opts.Stdin, opts.Stdout, opts.Stderr)
	if err != nil {
		return 1, err
	}
	defer std.close()
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// From now on a ^C or a kill reaches the environments, not nsup: nsup
	// must live to wait for them (and, during setup, to roll back).
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	a := &applier{plan: p, opts: opts, std: std, runs: map[string]*envRun{}, ended: make(chan *envRun, len(p.Environments)),
		pathFDs: map[stepKey]int{}, exe: -1}
	defer a.close()
	// Every namespace file named by path is opened and checked before
	// anything is created: a path that is not a namespace of the type
	// the step says refuses the whole plan.
	if err := a.openPaths(p); err != nil {
		return 1, err
	}
	if err := a.openExe(p); err != nil {
		return 1, err
	}
	var runs []*envRun
	// rollback undoes every environment started so far: every child dies
	// with ctx (the launcher's watch, stopKill) or is killed, each run waits for its
	// child before ending, and a detached one's state goes.
	rollback := func(err error) (int, error) {
		std.started()
		cancel()
		for _, r := range runs {
			if r.released {
				r.proc.Kill()
				r.wait()
			} else {
				if r.release != nil {
					close(r.release)
				}
				<-r.done
			}
			r.removeState()
		}
		return 1, err
	}
	colors := 0
	for i := range p.Environments {
		r := &envRun{a: a, env: &p.Environments[i], setup: make(chan error, 1), done: make(chan struct{}),
			reaped: make(chan struct{}), colorBase: colors}
		r.wanted = a.wanted(p, r.env.Name)
		a.runs[r.env.Name] = r
		colors += r.labels()
		if p.Detach {
			r.release = make(chan struct{}, 1)
		}
		runs = append(runs, r)
		go r.run(ctx)
		select {
		case err = <-r.setup:
		case s := <-sigs:
			cancel()
			<-r.setup
			err = fmt.Errorf("%s: setup interrupted by %v", r.env.Name, s)
		}
		if err != nil {
			return rollback(notStarted(p, i, err))
		}
		if opts.started != nil {
			opts.started(r.env.Name, r.proc.Pid)
		}
	}
	std.started()
	if p.Detach {
		// Every environment is up and recorded: release them, in order.
		// Until now each could still be taken back.
		for _, r := range runs {
			r.release <- struct{}{}
			err := <-r.setup
			r.released = err == nil
			if err != nil {
				return rollback(err)
			}
		}
		for _, r := range runs {
			r.closeFiles()
		}
		return 0, nil
	}
	stopping, killed := false, false
	next := len(runs) - 1 // the next environment to stop, in reverse order
	stopNext := func() {
		for next >= 0 && runs[next].finished {
			next--
		}
		if next >= 0 && !runs[next].stopped {
			runs[next].stopped = true
			runs[next].proc.Signal(syscall.SIGTERM)
		}
	}
	for left := len(runs); left > 0; {
		select {
		case s := <-sigs:
			switch {
			case len(runs) == 1:
				runs[0].proc.Signal(s)
			case !stopping:
				stopping = true
				stopNext()
			case !killed:
				killed = true
				for _, r := range runs {
					if !r.finished {
						r.proc.Kill()
					}
				}
			}
		case r := <-a.ended:
			r.finished = true
			left--
			if opts.Ended != nil {
				opts.Ended(r.env.Name, r.status)
			}
			if stopping {
				stopNext()
			}
		}
	}
	status := 0
	for _, r := range runs {
		if r.status != 0 {
			status = r.status
			break
		}
	}
	return status, parent.Err()
}

// applier is one Apply call.
type applier struct {
	plan *planner.Plan
	opts Options
	std  *stdio
	// runs are the environments by name, for joins by name. Written before
	// the next environment's goroutine starts, read only by later ones.
	runs  map[string]*envRun
	ended chan *envRun
	// pathFDs are the namespace files joined by path, opened and checked
	// before anything was created, by step.
	pathFDs map[stepKey]int
	// exe is nsup's own executable (O_PATH), or -1: a child stage born in
	// a joined mount namespace, where /proc/self/exe may not exist, is
	// executed through it.
	exe int
}

type stepKey struct {
	env  string
	step int
}

func (a *applier) close() {
	for _, fd := range a.pathFDs {
		unix.Close(fd)
	}
	if a.exe >= 0 {
		unix.Close(a.exe)
	}
}

// openExe opens nsup itself if a step executes it by fd.
func (a *applier) openExe(p *planner.Plan) error {
	for _, e := range p.Environments {
		for _, st := range e.Steps {
			if x, ok := st.Op.(planner.Execve); ok && x.ByFD && a.exe < 0 {
				fd, err := unix.Open("/proc/self/exe", unix.O_PATH|unix.O_CLOEXEC, 0)
				if err != nil {
					return fmt.Errorf("open /proc/self/exe: %w", err)
				}
				a.exe = fd
			}
		}
	}
	return nil
}

// openPaths opens every namespace file the plan joins by path and checks
// it is a namespace of the step's type (ioctl(2) NS_GET_NSTYPE, which
// only namespace files answer).
func (a *applier) openPaths(p *planner.Plan) error {
	for i := range p.Environments {
		env := &p.Environments[i]
		for j, st := range env.Steps {
			op, ok := st.Op.(planner.Setns)
			if !ok || op.Env != "" {
				continue
			}
			fd, err := openNS(op.Path, op.NSType)
			if err != nil {
				return stepError(env, j, err)
			}
			a.pathFDs[stepKey{env.Name, j}] = fd
		}
	}
	return nil
}

func openNS(p string, t planner.CloneFlags) (int, error) {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", p, err)
	}
	got, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE)
	if err != nil {
		unix.Close(fd)
		return -1, explained{fmt.Sprintf("%s is not a namespace file", p), unix.EINVAL}
	}
	if planner.CloneFlags(got) != t {
		unix.Close(fd)
		return -1, explained{fmt.Sprintf("%s is a %s namespace, not a %s one", p, nsNames[planner.CloneFlags(got)], nsNames[t]), unix.EINVAL}
	}
	return fd, nil
}

// explained is an errno with a sentence that says more than its text.
type explained struct {
	msg   string
	errno unix.Errno
}

func (e explained) Error() string { return e.msg }
func (e explained) Unwrap() error { return e.errno }

// wanted lists the namespace types of env that later environments join
// by name.
func (a *applier) wanted(p *planner.Plan, env string) []planner.CloneFlags {
	var out []planner.CloneFlags
	for _, e := range p.Environments {
		for _, st := range e.Steps {
			if op, ok := st.Op.(planner.Setns); ok && op.Env == env && !slices.Contains(out, op.NSType) {
				out = append(out, op.NSType)
			}
		}
	}
	return out
}

// notStarted adds to the failure of environment i the environments that
// were not started because they join its namespaces (or those of one that
// does): a dependent never starts without what it joins.
func notStarted(p *planner.Plan, i int, err error) error {
	if errors.Is(err, errTakenBack) || i >= len(p.Environments) {
		return err
	}
	failed := map[string]bool{p.Environments[i].Name: true}
	var out []string
	for _, e := range p.Environments[i+1:] {
		for _, n := range e.Needs {
			if failed[n] {
				failed[e.Name] = true
				out = append(out, fmt.Sprintf("%s (joins %s)", e.Name, n))
				break
			}
		}
	}
	if len(out) == 0 {
		return err
	}
	return fmt.Errorf("%w; not started, since %s failed: %s", err, p.Environments[i].Name, strings.Join(out, ", "))
}

// envRun is one environment being applied.
type envRun struct {
	a   *applier
	env *planner.Env
	// setup receives nil or the setup error once the environment is up
	// (detached: ready to be released), then, detached, the result of
	// its release.
	setup chan error
	// release, for a detached plan, lets the last steps go (a value) or
	// takes the environment back (closed).
	release  chan struct{}
	released bool
	letGo    atomic.Bool   // read by the child's cmd.Cancel
	done     chan struct{} // closed when run ends
	// proc is the child stage, made by the launcher (launch.go);
	// launched is the launcher's side until the child's execve.
	proc     *os.Process
	launched *launched
	// launchEnd is the child stage's execve: the child steps up to it
	// are done by the launcher.
	launchEnd int
	// stopKill ends the watch that kills the child when ctx ends.
	stopKill func() bool
	sock     *os.File // the host's end of the setup channel
	dec      *json.Decoder
	// wanted are the types of this environment's namespaces that later
	// ones join by name; nsFDs holds them open from the end of setup on,
	// while the child is certainly alive and its pid not reused (it is
	// not waited for yet), or nsErr says why they could not be opened.
	wanted []planner.CloneFlags
	nsFDs  map[planner.CloneFlags]int
	nsErr  error
	reaped chan struct{} // closed once the child is waited for
	state  *os.ProcessState
	status int
	waited bool
	// held are the cache entries this environment runs on, share-locked
	// until it ends, or, detached, until it is released (no prune removes
	// them meanwhile; then nsup cache prune keeps the trees of running
	// detached environments, State.Rootfs).
	held []*os.File
	// finished and stopped are Apply's: the environment ended, and was
	// sent SIGTERM by an ordered stop.
	finished, stopped bool
	// colorBase is the colour index of the environment's first output
	// label.
	colorBase int
	// Detached: the files of the Flock, Stdio and Listen steps, handed
	// to the child; stateDir is set once the lock is ours (so that
	// rollback may remove it); procs the tree init started.
	lock, control *os.File
	stdio         []*os.File
	// pty is the environment's terminal (Openpty), relayed to nsup's.
	pty      *ptyRelay
	stateDir string
	madeDir  string // the state directory, if this nsup made it
	procs    []lifecycle.StateProc
}

// errTakenBack ends the setup of a detached environment that Apply takes
// back before its release (a later environment failed).
var errTakenBack = errors.New("taken back")

// run applies one environment, from a goroutine locked to its OS thread
// and never unlocked, so that the thread exits with the goroutine:
//   - setns(2) and unshare(2) of the host steps change this thread only,
//     and the child must be created by it to be born in those namespaces;
//     no other goroutine may ever run on such a thread;
//   - Pdeathsig fires when the thread that created the child exits, not
//     the process (prctl(2) PR_SET_PDEATHSIG; golang/go#27505): the thread
//     lives until the child has been waited for, or, detached, until the
//     child has cleared its parent-death signal (the last step).
func (r *envRun) run(ctx context.Context) {
	runtime.LockOSThread()
	defer close(r.done)
	defer func() {
		for _, fd := range r.nsFDs {
			unix.Close(fd)
		}
	}()
	err := r.setupEnv(ctx)
	if r.pty != nil {
		// The child has its copies: the relay's output ends (EIO) when
		// the last process holding the terminal has ended.
		r.pty.slave.Close()
	}
	if r.sock != nil {
		r.sock.Close()
	}
	if r.launched != nil {
		r.launched.close()
	}
	if err != nil {
		if r.proc != nil {
			r.proc.Kill()
			r.wait()
		}
		r.unhold()
		r.finishPty()
		r.setup <- err
		if r.release == nil {
			r.a.ended <- r
		}
		return
	}
	if r.release != nil {
		r.unhold()
		r.setup <- nil
		return // released: the environment lives on, nsup does not wait for it
	}
	r.openWanted()
	r.setup <- nil
	r.status = r.wait()
	r.unhold()
	// Before Apply hears of the end: nsup's terminal is back as it was
	// when Apply returns.
	r.finishPty()
	r.a.ended <- r
}

func (r *envRun) finishPty() {
	if r.pty != nil {
		r.pty.finish()
	}
}

// openWanted opens the namespaces later environments join by name.
func (r *envRun) openWanted() {
	if len(r.wanted) == 0 || r.nsFDs != nil {
		return
	}
	r.nsFDs = map[planner.CloneFlags]int{}
	for _, t := range r.wanted {
		p := fmt.Sprintf("/proc/%d/ns/%s", r.proc.Pid, nsFile(t))
		fd, err := openNS(p, t)
		if err != nil {
			// Its main process has exited already: a zombie has no
			// namespaces left.
			r.nsErr = fmt.Errorf("%s ended before its namespaces could be joined (%v): %w", r.env.Name, err, unix.ESRCH)
			return
		}
		r.nsFDs[t] = fd
	}
}

// nsFile is the /proc/PID/ns/ entry to join a type by: for time, the
// namespace the environment's processes are in, which its child stage
// may only have for its children (a time namespace made in a user
// namespace, time_namespaces(7)).
func nsFile(t planner.CloneFlags) string {
	if t == unix.CLONE_NEWTIME {
		return "time_for_children"
	}
	return nsNames[t]
}

// unhold lets the cache entries the environment runs on go.
func (r *envRun) unhold() {
	for _, f := range r.held {
		f.Close()
	}
	r.held = nil
}

func (r *envRun) wait() int {
	if !r.waited {
		r.waited = true
		r.state, _ = r.proc.Wait()
		if r.stopKill != nil {
			r.stopKill()
		}
		close(r.reaped)
		if r.a.opts.exited != nil && r.state != nil {
			r.a.opts.exited(r.env.Name, r.state)
		}
	}
	return r.waitStatus()
}

func (r *envRun) waitStatus() int {
	ps := r.state
	if ps == nil {
		return 128 + int(unix.SIGKILL)
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
		return status(unix.WaitStatus(ws))
	}
	return ps.ExitCode()
}

// labels counts the environment's processes whose output is prefixed.
func (r *envRun) labels() int {
	n := 0
	for _, st := range r.env.Steps {
		if s, ok := st.Op.(planner.Start); ok && s.Output != "" {
			n++
		}
	}
	return n
}

// hooks returns the test hooks that apply to this environment.
func (r *envRun) hooks() (fail, pause *failPoint) {
	fail, pause = r.a.opts.failAt, r.a.opts.pauseAt
	if fail != nil && fail.Env != r.env.Name {
		fail = nil
	}
	if pause != nil && pause.Env != r.env.Name {
		pause = nil
	}
	return fail, pause
}

// holdForever is the pause hook on the host: tell the test, then wait
// to be killed.
func (r *envRun) holdForever(i int) {
	if r.a.opts.paused != nil {
		r.a.opts.paused(r.env.Name, i)
	}
	for {
		time.Sleep(time.Hour)
	}
}

// setupEnv performs the host steps and hands the others to the child
// stage, a run of consecutive child and init steps at a time, waiting
// for each run to be done or failed. A detached environment stops before
// its last run (the end of the parent-death signal) until Apply releases
// it.
func (r *envRun) setupEnv(ctx context.Context) error {
	env := r.env
	fail, pause := r.hooks()
	type run struct {
		host  bool
		steps []int
	}
	var runs []run
	for i, st := range env.Steps {
		// The steps of the forked copy are the host's to prepare (launch.go).
		host := st.Stage == planner.Host || st.Stage == planner.Forked
		if len(runs) == 0 || runs[len(runs)-1].host != host {
			runs = append(runs, run{host: host})
		}
		runs[len(runs)-1].steps = append(runs[len(runs)-1].steps, i)
	}
	last := -1 // the last child run
	for k, rn := range runs {
		if !rn.host {
			last = k
		}
	}
	first := true
	launchedUpTo := -1 // the steps up to here were the forked copy's (its setns and clone)
	r.launchEnd = -1
	for k, rn := range runs {
		if rn.host {
			for _, i := range rn.steps {
				if i <= launchedUpTo {
					continue
				}
				if pause != nil && pause.Step == i {
					r.holdForever(i)
				}
				var err error
				switch env.Steps[i].Op.(type) {
				case planner.Fork, planner.Clone:
					if fail != nil && fail.Step == i {
						err = fail.Errno
						break
					}
					fork, clone := -1, i
					if _, ok := env.Steps[i].Op.(planner.Fork); ok {
						fork, clone = i, i+1
						for clone < len(env.Steps) && env.Steps[clone].Stage == planner.Forked {
							if _, ok := env.Steps[clone].Op.(planner.Clone); ok {
								break
							}
							clone++
						}
						if clone == len(env.Steps) {
							err = fmt.Errorf("a fork without a clone: %w", unix.EINVAL)
							break
						}
					} else if env.Steps[i].Stage == planner.Forked {
						err = fmt.Errorf("a step of stage fork without a fork step before it: %w", unix.EINVAL)
						break
					}
					if r.proc != nil {
						err = fmt.Errorf("a second clone: %w", unix.EINVAL)
						break
					}
					r.launchEnd, err = r.launch(ctx, fork, clone)
					launchedUpTo = clone
				default:
					if fail != nil && fail.Step == i {
						err = fail.Errno
					} else if env.Steps[i].Stage == planner.Forked {
						err = fmt.Errorf("a step of stage fork without a fork step before it: %w", unix.EINVAL)
					} else {
						err = r.do(ctx, i, env.Steps[i])
					}
				}
				if err != nil {
					if _, ok := err.(*StepError); ok {
						return err // a later step's, found by this one (launch)
					}
					return stepError(env, i, err)
				}
			}
			continue
		}
		if r.proc == nil {
			return fmt.Errorf("%s: the plan has no clone step: %w", env.Name, unix.EINVAL)
		}
		if err := r.releaseLaunched(); err != nil {
			return err
		}
		// The launcher's steps are done (its execve is the child stage).
		for len(rn.steps) > 0 && rn.steps[0] <= r.launchEnd {
			rn.steps = rn.steps[1:]
		}
		if len(rn.steps) == 0 {
			continue
		}
		if r.release != nil && k == last && k > 0 {
			// Up and recorded: wait for Apply to release it, or take it back.
			r.openWanted()
			r.setup <- nil
			if _, ok := <-r.release; !ok {
				return errTakenBack
			}
			// From now on the end of Apply's ctx must not kill it.
			r.letGo.Store(true)
		}
		req := request{Env: env.Name, Last: k == last}
		if first {
			// A detached environment writes to its log: no colours there.
			req.Color, req.ColorBase = r.a.opts.Color && r.stdio == nil, r.colorBase
			if r.lock != nil {
				req.LockFD = lockFD
			}
			if r.control != nil {
				req.ControlFD = controlFD
			}
		}
		first = false
		for _, i := range rn.steps {
			st := env.Steps[i]
			if f, ok := st.Op.(planner.Seccomp); ok {
				// The stage loads the program; the rules it was compiled
				// from are the plan's reader's (tens of KiB of JSON).
				f.Rules = nil
				st.Op = f
			}
			req.Steps = append(req.Steps, indexedStep{Index: i, Step: st})
			if fail != nil && fail.Step == i {
				req.Fail = &wireFail{Step: i, Errno: int(fail.Errno)}
			}
			if pause != nil && pause.Step == i {
				req.Pause = &wireFail{Step: i}
			}
		}
		if err := r.childRun(req); err != nil {
			return err
		}
	}
	if r.proc == nil {
		return fmt.Errorf("%s: the plan has no clone step: %w", env.Name, unix.EINVAL)
	}
	return nil
}

// childRun sends one run of steps to the child stage and waits for its
// end.
func (r *envRun) childRun(req request) error {
	env := r.env
	if err := send(r.sock, req); err != nil {
		return r.died(err)
	}
	if r.dec == nil {
		r.dec = json.NewDecoder(r.sock)
	}
	execing := false
	for {
		var rep reply
		if err := r.dec.Decode(&rep); err != nil {
			if execing && errors.Is(err, io.EOF) {
				return nil // the main process's execve closed the socket
			}
			return r.died(err)
		}
		switch rep.Kind {
		case replyOK:
			r.procs = rep.Procs
			return nil
		case replyExec:
			execing = true
		case replyPaused:
			if r.a.opts.paused != nil {
				r.a.opts.paused(env.Name, rep.Step)
			}
		default:
			if rep.Step < 0 || rep.Step >= len(env.Steps) {
				return fmt.Errorf("%s: child stage: %w", env.Name, rep.err())
			}
			return stepError(env, rep.Step, rep.err())
		}
	}
}

// died reports a child stage that ended without saying why.
func (r *envRun) died(err error) error {
	r.proc.Kill()
	st := r.wait()
	return fmt.Errorf("%s: the child stage ended during setup (status %d): %v", r.env.Name, st, err)
}

// wrongHostStage is a child operation among the host's steps.
func wrongHostStage(op planner.Op) error {
	return fmt.Errorf("%s is a child stage step, the host cannot perform it: %w", op.Syscall(), unix.EINVAL)
}

// do performs one host step: one case per operation.
func (r *envRun) do(ctx context.Context, i int, st planner.Step) error {
	switch op := st.Op.(type) {
	case planner.Rootfs:
		f, err := store.Rootfs(ctx, op, r.a.opts.Index)
		if f != nil {
			r.held = append(r.held, f)
		}
		return err
	case planner.Fork:
		return fmt.Errorf("a fork is made by setupEnv: %w", unix.EINVAL)
	case planner.UIDMap:
		return r.idMap("uid_map", op.Helper, op.Lines)
	case planner.GIDMap:
		return r.idMap("gid_map", op.Helper, op.Lines)
	case planner.DenySetgroups:
		return r.childWrite("setgroups", "deny")
	case planner.TimeOffsets:
		return writeOnce("/proc/$TID/timens_offsets", op.Text())
	case planner.Unshare:
		if r.proc != nil {
			return fmt.Errorf("unshare after clone: the child is already born: %w", unix.EINVAL)
		}
		// This thread only: its next child is created in the namespace
		// (for time namespaces: time_for_children, time_namespaces(7)).
		return unix.Unshare(int(op.Flags))
	case planner.Setns:
		return r.setns(i, op)
	case planner.Clone:
		return fmt.Errorf("a clone is made by setupEnv: %w", unix.EINVAL)
	case planner.Mkdir:
		return r.mkdir(op)
	case planner.Flock:
		return r.flock(op)
	case planner.Stdio:
		return r.openStdio(op)
	case planner.Listen:
		return r.listen(op)
	case planner.SaveState:
		return r.saveState(op)
	case planner.Execve:
		return wrongHostStage(op)
	case planner.Mount:
		return wrongHostStage(op)
	case planner.Overlay:
		return wrongHostStage(op)
	case planner.Symlink:
		return wrongHostStage(op)
	case planner.LinkUp:
		return wrongHostStage(op)
	case planner.Sethostname:
		return wrongHostStage(op)
	case planner.Setdomainname:
		return wrongHostStage(op)
	case planner.PivotRoot:
		return wrongHostStage(op)
	case planner.Chdir:
		return wrongHostStage(op)
	case planner.Umount2:
		return wrongHostStage(op)
	case planner.Prctl:
		return wrongHostStage(op)
	case planner.Capset:
		return wrongHostStage(op)
	case planner.CloseRange:
		return wrongHostStage(op)
	case planner.Setgroups:
		return wrongHostStage(op)
	case planner.Setresgid:
		return wrongHostStage(op)
	case planner.Setresuid:
		return wrongHostStage(op)
	case planner.Start:
		return wrongHostStage(op)
	case planner.Setsid:
		return wrongHostStage(op)
	case planner.Openpty:
		return r.openpty()
	case planner.MountSetattr:
		return wrongHostStage(op)
	case planner.Prlimit:
		return wrongHostStage(op)
	case planner.Keyctl:
		return wrongHostStage(op)
	case planner.InheritCaps:
		return wrongHostStage(op)
	case planner.CapbsetDrop:
		return wrongHostStage(op)
	case planner.Seccomp:
		return wrongHostStage(op)
	case planner.Setctty:
		return wrongHostStage(op)
	default:
		return fmt.Errorf("unhandled operation %T", op)
	}
}

// nsNames are the /proc/PID/ns/ names of the namespace types.
var nsNames = map[planner.CloneFlags]string{
	unix.CLONE_NEWNS: "mnt", unix.CLONE_NEWPID: "pid", unix.CLONE_NEWNET: "net",
	unix.CLONE_NEWIPC: "ipc", unix.CLONE_NEWUTS: "uts", unix.CLONE_NEWCGROUP: "cgroup",
	unix.CLONE_NEWUSER: "user", unix.CLONE_NEWTIME: "time",
}

// setns joins a namespace on this thread, before the clone: the child is
// born in it. (A user, mount, pid or time namespace is joined by a forked
// copy instead: launch.go.)
func (r *envRun) setns(i int, op planner.Setns) error {
	if r.proc != nil {
		return fmt.Errorf("setns after clone: the child is already born: %w", unix.EINVAL)
	}
	fd, err := r.nsFD(i, op)
	if err != nil {
		return err
	}
	return unix.Setns(fd, int(op.NSType))
}

// nsFD is the namespace file step i joins: opened before anything was
// created (by path), or when the joined environment was set up (by name).
func (r *envRun) nsFD(i int, op planner.Setns) (int, error) {
	if op.Env == "" {
		if fd, ok := r.a.pathFDs[stepKey{r.env.Name, i}]; ok {
			return fd, nil
		}
		return openNS(op.Path, op.NSType) // a step run on its own (tests)
	}
	o, ok := r.a.runs[op.Env]
	switch {
	case !ok || o.proc == nil:
		return -1, fmt.Errorf("environment %s is not running: %w", op.Env, unix.ESRCH)
	case o.nsErr != nil:
		return -1, o.nsErr
	}
	select {
	case <-o.reaped:
		return -1, fmt.Errorf("%s has ended (exit status %d): its namespaces are not to be joined: %w", op.Env, o.waitStatus(), unix.ESRCH)
	default:
	}
	fd, ok := o.nsFDs[op.NSType]
	if !ok {
		return -1, fmt.Errorf("%s's %s namespace was not opened for joining: %w", op.Env, nsNames[op.NSType], unix.EINVAL)
	}
	return fd, nil
}

// The fds of the child stage beyond stdio: the setup channel, then, for
// a detached environment, its lock and its control socket.
const (
	lockFD    = stageFD + 1
	controlFD = stageFD + 2
)

// childFiles are the child stage's fds, 0 up: stdin, stdout, stderr, its
// end of the setup channel, and, detached, its lock and control socket.
// host is nsup's end of the channel; done closes what nsup holds only
// for the child, once it is started.
func (r *envRun) childFiles() (host *os.File, files []*os.File, done func(), err error) {
	if (r.lock == nil) != (r.control == nil) {
		return nil, nil, nil, fmt.Errorf("a detached environment needs both its lock and its control socket before the clone: %w", unix.EINVAL)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, nil, err
	}
	host, child := os.NewFile(uintptr(fds[0]), "nsup-setup"), os.NewFile(uintptr(fds[1]), "nsup-setup")
	closers := []*os.File{child}
	done = func() {
		for _, f := range closers {
			f.Close()
		}
	}
	files = []*os.File{r.a.std.files[0], r.a.std.files[1], r.a.std.files[2], child}
	if r.stdio != nil {
		files[0], files[1], files[2] = r.stdio[0], r.stdio[1], r.stdio[1]
	} else if r.pty != nil {
		files[0], files[1], files[2] = r.pty.slave, r.pty.slave, r.pty.slave
	} else if label := r.mainOutput(); label != "" {
		// init: false: no init to prefix the main process's lines; nsup
		// does, as init would.
		out, errw, err := r.a.std.prefixed(label, r.a.opts.Color, r.colorBase)
		if err != nil {
			host.Close()
			done()
			return nil, nil, nil, err
		}
		closers = append(closers, out, errw)
		files[1], files[2] = out, errw
	}
	if r.lock != nil {
		files = append(files, r.lock, r.control)
	}
	return host, files, done, nil
}

// mainOutput is the output label of an init: false environment's main
// process, or "".
func (r *envRun) mainOutput() string {
	for _, st := range r.env.Steps {
		if e, ok := st.Op.(planner.Execve); ok && st.Stage == planner.Init {
			return e.Output
		}
	}
	return ""
}

// writeOnce writes data to p in one write(2), as uid_map and
// timens_offsets require. "$TID" in p is this thread's id.
func writeOnce(p, data string) error {
	// /proc/thread-self/ lacks timens_offsets (it is not among a thread's
	// entries, fs/proc/base.c tid_base_stuff), but /proc/TID/ of a thread
	// has it, for that very thread: the one that unshared the time
	// namespace, whose time_for_children it sets (time_namespaces(7)).
	// /proc/self/ would be the main thread's. TID as /proc counts: in a
	// new pid namespace, with the host's /proc still mounted, gettid(2)
	// is not it; /proc/thread-self names it ("PID/task/TID").
	if strings.Contains(p, "$TID") {
		ts, err := os.Readlink("/proc/thread-self")
		if err != nil {
			return err
		}
		p = strings.ReplaceAll(p, "$TID", ts[strings.LastIndexByte(ts, '/')+1:])
	}
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	n, err := unix.Write(fd, []byte(data))
	if err == nil && n != len(data) {
		err = fmt.Errorf("short write (%d of %d bytes): %w", n, len(data), unix.EIO)
	}
	return err
}
