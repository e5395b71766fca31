package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// envRun is one environment being applied.
type envRun struct {
	a   *applier
	env *planner.Env
	// pasta is the keeper of the environment's user-mode network stack
	// (pasta.go), pastaPid pasta's pid.
	pasta    *exec.Cmd
	pastaPid int
	// cgroups are the groups made for the environment (cgroups.go), in
	// order: removed once it has ended.
	cgroups []string
	// away are nsup's own v1 groups this thread left for the
	// environment's (CgroupJoin) and has not gone back to yet.
	away []string
	// strayThread: this thread could not go back to one of nsup's own
	// groups; it must end with its goroutine (Apply, inline).
	strayThread bool
	// why is what nsup knows of the end beyond its status (Options.Ended).
	why string
	// inlineUp: set up on Apply's own goroutine (inline), and not yet
	// finished there.
	inlineUp bool
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
	// child is the pid of the child stage, made by the launcher
	// (launch.go), 0 before; launched is the launcher's side until the
	// child's execve. mu guards gone: set once child is reaped, after
	// which its pid may be another process's and is never signalled.
	child    int
	mu       sync.Mutex
	gone     bool
	launched *launched
	// prog and stacks are the child's program and stacks, in nsup's
	// memory, which the child shares until its execve (or, as the main
	// process's PID 1, until it ends): kept until it is reaped.
	prog   *rawProg
	stacks []byte
	// launchEnd is the last raw step: the steps up to it are done by the
	// launcher's child.
	launchEnd int
	// stopKill ends the watch that kills the child when ctx ends.
	stopKill func() bool
	sock     *os.File // the host's end of the setup channel
	dec      *json.Decoder
	// wanted are the types of this environment's namespaces that later
	// ones join by name; nsFDs holds them open from the end of setup on,
	// while the child is certainly alive and its pid not reused (it is
	// not waited for yet), or nsErr says why they could not be opened.
	// Apply closes them (closeNS): a run released early (apply -d, waited
	// healthy) ends before the later ones join it.
	wanted []planner.CloneFlags
	nsFDs  map[planner.CloneFlags]int
	nsErr  error
	reaped chan struct{} // closed once the child is waited for
	ws     unix.WaitStatus
	wsOK   bool
	status int
	waited bool
	// root is the environment's root tree on the host (its rootfs step).
	root string
	// held are the cache entries this environment runs on, share-locked
	// until it ends, or, detached, until it is released (no prune removes
	// them meanwhile; then nsup cache prune keeps the trees of running
	// detached environments, State.Rootfs).
	held []*os.File
	// trees: the host's clones of nsup's folders, for the child (hosttree.go).
	trees hostTrees
	// finished and stopped are Apply's: the environment ended, and was
	// sent SIGTERM by an ordered stop.
	finished, stopped bool
	// stops counts the SIGINTs and SIGTERMs forwarded (forward).
	stops atomic.Int32
	// colorBase is the colour index of the environment's first output
	// label.
	colorBase int
	// Detached: the files of the Flock, Stdio and Listen steps, handed
	// to the child; stateDir is set once the lock is ours (so that
	// rollback may remove it); procs the tree init started.
	lock, control *os.File
	stdio         []*os.File
	// logMax bounds the log (the Stdio step's Max), told to init.
	logMax int64
	// null is the NullDevice step's read-only null device, for the
	// child's fds 0, 1 and 2 that are the host's (childFiles), closed
	// with held.
	null *os.File
	// pty is the environment's terminal (Openpty), relayed to nsup's.
	pty      *ptyRelay
	stateDir string
	madeDir  string // the state directory, if this nsup made it
	// madeDirs are the folders of volumes and of binds with create: true
	// that this apply made: removed, if still empty, if it fails.
	madeDirs []madeDir
	volLocks []*os.File // the volumes' locks, held shared (lockVolume)
	procs    []lifecycle.StateProc
	// watched: a later environment waits for this one's health
	// (WaitHealthy); init then reports it on the setup channel once set
	// up, which readHealth reads into health (hmu guards it, healthCh is
	// closed at each change).
	watched     bool
	hmu         sync.Mutex
	health      string
	healthWhy   string
	healthEnded bool // the channel has ended: init has exited
	healthCh    chan struct{}
	sockClosed  bool
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
//
// Apply runs a lone foreground environment whose host steps change no
// namespace of the thread's on its own goroutine instead, which is locked
// to the main thread for the life of the process: setUp, then finish.
func (r *envRun) run(ctx context.Context) {
	runtime.LockOSThread()
	if r.setUp(ctx) {
		r.finish()
	}
}

// setUp performs the environment's setup and reports it on r.setup. It
// returns true when the environment is up in the foreground, for finish
// to wait for; otherwise the run is over (done is closed).
func (r *envRun) setUp(ctx context.Context) bool {
	ownSlack() // the processes this thread creates get nsup's own (sysmon.go)
	err := r.setupEnv(ctx)
	if r.pty != nil {
		// The child has its copies: the relay's output ends (EIO) when
		// the last process holding the terminal has ended.
		r.pty.slave.Close()
	}
	if r.sock != nil {
		if err == nil && r.watched && r.dec != nil {
			go r.readHealth()
		} else {
			r.closeSock()
		}
	}
	if r.launched != nil {
		r.launched.close()
	}
	if err != nil {
		// Told before the wait: a PID 1 ends only once later joiners of
		// its pid namespace are reaped, by Apply's rollback (nsup hung
		// for good, found by a review). done: all undone.
		if r.child > 0 {
			r.signal(unix.SIGKILL)
		}
		r.setup <- err
		if r.child > 0 {
			r.wait()
		}
		r.stopPasta()
		r.cgroupsDone()
		r.unhold()
		r.finishPty()
		if r.release == nil {
			r.a.ended <- r
		}
		r.end()
		return false
	}
	if r.release != nil {
		r.unhold()
		r.setup <- nil
		r.end()
		return false // released: the environment lives on, nsup does not wait for it
	}
	r.openWanted()
	r.setup <- nil
	return true
}

// finish waits for the end of an environment that is up in the
// foreground, tells Apply (ended) and ends the run.
func (r *envRun) finish() {
	r.status = r.wait()
	r.stopPasta()
	if r.status == 128+int(unix.SIGKILL) && r.oomKilled() {
		r.why = r.oomWhy()
	}
	if err := r.cgroupsDone(); err != nil && r.why == "" {
		r.why = err.Error()
	}
	r.unhold()
	r.closeVolLocks()
	// Before Apply hears of the end: nsup's terminal is back as it was
	// when Apply returns.
	r.finishPty()
	r.a.ended <- r
	r.end()
}

// end ends the run: done is closed.
func (r *envRun) end() {
	close(r.done)
}

func (r *envRun) finishPty() {
	if r.pty != nil {
		r.pty.finish()
	}
}

// unhold lets the cache entries the environment runs on go, and closes
// nsup's copy of the NullDevice step's file (the child has its own).
func (r *envRun) unhold() {
	for _, f := range r.held {
		f.Close()
	}
	r.held = nil
	if r.null != nil {
		r.null.Close()
		r.null = nil
	}
}

func (r *envRun) wait() int {
	if !r.waited {
		r.waited = true
		// Wait for the end without reaping, then reap under mu: signal,
		// which takes mu, never reaches a pid reused since.
		var info unix.Siginfo
		for unix.Waitid(unix.P_PID, r.child, &info, unix.WEXITED|unix.WNOWAIT, nil) == unix.EINTR {
		}
		r.mu.Lock()
		var ru unix.Rusage
		var err error
		for {
			if _, err = unix.Wait4(r.child, &r.ws, 0, &ru); err != unix.EINTR {
				break
			}
		}
		r.gone, r.wsOK = true, err == nil
		r.mu.Unlock()
		if r.stacks != nil {
			unix.Munmap(r.stacks)
			r.stacks, r.prog = nil, nil
		}
		if r.stopKill != nil {
			r.stopKill()
		}
		close(r.reaped)
		if r.a.opts.exited != nil && r.wsOK {
			r.a.opts.exited(r.env.Name, &ru)
		}
	}
	return r.waitStatus()
}

// signal sends sig to the child, unless it is reaped already.
func (r *envRun) signal(sig unix.Signal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.child > 0 && !r.gone {
		unix.Kill(r.child, sig)
	}
}

func (r *envRun) waitStatus() int {
	if !r.wsOK {
		return 128 + int(unix.SIGKILL)
	}
	return status(r.ws)
}

// labels counts the environment's processes whose output is prefixed.
func (r *envRun) labels() int {
	n := 0
	for _, st := range r.env.Steps {
		if s, ok := st.Op.(planner.Spawn); ok && s.Output != "" {
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
// to be killed, or, with a Resume FIFO, for its first byte.
func (r *envRun) holdForever(i int) {
	if r.a.opts.paused != nil {
		r.a.opts.paused(r.env.Name, i)
	}
	if p := r.a.opts.pauseAt; p != nil && p.Resume != "" {
		if f, err := os.Open(p.Resume); err == nil {
			f.Read(make([]byte, 1))
			f.Close()
			return
		}
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
					if r.child > 0 {
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
					switch err.(type) {
					case *StepError, *releaseError:
						// A later step's, found by this one (launch), or
						// that of an environment this one released.
						return err
					}
					return stepError(env, i, err)
				}
			}
			continue
		}
		if r.child == 0 {
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
		req := request{Env: env.Name, Last: k == last, Health: k == last && r.watched}
		if first {
			// A detached environment writes to its log: no colours there.
			req.Color, req.ColorBase = r.a.opts.Color && r.stdio == nil, r.colorBase
			if r.lock != nil {
				req.LockFD = lockFD
			}
			if r.control != nil {
				req.ControlFD = controlFD
			}
			req.LogMax = r.logMax
			req.ExecPause = r.execPause()
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
	if r.child == 0 {
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
	for {
		var rep reply
		if err := r.dec.Decode(&rep); err != nil {
			return r.died(err)
		}
		switch rep.Kind {
		case replyOK:
			r.procs = rep.Procs
			return nil
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

// readHealth reads the health init reports on the setup channel, until
// it ends (init has exited, or closeSock).
func (r *envRun) readHealth() {
	defer r.closeSock()
	for {
		var rep reply
		if err := r.dec.Decode(&rep); err != nil {
			r.setHealth("", "", true)
			return
		}
		if rep.Kind == replyHealth {
			r.setHealth(rep.Health, rep.Detail, false)
		}
	}
}

func (r *envRun) setHealth(h, why string, ended bool) {
	r.hmu.Lock()
	defer r.hmu.Unlock()
	if ended {
		r.healthEnded = true
	} else {
		r.health, r.healthWhy = h, why
	}
	if r.healthCh != nil {
		close(r.healthCh)
	}
	r.healthCh = make(chan struct{})
}

// healthNow is the health last reported, and a channel closed at the
// next change.
func (r *envRun) healthNow() (h, why string, ended bool, changed <-chan struct{}) {
	r.hmu.Lock()
	defer r.hmu.Unlock()
	if r.healthCh == nil {
		r.healthCh = make(chan struct{})
	}
	return r.health, r.healthWhy, r.healthEnded, r.healthCh
}

// closeSock closes nsup's end of the setup channel; a reader of it
// (readHealth) returns.
func (r *envRun) closeSock() {
	r.hmu.Lock()
	defer r.hmu.Unlock()
	if r.sock != nil && !r.sockClosed {
		r.sockClosed = true
		// Shut down first: a blocked read returns, and the file is
		// closed once it has.
		unix.Shutdown(int(r.sock.Fd()), unix.SHUT_RDWR)
		r.sock.Close()
	}
}

// died reports a child stage that ended without saying why.
func (r *envRun) died(err error) error {
	r.signal(unix.SIGKILL)
	st := r.wait()
	return fmt.Errorf("%s: the child stage ended during setup (status %d): %v", r.env.Name, st, err)
}
