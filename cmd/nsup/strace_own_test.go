package main

import (
	"strconv"
	"strings"
)

// ownCalls are the calls nsup's processes make that are their own, not a
// step of the plan: each identified exactly, and allowed only where it
// changes nothing an environment gets.
//
//   - The Go runtime of every process that runs nsup's binary (nsup; its
//     init, a holder and a keeper once they run it): prctl(PR_SET_VMA,
//     PR_SET_VMA_ANON_NAME, ...), the names of its own memory's
//     mappings; and the os package's start (syscall's rlimit.go): RLIMIT_NOFILE
//     read, and its soft limit raised to the hard one less one when it
//     was lower. The child stage and the minimal PID 1 inherit that limit
//     of nsup's; every program executed gets the plan's prlimit64 first.
//   - In a helper process Go's os/exec starts (a pod's holder, pasta's
//     keeper, pasta, an id map's newuidmap or newgidmap), before its execve: RLIMIT_NOFILE read, and set back
//     to the limit its starter's runtime found (syscall's exec_linux.go),
//     so that what it executes gets what nsup was started with.
//   - nsup's threads: the timer slack read (PR_GET_TIMERSLACK), and set
//     back to that value (ownSlack); the bounding set read
//     (PR_CAPBSET_READ: the planner's search of the last capability);
//     whether it is dumpable read, and set back to that value once a
//     child that shared its memory made it not dumpable and executed.
//
// The slack a process gets is its creator thread's: every process a
// thread of nsup's creates must get the slack nsup was started with, not
// the runtime's monitor's, raised by CalmSysmon (its
// /proc/TID/timerslack_ns written), nor that of a thread the monitor
// made. bad says where one did not. Rootless, that write fails (EPERM:
// setting another thread's slack takes CAP_SYS_NICE) and changes
// nothing.
type ownCalls struct {
	host   map[int]bool
	fds    *fdState
	goProc map[int]bool      // processes (by pid of their first thread) that run nsup's binary
	nofile map[int][2]uint64 // by process: RLIMIT_NOFILE as its runtime found it
	raised map[int]bool      // by process: raised by its runtime
	origin map[int]int       // a process nsup's started: its starter
	execed map[int]bool      // processes that executed a program since they were made
	slack  string            // nsup's timer slack when it started
	other  map[int]bool      // nsup's threads whose slack is not that
	dump   string            // what PR_GET_DUMPABLE said
	bad    []string
}

func newOwnCalls(host map[int]bool, fds *fdState) *ownCalls {
	o := &ownCalls{host: host, fds: fds, goProc: map[int]bool{}, nofile: map[int][2]uint64{}, raised: map[int]bool{},
		origin: map[int]int{}, execed: map[int]bool{}, other: map[int]bool{}}
	for pid := range host {
		o.goProc[pid] = true
	}
	return o
}

// helper says whether pid is a process nsup started with os/exec (a
// holder, a keeper, pasta, an id map's helper), not yet executing its
// program.
func (o *ownCalls) helper(pid int) bool {
	if o.execed[pid] {
		return false
	}
	for k, v := range o.fds.born {
		if v == pid && (strings.HasPrefix(k, "pod:") || strings.HasPrefix(k, "keeper:") || strings.HasPrefix(k, "pasta:") || strings.HasPrefix(k, "helper ")) {
			return true
		}
	}
	return false
}

// allowed says whether e is one of nsup's own calls (see ownCalls).
func (o *ownCalls) allowed(e event) bool {
	proc := e.proc
	if r, set, soft, hard, ok := prlimitCall(e); ok && r == "RLIMIT_NOFILE" {
		switch {
		case o.goProc[proc] && !set:
			if _, seen := o.nofile[proc]; !seen {
				o.nofile[proc] = [2]uint64{soft, hard}
			}
			return true
		case o.goProc[proc]:
			l, seen := o.nofile[proc]
			if seen && !o.raised[proc] && l[0] < l[1]-1 && soft == l[1]-1 && hard == l[1] {
				o.raised[proc] = true
				return true
			}
		case o.helper(e.pid) && !set:
			return true
		case o.helper(e.pid):
			l, seen := o.nofile[o.origin[e.pid]]
			return seen && o.raised[o.origin[e.pid]] && soft == l[0] && hard == l[1]
		}
		return false
	}
	if tid := o.slackOf(e); tid > 0 {
		// CalmSysmon's (follow marks the thread once written), or its
		// write refused.
		_, _, whole := written(o.fds, e)
		return whole || strings.HasPrefix(e.ret, "-1 EPERM ")
	}
	if e.name != "prctl" {
		return false
	}
	a := splitArgs(e.args)
	switch {
	case o.goProc[proc] && len(a) == 5 && a[0] == "PR_SET_VMA" && a[1] == "PR_SET_VMA_ANON_NAME":
		return true
	case !o.host[e.pid]:
		return false
	case e.args == "PR_GET_TIMERSLACK" && o.slack == "":
		o.slack = e.ret
		return true
	case o.slack != "" && e.args == "PR_SET_TIMERSLACK, "+o.slack && succeeded(e):
		delete(o.other, e.pid)
		return true
	case len(a) == 2 && a[0] == "PR_CAPBSET_READ":
		return true
	case e.args == "PR_GET_DUMPABLE":
		// "1 (SUID_DUMP_USER)"
		if _, n, ok := strings.Cut(e.ret, " ("); ok {
			o.dump = strings.TrimSuffix(n, ")")
		}
		return true
	case o.dump != "" && e.args == "PR_SET_DUMPABLE, "+o.dump && succeeded(e):
		return true
	}
	return false
}

// follow updates what ownCalls knows with e (every event, after its
// match): processes made and executed, slack given to threads.
func (o *ownCalls) follow(e event) {
	switch {
	case isFork(e.name):
		c := childPid(e.ret)
		if c <= 0 {
			return
		}
		if strings.Contains(e.args, "CLONE_THREAD") {
			if o.other[e.pid] {
				o.other[c] = true // a thread's slack is its creator's
			}
			return
		}
		o.origin[c] = e.proc
		if o.host[e.pid] && o.other[e.pid] {
			o.bad = append(o.bad, e.String()+": a process made by a thread of nsup's whose timer slack is not the one nsup started with")
		}
	case (e.name == "execve" || e.name == "execveat") && succeeded(e):
		// What a process of nsup's still does after an execve is nsup's
		// binary's (relevant drops the rest).
		o.execed[e.pid] = true
		o.goProc[e.proc] = true
		delete(o.nofile, e.proc)
		delete(o.raised, e.proc)
	case o.slackOf(e) > 0:
		if _, _, whole := written(o.fds, e); whole {
			o.other[o.slackOf(e)] = true
		}
	}
}

// slackOf is the thread whose /proc/TID/timerslack_ns e, a write by a
// thread of nsup's, writes to (opened by its path), or 0.
func (o *ownCalls) slackOf(e event) int {
	if e.name != "write" || !o.host[e.pid] {
		return 0
	}
	f := o.fds.fd(e.pid, splitArgs(e.args)[0])
	if f == nil || f.kind != fdHost {
		return 0
	}
	tid, ok := strings.CutPrefix(f.where, "/proc/")
	if !ok || !strings.HasSuffix(tid, "/timerslack_ns") {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSuffix(tid, "/timerslack_ns"))
	return n
}
