package executor

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// What nsup's init does beyond starting the tree and stopping it:
// restarting a process its restart policy says to restart, after a
// back-off, and running healthchecks. Everything here is called with
// initState.mu held, or takes it; timers run on goroutines of their own,
// and fork from whatever thread they run on, as nsup exec's sessions do
// (every thread of init has the environment's credentials, and none of
// them exits while init runs).

// logf writes one of init's own messages (a restart, a process turned
// unhealthy) to its stderr: the environment's, where its processes'
// output goes (its log, detached; nsup's stderr otherwise).
func (in *initState) logf(format string, args ...any) {
	msg := fmt.Sprintf("nsup: "+format+"\n", args...)
	if in.log != nil {
		in.log.Write([]byte(msg)) // bounded, as the processes' output
		return
	}
	os.Stderr.WriteString(msg)
}

// howEnded says how p's last run ended: "exited with status N", or "was
// killed by SIGNAME" (its status then 128 plus the signal's number).
func (p *proc) howEnded() string {
	if p.signal != 0 {
		return "was killed by " + unix.SignalName(p.signal)
	}
	return fmt.Sprintf("exited with status %d", p.lastExit)
}

// mainEnded logs the end of the main process that ends a detached
// environment, unless it exited with status 0 or nsup stopped it (nsup
// down): in the log, that line is all that says why the environment
// ended (a kill -9 from the host, a crash), as nsup's stderr says it in
// the foreground (its exit status, the shell's message).
func (in *initState) mainEnded() {
	p := in.main
	if in.log == nil || in.stopping || (p.lastExit == 0 && p.signal == 0) {
		return
	}
	in.logf("%s/%s %s: the environment ends", in.env, p.name, p.howEnded())
}

// restartable says whether p, which has just exited, is to be restarted:
// it has a policy that says so for its status and count, and nothing is
// stopping it (its parent's end, the whole tree's).
func (in *initState) restartable(p *proc) bool {
	r := p.op.Restart
	switch {
	case r == nil || !in.running || p.queued || in.stopping || in.mainDone:
		return false
	case p.parent != nil && !p.parent.alive:
		return false // its parent's restart, if any, brings it back
	case r.Policy == "on-failure" && p.lastExit == 0:
		return false
	case r.Max > 0 && p.restarts >= r.Max:
		return false
	}
	return true
}

// backoff is the wait before a process's next restart: RestartBackoffMin,
// doubled for each quick restart in a row, at most RestartBackoffMax; a
// process that ran RestartBackoffReset or more starts the count again.
func (p *proc) backoff() time.Duration {
	if time.Since(p.started) >= planner.RestartBackoffReset {
		p.streak = 0
	}
	d := planner.RestartBackoffMin
	for i := 0; i < p.streak && d < planner.RestartBackoffMax; i++ {
		d *= 2
	}
	p.streak++
	return min(d, planner.RestartBackoffMax)
}

// scheduleRestart restarts p once its back-off is over.
func (in *initState) scheduleRestart(p *proc) {
	d := p.backoff()
	p.pending = true
	p.token++
	in.pending++
	max := ""
	if m := p.op.Restart.Max; m > 0 {
		max = fmt.Sprintf(" of %d", m)
	}
	in.logf("%s/%s %s: restart %d%s in %v", in.env, p.name, p.howEnded(), p.restarts+1, max, d)
	token := p.token
	time.AfterFunc(d, func() { in.restartNow(p, token) })
}

// cancel gives up p's pending restart, if any.
func (in *initState) cancel(p *proc) {
	if p.pending {
		p.pending = false
		in.pending--
		in.woken()
	}
}

// cancelRestarts gives up the pending restarts of top's descendants
// (every process's when top is nil): they end with it.
func (in *initState) cancelRestarts(top *proc) {
	for _, p := range in.procs {
		if top == nil || p.under(top) {
			in.cancel(p)
		}
	}
}

// under says whether p is a descendant of top.
func (p *proc) under(top *proc) bool {
	for q := p.parent; q != nil; q = q.parent {
		if q == top {
			return true
		}
	}
	return false
}

// woken tells init's loop that it may have a child to wait for again, or
// a restart less to wait for.
func (in *initState) woken() {
	if in.wake == nil {
		return
	}
	select {
	case in.wake <- struct{}{}:
	default:
	}
}

