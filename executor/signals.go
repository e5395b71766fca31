package executor

// The signals nsup takes while it applies: its subscription, and the
// watch of a lone environment applied on Apply's own goroutine.

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// Subscribe subscribes a new channel to SIGINT and SIGTERM, for
// Options.Signals, on a goroutine of its own: subscribed is closed once
// it is done.
func Subscribe() (sigs chan os.Signal, subscribed <-chan struct{}) {
	sigs = make(chan os.Signal, 4)
	done := make(chan struct{})
	go func() {
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
		close(done)
	}()
	return sigs, done
}

// inlineable says whether env can be applied on the main thread: none of
// its host steps joins or makes a namespace for the thread (Setns,
// Unshare, TimeOffsets), which would leave the main thread in it.
func inlineable(env *planner.Env) bool {
	for _, st := range env.Steps {
		if st.Stage != planner.Host {
			continue
		}
		switch st.Op.(type) {
		case planner.Setns, planner.Unshare, planner.TimeOffsets:
			return false
		}
	}
	return true
}

// sigWatch takes the signals Apply subscribed to while a lone
// environment is applied on Apply's own goroutine (inline): during its
// setup, the first cancels it and is kept, as the setup is then
// interrupted; once it is up, each is forwarded to its child, as Apply's
// loop forwards them to a lone environment's.
type sigWatch struct {
	mu   sync.Mutex
	sigs <-chan os.Signal
	run  *envRun // set once the environment is up
	got  os.Signal
	done chan struct{}
}

func watchSignals(sigs <-chan os.Signal, cancel func()) *sigWatch {
	w := &sigWatch{sigs: sigs, done: make(chan struct{})}
	go func() {
		for {
			select {
			case s := <-sigs:
				w.mu.Lock()
				if w.run != nil {
					w.run.forward(s.(syscall.Signal))
				} else if w.got == nil {
					w.got = s
					cancel()
				}
				w.mu.Unlock()
			case <-w.done:
				return
			}
		}
	}()
	return w
}

// setUp ends the setup: it returns the signal that interrupted it, if
// one did (one still in the channel too: the watching goroutine may not
// have run yet, its thread busy); if none did, the signals from now on go
// to r.
func (w *sigWatch) setUp(r *envRun) os.Signal {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.got == nil {
		select {
		case s := <-w.sigs:
			w.got = s
		default:
			w.run = r
		}
	}
	return w.got
}

func (w *sigWatch) stop() { close(w.done) }

// forward sends r's child sig, which nsup received. An environment whose
// main process is its child itself (init: false: no init or monitor
// that would kill it after its stop_timeout) is stopped by nsup: the
// first SIGINT or SIGTERM starts its stop_timeout (stop), a second kills
// it at once: that process is PID 1 of its pid namespace, which gets no
// signal it has no handler for, and nsup otherwise forwarded every ^C to
// a process that ignored it (found by helper-99's review: an apply ran
// on for 13 minutes; helper-101's stop: one SIGTERM, as docker stop
// sends, never ended it).
func (r *envRun) forward(sig unix.Signal) {
	if (sig == unix.SIGINT || sig == unix.SIGTERM) && r.bareStopTimeout() != nil {
		if r.stops.Add(1) == 1 {
			r.stop(sig)
			return
		}
		sig = unix.SIGKILL
	}
	r.signal(sig)
}

// stop sends r's child sig (SIGINT or SIGTERM) to stop it. For the main
// process of an init: false environment, nsup applies its stop_timeout
// as the plan says (Execve.StopTimeout), as init or the monitor would:
// SIGKILL at once for 0, else sig and SIGKILL once the time is over
// (signal reaches no process once the child is reaped). Others' init or
// monitor applies theirs.
func (r *envRun) stop(sig unix.Signal) {
	ms := r.bareStopTimeout()
	switch {
	case ms == nil:
	case *ms <= 0:
		sig = unix.SIGKILL
	default:
		time.AfterFunc(time.Duration(*ms)*time.Millisecond, func() { r.signal(unix.SIGKILL) })
	}
	r.signal(sig)
}

// bareStopTimeout is the stop_timeout nsup applies to the environment's
// main process, as its Execve step says: set exactly when the child
// executes that process itself (init: false: neither nsup's init nor the
// minimal monitor is its PID 1); nil when its init or monitor applies it.
func (r *envRun) bareStopTimeout() *int64 {
	for _, st := range r.env.Steps {
		if ex, ok := st.Op.(planner.Execve); ok && st.Stage == planner.Proc && ex.StopTimeout != nil {
			return ex.StopTimeout
		}
	}
	return nil
}
