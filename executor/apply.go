package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// KeepMainThread keeps the main goroutine on the main thread for the life
// of the process; call it from an init function (runtime docs: "calling
// LockOSThread in an init function makes main run on the main thread").
// Apply refuses to run without it: no goroutine of Apply that joins
// namespaces with setns(2) may ever run on the main thread, because a
// locked goroutine that exits takes its thread along, except the main
// thread, which the runtime keeps, and a main thread left in another
// network or mount namespace would change what the process reads in
// /proc/self for the rest of its life. It is not done here, in this
// package's init: it starts the runtime's template thread, 0.05 ms of
// every start of nsup, and a command that starts no environment (nsup
// version, plan) need not pay it.
func KeepMainThread() {
	runtime.LockOSThread()
	mainKept = true
}

var mainKept bool

// Options for Apply. The zero value uses os.Stdin, os.Stdout and os.Stderr.
type Options struct {
	// Stdin, Stdout and Stderr are the environments' fds 0, 1 and 2.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Color colours the labels of prefixed output lines (the caller knows
	// whether Stdout is a terminal and NO_COLOR is unset).
	Color bool
	// Ended, if set, is told each foreground environment's exit status as
	// it ends, and why, when nsup knows more than the status says (the
	// kernel killed it for want of memory under its limit), or "".
	Ended func(env string, status int, why string)

	// Signals, if set, is a channel the caller has subscribed to SIGINT
	// and SIGTERM (Subscribe), or is subscribing while it plans: that
	// costs a round trip to the runtime's signal thread per signal, done
	// meanwhile rather than on the way to the first clone. Apply waits
	// for Subscribed before it creates anything, and leaves the
	// subscription to the caller to end. Otherwise Apply subscribes
	// itself, and ends that before it returns.
	Signals    chan os.Signal
	Subscribed <-chan struct{}

	// Index is the cache's digest index the plan was compiled with
	// (planner.Options.Index): the rootfs steps record in the cache what
	// it learnt. nil records nothing.
	Index *planner.Index

	// failAt makes one step fail, for rollback tests; pauseAt stops apply
	// before one step for good, for tests that kill nsup there, and
	// paused is told when it happens; pauseExec, the first nsup exec's
	// command (execpause.go). They cannot be set from outside the package
	// (export_test.go), so nsup's command line cannot reach them.
	failAt, pauseAt, pauseExec *failPoint
	paused                     func(env string, step int)
	// exited, if set, is told each environment's child's resource usage
	// once it is reaped.
	exited func(env string, ru *unix.Rusage)
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
	// Resume: a FIFO whose first byte ends the pause (a test plays
	// another environment meanwhile); "" pauses until killed.
	Resume string
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
// reverse of their dependencies): SIGTERM to its init (init: false: to
// its process, killed after its stop_timeout), the next once it has
// ended; a second kills them all. Cancelling ctx kills the
// children.
func Apply(ctx context.Context, p *planner.Plan, opts Options) (int, error) {
	if p == nil {
		return 1, errors.New("apply: no plan")
	}
	if !mainKept {
		return 1, errors.New("apply: the main thread is not kept (KeepMainThread, from an init function)")
	}
	// Each step in a stage that performs it (planner's stage table), or
	// nothing is done.
	if err := p.Check(); err != nil {
		return 1, err
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
	std, err := newStdio(p, opts.Stdin, opts.Stdout, opts.Stderr)
	if err != nil {
		return 1, err
	}
	defer std.close()
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// From now on a ^C or a kill reaches the environments, not nsup: nsup
	// must live to wait for them (and, during setup, to roll back).
	sigs, subscribed := opts.Signals, opts.Subscribed
	if sigs == nil {
		sigs, subscribed = Subscribe()
		defer signal.Stop(sigs)
	}
	<-subscribed

	a := &applier{plan: p, opts: opts, std: std, runs: map[string]*envRun{}, ended: make(chan *envRun, len(p.Environments)),
		pathFDs: map[stepKey]int{}, exe: -1, pods: map[string]podFDs{}}
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
		std.Started()
		cancel()
		// In reverse plan order: a later child in an earlier one's pid
		// namespace (a join) must be reaped before that PID 1 can end
		// (found by a review: nsup apply -d hung for good).
		for k := len(runs) - 1; k >= 0; k-- {
			r := runs[k]
			if r.released {
				// Released early (waited healthy): its run left its groups
				// and pasta to its end; they go too (found by a review).
				r.signal(unix.SIGKILL)
				r.wait()
				r.stopPasta()
				r.cgroupsDone()
			} else {
				if r.release != nil {
					close(r.release)
				}
				if r.inlineUp {
					r.inlineUp = false
					r.finish() // the child dies with ctx
				}
				<-r.done
			}
			r.removeState()
		}
		for _, r := range a.notUp {
			r.removeState()
		}
		a.releaseStartedPods()
		return 1, err
	}
	// A lone environment in the foreground is applied on this goroutine,
	// locked to the main thread (KeepMainThread), when its host steps
	// change none of the thread's namespaces: no thread of its own, and
	// no hand-over between two locked threads at its setup and at its end
	// (0.2 ms of an apply of 5). The main thread outlives the child, as
	// its parent-death signal needs. Signals go through watch then.
	inline := len(p.Environments) == 1 && !p.Detach && inlineable(&p.Environments[0])
	if inline {
		// Apply's caller may be another goroutine than the main one (a
		// test's): the host steps that move the thread between groups
		// (CgroupJoin) and the clone are made by one thread, which stays
		// this goroutine's until the child is reaped. Left locked if the
		// thread could not go back to its groups: it then ends with the
		// goroutine, as an environment's own thread does.
		runtime.LockOSThread()
		defer func() {
			if len(runs) == 0 || !runs[0].strayThread {
				runtime.UnlockOSThread()
			}
		}()
	}
	colors := 0
	watched := map[string]bool{} // the environments others wait to be healthy
	for _, e := range p.Environments {
		for _, st := range e.Steps {
			if w, ok := st.Op.(planner.WaitHealthy); ok {
				watched[w.Env] = true
			}
		}
	}
	// Detached, an environment not started because one it waits for was
	// not healthy is recorded as such, with those that need it; the others
	// are started (notUp: why each was not).
	notUp := map[string]string{}
	var notUpOrder []string
	for i := range p.Environments {
		if why := a.needsNotUp(&p.Environments[i], notUp); p.Detach && why != "" {
			if err := a.recordNotStarted(ctx, &p.Environments[i], why); err != nil {
				return rollback(notStarted(p, i, err))
			}
			notUp[p.Environments[i].Name] = why
			notUpOrder = append(notUpOrder, p.Environments[i].Name)
			if err := a.releaseListed(p, i); err != nil {
				return rollback(err)
			}
			continue
		}
		r := &envRun{a: a, env: &p.Environments[i], setup: make(chan error, 1), done: make(chan struct{}),
			reaped: make(chan struct{}), colorBase: colors, watched: watched[p.Environments[i].Name]}
		r.wanted = a.wanted(p, r.env.Name)
		a.runs[r.env.Name] = r
		colors += r.labels()
		if p.Detach {
			r.release = make(chan struct{}, 1)
		}
		runs = append(runs, r)
		if inline {
			watch := watchSignals(sigs, cancel)
			defer watch.stop()
			r.inlineUp = r.setUp(ctx)
			err = <-r.setup
			if s := watch.setUp(r); s != nil {
				err = fmt.Errorf("%s: setup interrupted by %v", r.env.Name, s)
			}
		} else {
			go r.run(ctx)
			select {
			case err = <-r.setup:
			case s := <-sigs:
				cancel()
				<-r.setup
				err = fmt.Errorf("%s: setup interrupted by %v", r.env.Name, s)
			}
		}
		var nh *NotHealthyError
		if err != nil && p.Detach && errors.As(err, &nh) {
			// Not started: recorded (its lock is still held), the others
			// go on.
			<-r.done
			runs = runs[:len(runs)-1]
			delete(a.runs, r.env.Name)
			r.writeNotStarted(nh.Msg)
			notUp[r.env.Name] = nh.Msg
			notUpOrder = append(notUpOrder, r.env.Name)
			if err := a.releaseListed(p, i); err != nil {
				return rollback(err)
			}
			continue
		}
		if err != nil {
			return rollback(notStarted(p, failed(p, i, err), err))
		}
		if opts.started != nil {
			opts.started(r.env.Name, r.child)
		}
	}
	a.closeNS() // every environment is set up: none is left to join one
	std.Started()
	if p.Detach {
		// Every environment is up and recorded: release them, in order
		// (those others waited to be healthy are already). Until now each
		// could still be taken back.
		for _, r := range runs {
			if err := r.releaseNow(); err != nil {
				return rollback(err)
			}
		}
		for _, r := range runs {
			r.closeFiles()
			r.closeSock() // init's health reports: nobody waits for them any more
		}
		for _, r := range a.notUp {
			r.closeFiles()
		}
		if len(notUpOrder) > 0 {
			var whys []string
			for _, n := range notUpOrder {
				whys = append(whys, n+": "+notUp[n])
			}
			return 1, &NotStartedError{Envs: notUpOrder, Msg: "not started: " + strings.Join(whys, "; ")}
		}
		return 0, nil
	}
	if inline {
		// Waited for here; the loop below then hears of its end (and
		// the watch, not the loop, forwards any signal meanwhile).
		runs[0].inlineUp = false
		runs[0].finish()
	}
	stopping, killed := false, false
	next := len(runs) - 1 // the next environment to stop, in reverse order
	stopNext := func() {
		for next >= 0 && runs[next].finished {
			next--
		}
		if next >= 0 && !runs[next].stopped {
			runs[next].stopped = true
			runs[next].stop(unix.SIGTERM)
		}
	}
	for left := len(runs); left > 0; {
		select {
		case s := <-sigs:
			switch {
			case len(runs) == 1:
				runs[0].forward(s.(syscall.Signal))
			case !stopping:
				stopping = true
				stopNext()
			case !killed:
				killed = true
				for _, r := range runs {
					if !r.finished {
						r.signal(unix.SIGKILL)
					}
				}
			}
		case r := <-a.ended:
			r.finished = true
			left--
			if opts.Ended != nil {
				opts.Ended(r.env.Name, r.status, r.why)
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
	// pods are the namespaces of the pods' holders (Hold), by pod, for
	// their Setns steps; startedPods the records of the holders this
	// apply started (ended if it is taken back and nothing uses them).
	pods        map[string]podFDs
	startedPods []string
	holders     map[string][2]uint64 // their holders' pid and start time (stillHeld)
	// notUp are the environments recorded as not started (apply -d),
	// their locks held until Apply ends: a rollback removes them too.
	notUp []*envRun
}

type stepKey struct {
	env  string
	step int
}

// closeNS lets go of the namespaces held for joins by name, not as each
// run ends: one released early (apply -d, waited healthy) is joined after
// (found by a review: its fd's number, reused, made the join EINVAL).
func (a *applier) closeNS() {
	for _, r := range a.runs {
		r.closeNS()
	}
}

func (a *applier) close() {
	a.closeNS()
	for _, fd := range a.pathFDs {
		unix.Close(fd)
	}
	for _, fds := range a.pods {
		for _, fd := range fds {
			unix.Close(fd)
		}
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
			if !ok || op.Env != "" || op.Pod != "" {
				continue
			}
			fd, err := openNS(op.Path, op.NSType)
			if err == nil {
				err = samePlanned(fd, op)
				if err != nil {
					unix.Close(fd)
				}
			}
			if err != nil {
				return stepError(env, j, err)
			}
			a.pathFDs[stepKey{env.Name, j}] = fd
		}
	}
	return nil
}

// samePlanned checks that the namespace file open as fd is the
// namespace the plan was made for, with the same owner: the planner's
// checks of a join by path (whose user namespace owns it, whether it is
// the host's) were made on what the file was then, and a /proc/PID path
// names another process's namespace once that PID is reused. A file the
// planner could not open was judged on nothing: refused.
func samePlanned(fd int, op planner.Setns) error {
	if op.NS == 0 {
		return explained{fmt.Sprintf("%s could not be opened when the plan was made, so nothing was checked of it: plan again", op.Path), unix.ESTALE}
	}
	id, err := planner.IdentifyNS(fd)
	if err != nil {
		return fmt.Errorf("%s: %w", op.Path, err)
	}
	if id != op.NSIdentity {
		name := nsNames[op.NSType]
		return explained{fmt.Sprintf("%s is no longer the namespace planned (%s:[%d], owned by user:[%d]) but %s:[%d], owned by user:[%d]: plan again", op.Path, name, op.NS, op.Owner, name, id.NS, id.Owner), unix.ESTALE}
	}
	return nil
}

func openNS(p string, t planner.CloneFlags) (int, error) {
	fd, err := nsFD(p)
	if err != nil {
		return -1, err
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
// were not started because they join its namespaces or depend on it (or
// on one that does): a dependent never starts without what it needs.
func notStarted(p *planner.Plan, i int, err error) error {
	if errors.Is(err, errTakenBack) || i >= len(p.Environments) {
		return err
	}
	failed := map[string]bool{p.Environments[i].Name: true}
	var out []string
	for _, e := range p.Environments[i+1:] {
		if n, how := needs(&e, failed); n != "" {
			failed[e.Name] = true
			out = append(out, fmt.Sprintf("%s (%s %s)", e.Name, how, n))
		}
	}
	if len(out) == 0 {
		return err
	}
	return fmt.Errorf("%w; not started, since %s failed: %s", err, p.Environments[i].Name, strings.Join(out, ", "))
}

// needs is the first environment of set that e joins or depends on, and
// how ("joins", "depends on"); "" if none.
func needs(e *planner.Env, set map[string]bool) (string, string) {
	for _, n := range e.Needs {
		if set[n] {
			return n, "joins"
		}
	}
	for _, d := range e.DependsOn {
		if set[d.Env] {
			return d.Env, "depends on"
		}
	}
	return "", ""
}

// needsNotUp says why e cannot be started, detached, when it needs an
// environment that was not (notUp: why each was not); "" if it can.
func (a *applier) needsNotUp(e *planner.Env, notUp map[string]string) string {
	set := map[string]bool{}
	for n := range notUp {
		set[n] = true
	}
	if n, how := needs(e, set); n != "" {
		return fmt.Sprintf("it %s %s, which was not started", how, n)
	}
	return ""
}

// NotStartedError is what apply -d returns when it started every
// environment it could, but not Envs: an environment they depend on was
// not healthy (or they need one that was not started). They are
// recorded as not started (nsup ps shows why); the others run.
type NotStartedError struct {
	Envs []string
	Msg  string
}

func (e *NotStartedError) Error() string { return e.Msg }