// restartNow restarts p, once its descendants are gone, then starts its
// declared descendants again after it, in their order, as at the start.
func (in *initState) restartNow(p *proc, token int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !p.pending || p.token != token {
		return
	}
	if in.stopping || in.mainDone || (p.parent != nil && !p.parent.alive) {
		in.cancel(p)
		return
	}
	for _, q := range in.procs {
		if q.alive && q.under(p) {
			// Still being stopped: a little later.
			time.AfterFunc(20*time.Millisecond, func() { in.restartNow(p, token) })
			return
		}
	}
	in.cancel(p)
	p.restarts++
	if err := in.launch(p, nil, nil); err != nil {
		in.logf("%s/%s: restart: %v", in.env, p.name, err)
		p.lastExit, p.signal = 127, 0
		in.exited(p)
		return
	}
	for _, q := range in.procs {
		if q.under(p) && !q.alive && q.parent.alive {
			in.cancel(q)
			if err := in.launch(q, nil, nil); err != nil {
				in.logf("%s/%s: start after %s's restart: %v", in.env, q.name, p.name, err)
			}
		}
	}
	in.woken()
}

// stopAll stops the whole tree (SIGTERM to init): nothing is restarted
// any more; a main process between two runs ends the environment with
// its last status.
func (in *initState) stopAll() {
	in.stopping = true
	in.cancelRestarts(nil)
	if in.main != nil && !in.main.alive && !in.mainDone {
		in.mainStatus, in.mainDone = in.main.lastExit, true
	}
	in.stop(nil)
	if in.mainDone && len(in.stops) == 0 {
		// Nothing of the tree left to stop: what else runs (nsup exec's
		// commands, a healthcheck) must not keep init's loop waiting.
		for pid := range in.execs {
			unix.Kill(-pid, unix.SIGKILL)
		}
		for pid := range in.checks {
			unix.Kill(-pid, unix.SIGKILL)
		}
	}
	in.woken()
}

// children says whether init has a child it knows of: a process of the
// tree, an nsup exec command, a healthcheck.
func (in *initState) children() bool {
	for _, p := range in.procs {
		if p.alive {
			return true
		}
	}
	return len(in.execs) > 0 || len(in.checks) > 0
}

// health is a process's healthcheck state (docker's): starting until a
// check passes (healthy) or Retries fail in a row (unhealthy), failures
// within the start period not counted while starting.
type health struct {
	status  string
	failing int
	log     string // what the last check said
	probe   int    // the pid of the check running, 0 if none
}

// maxHealthOutput bounds the output of a check kept (its first bytes).
const maxHealthOutput = 1024

// healthStart makes p's health starting, for its new run, and plans its
// first check an interval later (once init's loop runs: during setup,
// nothing would reap the check).
func (in *initState) healthStart(p *proc) {
	h := p.health
	if h == nil || !in.running {
		return
	}
	h.status, h.failing, h.probe = lifecycle.HealthStarting, 0, 0
	in.healthChanged(p, "")
	in.nextCheck(p)
}

// healthEnd stops p's checks: it has exited (its run's timers see
// another run, or none).
func (in *initState) healthEnd(p *proc) {
	if h := p.health; h != nil && h.probe > 0 {
		if _, running := in.checks[h.probe]; running {
			unix.Kill(-h.probe, unix.SIGKILL)
		}
	}
}

func (in *initState) nextCheck(p *proc) {
	run := p.run
	time.AfterFunc(time.Duration(p.op.Healthcheck.IntervalMs)*time.Millisecond, func() { in.check(p, run) })
}

// check runs p's healthcheck once, as nsup exec --process p would run it:
// p's variables, working directory, user and limits, in a session of its
// own; its stdin empty, its stdout and stderr one pipe whose first bytes
// are kept; killed (its process group) after the timeout.
func (in *initState) check(p *proc, run int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	h, hc := p.health, p.op.Healthcheck
	if !p.alive || p.run != run || in.stopping || in.mainDone {
		return
	}
	fail := func(why string) {
		in.checked(p, run, 127, why)
	}
	steps, err := execSteps(p.steps, hc.Argv, hc.Path, false, "")
	if err != nil {
		fail(err.Error())
		return
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		fail(err.Error())
		return
	}
	inW.Close() // stdin: nothing, at once
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		fail(err.Error())
		return
	}
	fd := [3]int{int(inR.Fd()), int(outW.Fd()), int(outW.Fd())}
	prog, err := procProg(steps, fd, nil, nil)
	var pid int
	if err == nil {
		pid, err = in.sys.Spawn(prog)
	}
	inR.Close()
	outW.Close()
	if err != nil {
		outR.Close()
		fail(fmt.Sprintf("%s: %v", hc.Argv[0], err))
		return
	}
	done := make(chan int, 1)
	if in.checks == nil {
		in.checks = map[int]chan int{}
	}
	in.checks[pid] = done
	h.probe = pid
	in.woken()
	timeout := time.Duration(hc.TimeoutMs) * time.Millisecond
	timedOut := false
	timer := time.AfterFunc(timeout, func() {
		in.mu.Lock()
		defer in.mu.Unlock()
		if _, running := in.checks[pid]; running {
			timedOut = true
			unix.Kill(-pid, unix.SIGKILL)
		}
	})
	out := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(outR, maxHealthOutput))
		io.Copy(io.Discard, outR) // the rest, so that the check never blocks on it
		out <- string(b)
	}()
	go func() {
		st := <-done
		timer.Stop()
		var text string
		select {
		case text = <-out:
		case <-time.After(100 * time.Millisecond):
			// A process the check left behind holds the pipe.
			outR.SetReadDeadline(time.Now())
			text = <-out
		}
		outR.Close()
		in.mu.Lock()
		defer in.mu.Unlock()
		if h.probe == pid {
			h.probe = 0
		}
		why := fmt.Sprintf("exit status %d", st)
		if timedOut {
			why = fmt.Sprintf("timed out after %v", timeout)
			st = -1
		}
		if t := strings.TrimSpace(text); t != "" {
			why += ": " + t
		}
		in.checked(p, run, st, why)
	}()
}

// checked records the result of a check of p's run: status st (0:
// passed), and what it said.
func (in *initState) checked(p *proc, run, st int, why string) {
	h, hc := p.health, p.op.Healthcheck
	if !p.alive || p.run != run {
		return
	}
	h.log = why
	switch {
	case st == 0:
		h.status, h.failing = lifecycle.HealthHealthy, 0
	case h.status == lifecycle.HealthStarting && time.Since(p.started) < time.Duration(hc.StartPeriodMs)*time.Millisecond:
		// Within the start period: not counted.
	default:
		h.failing++
		if h.failing >= hc.Retries {
			if h.status != lifecycle.HealthUnhealthy {
				// On one line: the check's output is root inside's
				// to choose, and its lines would be taken for another
				// process's or init's (helper-102's review).
				in.logf("%s/%s is unhealthy: its healthcheck failed %d times in a row, the last: %s", in.env, p.name, h.failing, lifecycle.Printable(why))
			}
			h.status = lifecycle.HealthUnhealthy
		}
	}
	in.healthChanged(p, why)
	if !in.stopping && !in.mainDone {
		in.nextCheck(p)
	}
}

// healthChanged tells the host the main process's health, if it asked
// and it changed.
func (in *initState) healthChanged(p *proc, why string) {
	if p != in.main || in.notify == nil || p.health.status == in.notified {
		return
	}
	in.notified = p.health.status
	if p.health.status == lifecycle.HealthUnhealthy {
		why = fmt.Sprintf("its healthcheck failed %d times in a row, the last: %s", p.health.failing, why)
	}
	in.notify(p.health.status, why)
}

// status is the tree's state, for nsup ps. Called with mu held.
func (in *initState) status() lifecycle.StatusReply {
	r := lifecycle.StatusReply{Processes: []lifecycle.ProcStatus{}}
	for _, p := range in.procs {
		s := lifecycle.ProcStatus{Name: p.name, Running: p.alive, Restarts: p.restarts}
		if p.alive {
			s.Pid = p.pid
		}
		if p.parent != nil {
			s.Parent = p.parent.name
		}
		if p.ended {
			x := p.lastExit
			s.LastExit = &x
		}
		if h := p.health; h != nil {
			s.Health, s.Failing, s.HealthLog = h.status, h.failing, h.log
			if s.Health == "" {
				s.Health = lifecycle.HealthStarting
			}
		}
		r.Processes = append(r.Processes, s)
	}
	return r
}
