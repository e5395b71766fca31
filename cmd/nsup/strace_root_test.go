package main

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// The plan is the truth: apply, traced with strace -f, makes exactly the
// plan's clone/unshare/setns/mount/umount2/pivot_root/sethostname/
// setdomainname/execve calls, in the plan's order, with its arguments.

// fork and vfork are traced too: nsup must make none beyond its plan, and
// the environment's own forks must be recognised as the environment's.
// The calls that make and copy fds are traced too (fdCalls), to follow
// the fds the mount calls take (strace_fds_test.go).
// The working folder (chdir, fchdir), links (symlinkat), sessions and
// ids (setsid, setgroups, setresgid, setresuid) are traced too
// (strace_steps_test.go), and the confinement (prctl, capset,
// prlimit64: strace_caps_test.go), with what nsup's own processes make of
// these that is theirs (strace_own_test.go); and the writes to cgroup
// files, id maps, setgroups and time offsets (controlFile): every other
// write, to a pipe, a log, a terminal, is nsup's. The folders made
// (mkdirat) and the sockets bound (bind) are traced only to place the
// host's steps that make them in the order across environments
// (placedBy).
const tracedCalls = "clone,clone3,fork,vfork,unshare,setns,mount,mount_setattr,move_mount,umount2,pivot_root,sethostname,setdomainname,execve,execveat,keyctl,seccomp,landlock_restrict_self,chdir,fchdir,symlinkat,setsid,setgroups,setresgid,setresuid,prctl,capset,prlimit64,write,mkdirat,bind,flock," + fdCalls

// event is one traced syscall of interest.
type event struct {
	pid  int
	proc int // the process of thread pid: its first thread's pid
	name string
	args string // the raw argument text
	ret  string
}

func (e event) String() string { return fmt.Sprintf("[%d] %s(%s) = %s", e.pid, e.name, e.args, e.ret) }

var (
	lineRe     = regexp.MustCompile(`^(\d+)\s+(.*)$`)
	callRe     = regexp.MustCompile(`^([a-z0-9_]+)\((.*)\)\s+= (.*)$`)
	unfinished = regexp.MustCompile(`^(.*) <unfinished \.\.\.>$`)
	resumed    = regexp.MustCompile(`^<\.\.\. ([a-z0-9_]+) resumed>(.*)$`)
)

// parseTrace reads strace -f output, joining calls split by
// "<unfinished ...>" and "<... resumed>".
func parseTrace(t *testing.T, text string) []event {
	type start struct {
		text string
		at   int // its place in out
	}
	pending := map[int]start{}
	var out []*event
	for _, line := range strings.Split(text, "\n") {
		m := lineRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		rest := m[2]
		at := -1
		if u := unfinished.FindStringSubmatch(rest); u != nil {
			// Its place is where it started: a fork's child can print
			// its first calls before the parent's fork returns.
			pending[pid] = start{u[1], len(out)}
			out = append(out, nil)
			continue
		}
		if r := resumed.FindStringSubmatch(rest); r != nil {
			p := pending[pid]
			rest, at = p.text+r[2], p.at
			delete(pending, pid)
		}
		c := callRe.FindStringSubmatch(rest)
		if c == nil {
			continue // signals, exits
		}
		e := &event{pid: pid, name: c[1], args: c[2], ret: c[3]}
		if at >= 0 {
			out[at] = e
		} else {
			out = append(out, e)
		}
	}
	var evs []event
	for _, e := range out {
		if e != nil {
			evs = append(evs, *e)
		}
	}
	// Each thread's process: a thread made by a thread of a process is
	// that process's (over the whole trace: a thread's first call can be
	// printed before its clone's return).
	creator := map[int]int{}
	for _, e := range evs {
		if isFork(e.name) && strings.Contains(e.args, "CLONE_THREAD") {
			creator[childPid(e.ret)] = e.pid
		}
	}
	for i := range evs {
		p := evs[i].pid
		for n := 0; n < 64; n++ {
			c, ok := creator[p]
			if !ok {
				break
			}
			p = c
		}
		evs[i].proc = p
	}
	return evs
}

// nsFlagNames are the CLONE_NEW* names strace prints.
var nsFlagRe = regexp.MustCompile(`CLONE_NEW[A-Z]+`)

func nsFlags(s string) string {
	f := nsFlagRe.FindAllString(s, -1)
	if f == nil {
		return "0"
	}
	return strings.Join(f, "|")
}

var nsPidRe = regexp.MustCompile(`/\* (\d+) in strace's PID NS \*/`)

// childPid is the host pid a clone/fork returned (strace
// --pidns-translation prints it beside the namespace's pid).
func childPid(ret string) int {
	if m := nsPidRe.FindStringSubmatch(ret); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	n, _ := strconv.Atoi(strings.Fields(ret + " x")[0])
	return n
}

func isFork(name string) bool {
	return name == "clone" || name == "clone3" || name == "fork" || name == "vfork"
}

// relevant drops what is not nsup's doing: the launcher's probe of clone3; the Go runtime's one-time probe of CLONE_PIDFD
// (syscall.checkClonePidfd: a vfork with no exit signal whose child exits
// at once, making no call); and everything the environment's own
// processes do after their execve (a shell forking its commands). An id
// map's helper (one of helpers, a plan's newuidmap or newgidmap) is
// nsup's doing: what it opens and writes, and any process it makes, are
// kept (its write of the map is the step's, any other write of a map or
// a control file fails the trace); its other calls are the setuid
// program's own (dropping its privilege: prctl, setresuid, capset).
func relevant(evs []event, nsupBin string, helpers []string) []event {
	seen := map[int]bool{}
	for _, e := range evs {
		seen[e.pid] = true
	}
	// A process is the environment's from its first execve of a program
	// that is not nsup; a process or thread made by one that was the
	// environment's at that moment is the environment's from birth. With -f, a child's
	// first call can be printed before its parent's fork returns, so this
	// is computed over the whole trace, not line by line.
	type birth struct{ parent, at int }
	parent := map[int]birth{}
	execAt := map[int]int{}
	helper := map[int]bool{}
	for i, e := range evs {
		// A thread too: strace names it by its own id, and it is its
		// creator's process (a multi-threaded program of the
		// environment's, such as go, forks from any of its threads).
		if isFork(e.name) {
			parent[childPid(e.ret)] = birth{e.pid, i}
		}
		// (Its path and argv: with -v, the environment is printed too.)
		if a := splitArgs(e.args); len(a) > 1 {
			if _, ok := execAt[e.pid]; !ok && e.name == "execve" && strings.HasPrefix(e.ret, "0") &&
				a[0] != q("/proc/self/exe") && a[0] != q(nsupBin) {
				execAt[e.pid] = i
				helper[e.pid] = slices.Contains(helpers, unquote(a[0]))
			}
		}
	}
	const never = 1 << 62
	memo := map[int]int{}
	var from func(pid, depth int) int
	from = func(pid, depth int) int {
		if v, ok := memo[pid]; ok {
			return v
		}
		v := never
		if x, ok := execAt[pid]; ok {
			v = x + 1
		}
		if b, ok := parent[pid]; ok && depth < 64 && from(b.parent, depth+1) <= b.at {
			v = 0
		}
		memo[pid] = v
		return v
	}
	var out []event
	for i, e := range evs {
		if i == 0 && e.name == "execve" {
			continue // strace starting nsup
		}
		if i >= from(e.pid, 0) && !(helper[e.pid] && i > execAt[e.pid] && helperKept(e)) {
			continue
		}
		if strings.HasPrefix(e.name, "syscall_0x") {
			// Not a call of the traced set, which strace knows by name: a
			// task killed at its very first stop (an environment's
			// process at its end, under load), whose number strace read
			// from a register that held something else.
			continue
		}
		if e.name == "clone3" && strings.HasPrefix(e.args, "NULL, 0") {
			// The launcher's probe of clone3 (canClone3): EINVAL, or
			// ENOSYS under a filter that refuses it; it makes nothing.
			continue
		}
		if e.name == "clone" && strings.Contains(e.args, "CLONE_PIDFD") && !strings.Contains(e.args, "SIGCHLD") &&
			nsFlags(e.args) == "0" && !seen[childPid(e.ret)] {
			continue
		}
		out = append(out, e)
	}
	return out
}

// withoutChecks drops the runs of the plan's healthchecks, which init
// repeats every interval for as long as the process runs (the spawn step
// says so): each is a fork of init's whose child executes a healthcheck's
// command, planned path and argv, and the fork and the execve are
// dropped. Anything else, a fork whose child executes something else
// included, is left to match the plan.
func withoutChecks(p *planner.Plan, evs []event) []event {
	var checks []func(event) bool
	for _, e := range p.Environments {
		for _, st := range e.Steps {
			if sp, ok := st.Op.(planner.Spawn); ok && sp.Healthcheck != nil {
				m := execMatch(sp.Healthcheck.Path, sp.Healthcheck.Argv)
				// A check whose execve the environment's end interrupted
				// (strace: "= ?", the process gone) is a check all the
				// same: under load, one started just as db stopped.
				checks = append(checks, func(e event) bool {
					if strings.HasPrefix(e.ret, "?") {
						e.ret = "0"
					}
					return m(e)
				})
			}
		}
	}
	if len(checks) == 0 {
		return evs
	}
	checkPid := map[int]bool{}
	for _, e := range evs {
		for _, m := range checks {
			if m(e) {
				checkPid[e.pid] = true
			}
		}
	}
	// A fork's child pid is known when strace could translate it (or
	// needed not); a check is often over before strace prints its fork's
	// return, which then holds its pid inside only, a pid the trace does
	// not have: such a fork is paired with the next check's execve not
	// paired yet.
	seen := map[int]bool{}
	for _, e := range evs {
		seen[e.pid] = true
	}
	drop := make([]bool, len(evs))
	paired := map[int]bool{}
	for i, e := range evs {
		c := childPid(e.ret)
		switch {
		case checkPid[e.pid]:
			drop[i] = true
		case !isFork(e.name) || strings.Contains(e.args, "CLONE_THREAD"):
		case seen[c] || nsPidRe.MatchString(e.ret):
			if checkPid[c] {
				drop[i], paired[c] = true, true
			}
		default:
			for _, later := range evs[i+1:] {
				if checkPid[later.pid] && !paired[later.pid] {
					drop[i], paired[later.pid] = true, true
					break
				}
			}
		}
	}
	var out []event
	for i, e := range evs {
		if !drop[i] {
			out = append(out, e)
		}
	}
	return out
}

// expectation is one traced call a step must produce; match reports
// whether an event is it.
type expectation struct {
	step  string
	match func(e event) bool
	// ref is the plan's step (matchTrace sets its environment), for the
	// order across environments; set when stepped.
	ref     planner.StepRef
	stepped bool
	// each: the call is made on every thread of the process (Go's
	// AllThreadsSyscall), one by each, all of them this step's.
	each bool
}

func q(s string) string { return strconv.Quote(s) }

func qn(s string) string {
	if s == "" {
		return "NULL"
	}
	return q(s)
}

// straceFlags renders mount flags as strace does (its own order).
func sameFlags(traced string, want fmt.Stringer) bool {
	set := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, f := range strings.Split(s, "|") {
			if f != "0" && f != "" {
				m[f] = true
			}
		}
		return m
	}
	a, b := set(traced), set(want.String())
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// splitArgs splits strace's top-level argument list.
func splitArgs(s string) []string {
	var out []string
	depth, inq, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case inq && c == '\\':
			i++
		case c == '"':
			inq = !inq
		case inq:
		case c == '[' || c == '{' || c == '(':
			depth++
		case c == ']' || c == '}' || c == ')':
			depth--
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// flagText is flags as strace prints them, for sameFlags.
type flagText string

func (f flagText) String() string { return string(f) }

// fsmountAttrs are fsmount's attributes for mount flags (the executor's
// fsmountAttr), false for a flag it has none for.
func fsmountAttrs(f planner.MountFlags) (flagText, bool) {
	var out []string
	for _, n := range strings.Split(f.String(), "|") {
		switch n {
		case "0", "":
		case "MS_RDONLY", "MS_NOSUID", "MS_NODEV", "MS_NOEXEC", "MS_NOATIME", "MS_RELATIME", "MS_STRICTATIME", "MS_NODIRATIME":
			out = append(out, "MOUNT_ATTR_"+strings.TrimPrefix(n, "MS_"))
		default:
			return "", false
		}
	}
	return flagText(strings.Join(out, "|")), true
}

// ok says whether a call succeeded.
func succeeded(e event) bool { return strings.HasPrefix(e.ret, "0") }

// ttyCloneMatch matches the terminal's /dev/pts/N (the name of the
// child's fd 0), opened following no link, cloned alone (open_tree) and
// made read-only by the clone's fd; *tree is that clone.
func ttyCloneMatch(fds *fdState, tree **fdObj) func(event) bool {
	return func(e event) bool {
		a := splitArgs(e.args)
		if e.name != "mount_setattr" || !succeeded(e) || len(a) != 5 || a[1] != `""` || a[2] != "AT_EMPTY_PATH" ||
			!strings.HasPrefix(a[3], "{attr_set=MOUNT_ATTR_RDONLY|MOUNT_ATTR_NOSUID|MOUNT_ATTR_NOEXEC, attr_clr=0,") {
			return false
		}
		t := fds.fd(e.pid, a[0])
		*tree = t
		return t != nil && t.kind == fdTree && !t.recursive && t.src != nil && t.src.kind == fdHost && t.src.nofollow &&
			strings.HasPrefix(t.src.where, "/dev/pts/")
	}
}

// moveMatch is move_mount(from, "", onto, "", F_EMPTY_PATH|T_EMPTY_PATH),
// fd to fd, from and onto checked by want.
func moveMatch(fds *fdState, want func(pid int, from, onto *fdObj) bool) func(event) bool {
	return func(e event) bool {
		a := splitArgs(e.args)
		return e.name == "move_mount" && succeeded(e) && len(a) == 5 && a[1] == `""` && a[3] == `""` &&
			sameFlags(a[4], flagText("MOVE_MOUNT_F_EMPTY_PATH|MOVE_MOUNT_T_EMPTY_PATH")) &&
			want(e.pid, fds.fd(e.pid, a[0]), fds.fd(e.pid, a[2]))
	}
}

// mountStep is the traced call of a Mount step. Its fds are followed
// (strace_fds_test.go): a path inside the root is resolved from the
// root's handle, or, beneath a held mount, from that mount's fd; a bind's
// source is a host path opened without following a symlink, or a path
// inside the root resolved the same way as the target; a detached clone
// is of that source, recursive as MS_REC says; a held kernel filesystem
// is fsmount's, of the step's type, source and flags (as attributes).
func mountStep(op planner.Mount, fds *fdState) func(event) bool {
	bind := op.Flags&unix.MS_BIND != 0 && op.Flags&unix.MS_REMOUNT == 0 && op.Source != ""
	rec := op.Flags&unix.MS_REC != 0
	target := func(pid int, o *fdObj) bool { return fds.inRoot(pid, o, op.Root, op.Target, op.Beneath) }
	source := func(pid int, o *fdObj) bool {
		if op.SourceInRoot {
			// Beneath the held mount too (the executor resolves both
			// paths beneath its fd).
			return fds.inRoot(pid, o, op.Root, op.Source, op.Beneath)
		}
		return o.host(op.Source)
	}
	clone := func(pid int, f *fdObj) bool {
		return f != nil && f.kind == fdTree && f.recursive == rec && source(pid, f.src)
	}
	switch {
	case op.Held && !bind:
		// fsopen, fsconfig (its source, then its data's options one by
		// one: a tmpfs's), fsmount (its flags its attributes), the
		// mount's fd moved onto the target's: held for the steps beneath.
		attrs, known := fsmountAttrs(op.Flags)
		return moveMatch(fds, func(pid int, from, onto *fdObj) bool {
			return known && from != nil && from.kind == fdMnt && from.fstype == op.FSType && from.source == op.Source &&
				from.data == op.Data && sameFlags(from.attrs, attrs) && target(pid, onto)
		})
	case bind && !op.InRoot && op.Source == op.Target && op.HostTree:
		// The host's clone of the root's folder (an OpenTree step's),
		// moved onto "/": root inside may not reach its path.
		return func(e event) bool {
			a := splitArgs(e.args)
			return e.name == "move_mount" && succeeded(e) && len(a) == 5 && a[1] == `""` && a[2] == "AT_FDCWD" && a[3] == `"/"` &&
				sameFlags(a[4], flagText("MOVE_MOUNT_F_EMPTY_PATH")) && clone(e.pid, fds.fd(e.pid, a[0]))
		}
	case bind && !op.InRoot && op.Source == op.Target:
		// The root bound onto itself as a detached clone of the folder
		// opened without a symlink, moved onto that very fd: its fd is
		// the root's handle from then on.
		return moveMatch(fds, func(pid int, from, onto *fdObj) bool {
			return clone(pid, from) && onto == from.src
		})
	case op.Held || op.Detached:
		// A detached clone of the source (open_tree) moved onto the
		// target's fd: its fd serves the next step, a setattr, and, held,
		// the steps beneath it.
		return moveMatch(fds, func(pid int, from, onto *fdObj) bool {
			return bind && clone(pid, from) && target(pid, onto)
		})
	}
	return func(e event) bool {
		a := splitArgs(e.args)
		if e.name != "mount" || !succeeded(e) || len(a) != 5 {
			return false
		}
		tgt := a[1] == q(op.Target)
		if op.InRoot {
			tgt = target(e.pid, fds.procFd(e.pid, a[1]))
		}
		// strace prints the data argument as a string only for filesystems
		// it knows to take one; compare it when it is printed.
		d := a[4] == qn(op.Data) || (op.Data != "" && strings.HasPrefix(a[4], "0x")) || (op.Data == "" && a[4] == `""`)
		// A bind's source is mounted through an fd: resolved inside the
		// root, or opened on the host without following a symlink.
		src := a[0] == qn(op.Source) || (op.Source == "" && a[0] == `""`)
		if bind {
			src = source(e.pid, fds.procFd(e.pid, a[0]))
		}
		return src && tgt && (a[2] == qn(op.FSType) || (op.FSType == "" && a[2] == `""`)) && sameFlags(a[3], op.Flags) && d
	}
}

// setattrStep is the traced call of a MountSetattr step: of the mount the
// previous step moved, through its fd (ByFD); of a path inside the root,
// or the root bound onto itself, through the fd resolved from the root's
// handle; else of a path.
func setattrStep(op planner.MountSetattr, rootBound string, fds *fdState) func(event) bool {
	return func(e event) bool {
		a := splitArgs(e.args)
		if e.name != "mount_setattr" || !succeeded(e) || len(a) != 5 || strings.Contains(a[2], "AT_RECURSIVE") != op.Recursive {
			return false
		}
		// {attr_set=MOUNT_ATTR_RDONLY|MOUNT_ATTR_NODEV, attr_clr=0, ...}
		attr := map[string]string{}
		for _, f := range splitArgs(strings.TrimSuffix(strings.TrimPrefix(a[3], "{"), "}")) {
			k, v, _ := strings.Cut(f, "=")
			attr[k] = v
		}
		if !sameFlags(attr["attr_set"], op.Set) || !sameFlags(attr["attr_clr"], op.Clear) {
			return false
		}
		byFD := a[1] == `""` && strings.Contains(a[2], "AT_EMPTY_PATH")
		fd := fds.fd(e.pid, a[0])
		switch {
		case op.ByFD:
			return byFD && fd != nil && fd == fds.moved[e.pid] && fd.kind == fdTree
		case op.InRoot:
			return byFD && fds.inRoot(e.pid, fd, op.Root, op.Path, "")
		case op.Path != "" && op.Path == rootBound:
			return byFD && fds.inRoot(e.pid, fd, op.Path, "/", "")
		}
		return a[0] == "AT_FDCWD" && a[1] == q(op.Path) && !strings.Contains(a[2], "AT_EMPTY_PATH")
	}
}

// overlayData checks an overlay's options: its layers by fd, the lower
// one the folder the tmpfs was moved onto, the upper and work folders
// made in that tmpfs.
func overlayData(fds *fdState, pid int, data string, top *fdObj, op planner.Overlay) bool {
	if strings.HasPrefix(data, "0x") {
		return true // not printed
	}
	var lower, upper, work string
	userxattr := false
	for _, o := range strings.Split(unquote(data), ",") {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "lowerdir":
			lower = v
		case "upperdir":
			upper = v
		case "workdir":
			work = v
		case "userxattr":
			userxattr = true
		default:
			return false
		}
	}
	in := func(p, name string) bool {
		o := fds.procFd(pid, q(p))
		return o != nil && o.kind == fdPath && o.anchor == top && o.scoped && o.rel == name
	}
	l := fds.procFd(pid, q(lower))
	return l.host(op.Lower) && in(upper, "upper") && in(work, "work") && userxattr == op.UserXattr
}

func expectations(p planner.Env, detach bool, host map[int]bool, held map[string]bool, sides map[string][]expectation, fds *fdState) []expectation {
	var ex []expectation
	rootBound := "" // the root bound onto itself: its setattrs go through its fd
	cloned := false // after the Clone step
	add := func(i int, st planner.Step, m func(event) bool) {
		ex = append(ex, expectation{step: fmt.Sprintf("%s step %d: %s", p.Name, i, planner.FormatOp(st.Op)), match: byStage(st, p.Name, host, fds, m),
			ref: planner.StepRef{Step: i}, stepped: true})
	}
	// On every thread of init (its AllThreadsSyscall).
	addEach := func(i int, st planner.Step, m func(event) bool) {
		add(i, st, m)
		ex[len(ex)-1].each = st.Stage == planner.Init
	}
	// A map written by nsup's host thread, or through its helper (a
	// process of nsup's own, which byStage's host stage is not): once
	// written, one less for the child to wait for.
	addMap := func(i int, st planner.Step, file, helper string, lines []planner.IDMapLine) {
		if helper == "" {
			add(i, st, mapped(p.Name, fds, writeStep(fds, fds.childFile(p.Name, file), planner.MapText(lines))))
			return
		}
		calls := helperMapSteps(p.Name, file, helper, lines, host, fds)
		for k, m := range calls {
			if k == len(calls)-1 {
				m = mapped(p.Name, fds, m)
			}
			ex = append(ex, expectation{step: fmt.Sprintf("%s step %d: %s", p.Name, i, planner.FormatOp(st.Op)), match: m,
				ref: planner.StepRef{Step: i}, stepped: true})
		}
	}
	for i, st := range p.Steps {
		switch op := st.Op.(type) {
		case planner.Fork:
			// A plain fork by nsup itself: a clone without new namespaces
			// (nor a thread), by one of the host process's threads.
			add(i, st, func(e event) bool {
				ok := host[e.pid] && isFork(e.name) && nsFlags(e.args) == "0" && !strings.Contains(e.args, "CLONE_THREAD") && childPid(e.ret) > 0
				if ok {
					fds.born["fork:"+p.Name] = childPid(e.ret) // the forked copy, whose steps follow
				}
				return ok
			})
		case planner.Clone:
			if op.Late {
				// The child stage's late clone (after its join of a pid
				// namespace): its child goes on with the stage's steps
				// once it has set its parent-death signal and made a
				// session of its own, in the main sequence (the stage
				// exits meanwhile).
				add(i, st, func(e event) bool {
					ok := (e.name == "clone" || e.name == "clone3") && nsFlags(e.args) == "0" && strings.Contains(e.args, "CLONE_PARENT") && childPid(e.ret) > 0
					if ok {
						fds.born["env:"+p.Name] = childPid(e.ret)
					}
					return ok
				})
				add(i, st, prctlStep(planner.Prctl{Option: unix.PR_SET_PDEATHSIG, Arg: uint64(unix.SIGKILL)}))
				add(i, st, func(e event) bool { return e.name == "setsid" && e.args == "" && childPid(e.ret) > 0 })
				break
			}
			cloned = true
			parent := op.Flags&unix.CLONE_PARENT != 0
			ns := op.Flags &^ unix.CLONE_PARENT
			add(i, st, func(e event) bool {
				ok := (e.name == "clone" || e.name == "clone3") && sameFlags(nsFlags(e.args), ns) &&
					strings.Contains(e.args, "CLONE_PARENT") == parent && childPid(e.ret) > 0 && intoCgroup(e, op, fds)
				if ok {
					fds.born["env:"+p.Name] = childPid(e.ret) // whose /proc/PID/ns a join by name opens
				}
				return ok
			})
			// The child's parent-death signal, and, root of its user
			// namespace, its change to uid and gid 0 there (part of the
			// clone step, by the child: byStage): side by side with the
			// host's steps after the clone, in a queue of its own, its
			// change of ids once the host has written its maps, all of
			// it before the child stage's first step.
			child := st
			child.Stage = planner.Child
			for k, m := range cloneChildSteps(op) {
				call := m
				if k > 0 {
					call = func(e event) bool { return fds.maps[p.Name] == 0 && m(e) }
				}
				pro := byStage(child, p.Name, host, fds, call)
				sides["child "+p.Name] = append(sides["child "+p.Name], expectation{step: fmt.Sprintf("%s step %d: %s", p.Name, i, planner.FormatOp(op)),
					match: func(e event) bool {
						ok := pro(e)
						if ok {
							fds.prologue[p.Name]--
						}
						return ok
					}})
				fds.prologue[p.Name]++
			}
			for _, later := range p.Steps[i+1:] {
				switch later.Op.(type) {
				case planner.DenySetgroups, planner.UIDMap, planner.GIDMap:
					fds.maps[p.Name]++
				}
			}
		case planner.Unshare:
			add(i, st, func(e event) bool { return e.name == "unshare" && succeeded(e) && sameFlags(e.args, op.Flags) })
		case planner.IdmapTree:
			add(i, st, idmapTreeStep(op, p.Name, fds))
		case planner.OpenTree:
			// A clone of the folder, opened without a symlink, by its fd
			// ("", AT_EMPTY_PATH), recursive as the step says: the child
			// inherits it (mountStep's HostTree).
			add(i, st, func(e event) bool {
				a := splitArgs(e.args)
				if e.name != "open_tree" || childPid(e.ret) <= 0 || len(a) != 3 || a[1] != `""` || !strings.Contains(a[2], "OPEN_TREE_CLONE") ||
					!strings.Contains(a[2], "AT_EMPTY_PATH") || strings.Contains(a[2], "AT_RECURSIVE") != op.Recursive {
					return false
				}
				return fds.fd(e.pid, a[0]).host(op.Path)
			})
			// Then made private, every mount of it (helper-109): a
			// clone of a shared mount's folder is that mount's peer.
			add(i, st, func(e event) bool {
				a := splitArgs(e.args)
				if !host[e.pid] || e.name != "mount_setattr" || !succeeded(e) || len(a) != 5 || a[1] != `""` || a[2] != "AT_EMPTY_PATH|AT_RECURSIVE" ||
					!strings.Contains(a[3], "attr_set=0,") || !strings.Contains(a[3], "propagation=MS_PRIVATE") {
					return false
				}
				t := fds.fd(e.pid, a[0])
				return t != nil && t.kind == fdTree && t.src.host(op.Path) && t.recursive == op.Recursive
			})
		case planner.Volume:
			// Its lock file, locked shared for the environment's life
			// (the folder's mkdirat only places it: placedBy).
			add(i, st, func(e event) bool {
				a := splitArgs(e.args)
				if e.name != "flock" || !succeeded(e) || len(a) != 2 || a[1] != "LOCK_SH|LOCK_NB" {
					return false
				}
				o := fds.fd(e.pid, a[0])
				return o != nil && o.at() == op.Lock
			})
		case planner.CgroupWrite:
			add(i, st, writeStep(fds, func(_ int, f string) bool { return f == fds.nsupPath(op.Path) }, op.Value))
		case planner.CgroupJoin:
			// The thread that makes the child moves itself (0); back
			// after the clone while the child goes on (unless it waits
			// for its maps or pasta, after these): side by side.
			add(i, st, writeStep(fds, func(_ int, f string) bool { return f == path.Join(fds.nsupPath(op.Path), "tasks") }, "0"))
			if cloned {
				sides["host "+p.Name] = append(sides["host "+p.Name], ex[len(ex)-1])
				ex = ex[:len(ex)-1]
			}
		case planner.DenySetgroups:
			add(i, st, mapped(p.Name, fds, writeStep(fds, fds.childFile(p.Name, "setgroups"), "deny")))
		case planner.UIDMap:
			addMap(i, st, "uid_map", op.Helper, op.Lines)
		case planner.GIDMap:
			addMap(i, st, "gid_map", op.Helper, op.Lines)
		case planner.TimeOffsets:
			// By the thread that made the namespace: its own file.
			add(i, st, writeStep(fds, func(pid int, f string) bool {
				return f == "/proc/self/timens_offsets" || f == "/proc/"+strconv.Itoa(pid)+"/timens_offsets"
			}, op.Text()))
		case planner.Setns:
			add(i, st, setnsStep(op, fds))
		case planner.Prctl:
			if op.Option == unix.PR_SET_NO_NEW_PRIVS {
				addEach(i, st, prctlStep(op))
				break
			}
			add(i, st, prctlStep(op))
		case planner.CapbsetDrop:
			for _, m := range capbsetDrops(op, straceCapLast()) {
				add(i, st, m)
			}
		case planner.InheritCaps:
			add(i, st, inheritStep)
		case planner.Capset:
			addEach(i, st, capsetStep(op.Keep))
		case planner.Prlimit:
			add(i, st, prlimitStep(op))
		case planner.Execve:
			if op.ByFD {
				// Through the fd of the plan's path, opened on the host.
				at := execatMatch(op.Argv)
				add(i, st, withEnv(func(e event) bool {
					o := fds.fd(e.pid, splitArgs(e.args)[0])
					return at(e) && o != nil && o.kind == fdHost && o.where == op.Path
				}, 3, op.Env))
				break
			}
			add(i, st, withEnv(execMatch(op.Path, op.Argv), 2, op.Env))
		case planner.Chdir:
			add(i, st, chdirStep(st, op, fds))
		case planner.Setsid:
			add(i, st, func(e event) bool { return e.name == "setsid" && e.args == "" && childPid(e.ret) > 0 })
		case planner.Setgroups:
			add(i, st, setgroupsStep(op))
		case planner.Setresgid:
			add(i, st, idStep("setresgid", op.GID))
		case planner.Setresuid:
			add(i, st, idStep("setresuid", op.UID))
		case planner.Symlink:
			add(i, st, symlinkStep(op, fds))
		case planner.MakeCwd:
			// Its calls are the walk's openat2 (fd calls, followed) and
			// the folders' mkdirat, made only when missing: no call of
			// its own to match; the process's chdir then is.
		case planner.Mount:
			if !op.InRoot && op.Source != "" && op.Source == op.Target && op.Flags&unix.MS_BIND != 0 && op.Flags&unix.MS_REMOUNT == 0 {
				rootBound = op.Source
			}
			add(i, st, mountStep(op, fds))
		case planner.MountSetattr:
			add(i, st, setattrStep(op, rootBound, fds))
		case planner.Keyctl:
			add(i, st, func(e event) bool {
				return e.name == "keyctl" && e.args == "KEYCTL_JOIN_SESSION_KEYRING, NULL" && childPid(e.ret) > 0
			})
		case planner.Landlock:
			// Of the ruleset just made (its fd), no flags: a ruleset that
			// handles no access (strace 6.1 prints no more of it: its
			// scope is "...", something set beyond handled_access_fs).
			attr := "{handled_access_fs=0}, 24, 0"
			if op.Scoped != 0 {
				attr = "{handled_access_fs=0, ...}, 24, 0"
			}
			add(i, st, func(e event) bool {
				a := splitArgs(e.args)
				if e.name != "landlock_restrict_self" || len(a) != 2 || a[1] != "0" || !succeeded(e) {
					return false
				}
				r := fds.fd(e.pid, a[0])
				return r != nil && r.kind == fdRuleset && r.how == attr
			})
		case planner.Seccomp:
			add(i, st, seccompStep(op))
		case planner.Overlay:
			if op.HostTree {
				overlayTreeSteps(op, fds, func(m func(event) bool) { add(i, st, m) })
				break
			}
			// The upper folder's tmpfs, made detached (mode 0700, nodev as
			// the overlay), moved onto the lower folder opened without a
			// symlink; the overlay mounted on the tmpfs through its fd, its
			// layers by fd: no step follows the path again.
			attrs := flagText("0")
			flags := planner.MountFlags(0)
			if op.NoDev {
				attrs, flags = "MOUNT_ATTR_NODEV", unix.MS_NODEV
			}
			add(i, st, moveMatch(fds, func(pid int, from, onto *fdObj) bool {
				return from != nil && from.kind == fdMnt && from.fstype == "tmpfs" && from.source == "" && from.mode == "0700" &&
					sameFlags(from.attrs, attrs) && onto.host(op.Lower)
			}))
			add(i, st, func(e event) bool {
				a := splitArgs(e.args)
				if e.name != "mount" || !succeeded(e) || len(a) != 5 {
					return false
				}
				top := fds.procFd(e.pid, a[1])
				return a[0] == `"overlay"` && a[2] == `"overlay"` && sameFlags(a[3], flags) &&
					top != nil && top == fds.moved[e.pid] && top.kind == fdMnt && top.where == path.Clean(op.Target) &&
					overlayData(fds, e.pid, a[4], top, op)
			})
		case planner.Sethostname:
			add(i, st, func(e event) bool {
				return e.name == "sethostname" && succeeded(e) && e.args == q(op.Name)+", "+strconv.Itoa(len(op.Name))
			})
		case planner.Setdomainname:
			add(i, st, func(e event) bool {
				return e.name == "setdomainname" && succeeded(e) && e.args == q(op.Name)+", "+strconv.Itoa(len(op.Name))
			})
		case planner.PivotRoot:
			add(i, st, func(e event) bool {
				return e.name == "pivot_root" && succeeded(e) && e.args == q(op.NewRoot)+", "+q(op.PutOld)
			})
		case planner.Umount2:
			add(i, st, func(e event) bool {
				return e.name == "umount2" && succeeded(e) && e.args == q(op.Target)+", "+op.Flags.String()
			})
		case planner.Hold:
			// The first of a pod's in a fresh state directory starts its
			// holder: a fork by nsup into the pod's new namespaces, then
			// the holder's execve of nsup's own binary (which then makes
			// no traced call but its threads); the others find it.
			if held[op.Pod] {
				continue
			}
			held[op.Pod] = true
			want := strings.Split(op.Types.String(), "|")
			slices.Sort(want)
			add(i, st, func(e event) bool {
				got := strings.Split(nsFlags(e.args), "|")
				slices.Sort(got)
				ok := host[e.pid] && isFork(e.name) && slices.Equal(got, want)
				if ok {
					fds.born["pod:"+op.Pod] = childPid(e.ret) // whose /proc/PID/ns the pod's joins open
				}
				return ok
			})
			for _, m := range holderMapSteps(op, host, fds) {
				add(i, st, m)
			}
			holder := func(m func(event) bool) func(event) bool {
				return func(e event) bool { return e.proc == fds.born["pod:"+op.Pod] && m(e) }
			}
			add(i, st, holder(goExecSetsid))
			add(i, st, holder(goExecChdir))
			add(i, st, holder(withEnv(execMatch("/proc/self/exe", append(slices.Clone(planner.HoldArgv), op.Pod, strings.Join(op.Types.Types(), ","), op.Record)), 2, []string{})))
		case planner.Pasta:
			// A fork by nsup's host thread, the keeper's execve (nsup's
			// own binary, in a session of its own, in /), its fork (by
			// any of the keeper's threads), and pasta's execve with the
			// plan's command line (in /; what pasta does after is its
			// own). Each child's calls are its own (born).
			by := func(who string, m func(event) bool) func(event) bool {
				return func(e event) bool { return e.proc == fds.born[who+p.Name] && m(e) }
			}
			forked := func(who string, m func(event) bool) func(event) bool {
				return func(e event) bool {
					ok := m(e) && isFork(e.name) && nsFlags(e.args) == "0" && !strings.Contains(e.args, "CLONE_THREAD") && childPid(e.ret) > 0
					if ok {
						fds.born[who+p.Name] = childPid(e.ret)
					}
					return ok
				}
			}
			// The keeper and pasta die with the thread that started
			// them (Go's Pdeathsig): the keeper only in the foreground
			// (detached, it outlives nsup), pasta always (its keeper's
			// thread, locked for good). Both with an empty environment.
			pdeath := prctlStep(planner.Prctl{Option: unix.PR_SET_PDEATHSIG, Arg: uint64(unix.SIGKILL)})
			add(i, st, forked("keeper:", func(e event) bool { return host[e.pid] }))
			add(i, st, by("keeper:", goExecSetsid))
			add(i, st, by("keeper:", goExecChdir))
			if !detach {
				add(i, st, by("keeper:", pdeath))
			}
			add(i, st, by("keeper:", withEnv(execMatch("/proc/self/exe", op.Keeper()), 2, []string{})))
			add(i, st, by("keeper:", prctlStep(planner.Prctl{Option: unix.PR_SET_NAME, Name: "nsup-keeper"})))
			add(i, st, forked("pasta:", func(e event) bool { return e.proc == fds.born["keeper:"+p.Name] }))
			add(i, st, by("pasta:", goExecChdir))
			add(i, st, by("pasta:", pdeath))
			add(i, st, by("pasta:", withEnv(execMatch(op.Program, append([]string{op.Program}, op.Args...)), 2, []string{})))
		case planner.Openpty:
			// Its peer (from an ioctl, which is not traced: no fd the
			// trace knows) cloned alone, made read-only by its fd; the
			// clone's open through /proc/self/fd is an fd call.
			if op.ReadOnly {
				add(i, st, func(e event) bool {
					a := splitArgs(e.args)
					return e.name == "mount_setattr" && succeeded(e) && len(a) == 5 && a[1] == `""` && a[2] == "AT_EMPTY_PATH" &&
						strings.HasPrefix(a[3], "{attr_set=MOUNT_ATTR_RDONLY|MOUNT_ATTR_NOSUID|MOUNT_ATTR_NOEXEC, attr_clr=0,") && fds.fd(e.pid, a[0]) == nil
				})
			}
		case planner.NullDevice:
			// The host's /dev/null alone cloned (open_tree, followed as an
			// fd), made read-only by its fd; its open through
			// /proc/self/fd is an fd call too.
			add(i, st, func(e event) bool {
				a := splitArgs(e.args)
				if e.name != "mount_setattr" || !succeeded(e) || len(a) != 5 || a[1] != `""` || a[2] != "AT_EMPTY_PATH" ||
					!strings.HasPrefix(a[3], "{attr_set=MOUNT_ATTR_RDONLY|MOUNT_ATTR_NOSUID|MOUNT_ATTR_NOEXEC, attr_clr=0,") {
					return false
				}
				t := fds.fd(e.pid, a[0])
				return t != nil && t.kind == fdTree && !t.recursive && t.src != nil && t.src.kind == fdHost && t.src.where == "/dev/null"
			})
		case planner.Console:
			// The terminal's clone (ttyCloneMatch), moved onto the
			// target's fd, resolved beneath the dev's held mount.
			var tree *fdObj
			add(i, st, ttyCloneMatch(fds, &tree))
			add(i, st, moveMatch(fds, func(pid int, from, onto *fdObj) bool {
				return from != nil && from == tree && fds.inRoot(pid, onto, op.Root, op.Target, op.Beneath)
			}))
		case planner.ReadOnlyTerminal:
			// The terminal's clone (ttyCloneMatch) alone: the fds'
			// reopen through /proc/self/fd, and dup3, are fd calls.
			add(i, st, ttyCloneMatch(fds, new(*fdObj)))
		case planner.EtcFile:
			// A tmpfs of its own (fsopen, fsmount), the file made in it, a
			// clone of the file alone (open_tree) made read-only (by fd:
			// "", AT_EMPTY_PATH) and moved onto the target (fd to fd),
			// resolved from the root's handle.
			file := func(t *fdObj) bool {
				if t == nil || t.kind != fdTree || t.recursive || t.src == nil || t.src.kind != fdPath {
					return false
				}
				m := t.src.anchor
				return t.src.scoped && t.src.rel == path.Base(op.Target) && m != nil && m.kind == fdMnt && m.fstype == "tmpfs" && m.where == ""
			}
			var tree *fdObj
			add(i, st, func(e event) bool {
				a := splitArgs(e.args)
				if e.name != "mount_setattr" || !succeeded(e) || len(a) != 5 || a[1] != `""` || a[2] != "AT_EMPTY_PATH" ||
					!strings.HasPrefix(a[3], "{attr_set=MOUNT_ATTR_RDONLY|MOUNT_ATTR_NOSUID|MOUNT_ATTR_NODEV|MOUNT_ATTR_NOEXEC, attr_clr=0,") {
					return false
				}
				tree = fds.fd(e.pid, a[0])
				return file(tree)
			})
			add(i, st, moveMatch(fds, func(pid int, from, onto *fdObj) bool {
				return from != nil && from == tree && fds.inRoot(pid, onto, op.Root, op.Target, "")
			}))
		case planner.Spawn, planner.Monitor:
			// A fork (a clone without new namespaces) by the child stage
			// or init (byStage); its execve is a proc step of its own,
			// and its proc steps are that process's.
			add(i, st, func(e event) bool {
				ok := (e.name == "clone" || e.name == "clone3") && nsFlags(e.args) == "0" && !strings.Contains(e.args, "CLONE_THREAD") && childPid(e.ret) > 0
				if ok {
					fds.born["proc:"+p.Name] = childPid(e.ret)
				}
				return ok
			})
		}
	}
	return ex
}

// byStage is m made by the process of the step's stage: the host's
// threads (but for a holder's and pasta's steps, which start processes
// of their own), the forked copy (its Fork step's child), the child
// stage and init (its Clone step's child, which executes init), a proc
// step's (the process the last Spawn or Monitor step forked; with none,
// the child stage itself, which becomes the main process).
func byStage(st planner.Step, env string, host map[int]bool, fds *fdState, m func(event) bool) func(event) bool {
	return func(e event) bool {
		switch st.Stage {
		case planner.Host:
			switch st.Op.(type) {
			case planner.Hold, planner.Pasta:
			default:
				if !host[e.pid] {
					return false
				}
			}
		case planner.Forked:
			if e.pid != fds.born["fork:"+env] {
				return false
			}
		case planner.Child, planner.Init:
			// Init's threads too: its process's. The child stage's steps
			// once its clone step's calls are made.
			if e.proc != fds.born["env:"+env] || st.Stage == planner.Child && !isClone(st.Op) && fds.prologue[env] > 0 {
				return false
			}
		case planner.Proc:
			want, forked := fds.born["proc:"+env]
			if !forked {
				want = fds.born["env:"+env]
			}
			if e.pid != want {
				return false
			}
		}
		return m(e)
	}
}

func execMatch(path string, argv []string) func(event) bool {
	return func(e event) bool {
		if e.name != "execve" || !strings.HasPrefix(e.ret, "0") {
			return false
		}
		a := splitArgs(e.args)
		var qa []string
		for _, s := range argv {
			qa = append(qa, q(s))
		}
		// An empty path is looked up in PATH when the process starts.
		pathOK := a[0] == q(path) || (path == "" && len(argv) > 0 && strings.HasSuffix(a[0], q("/" + argv[0])[1:]))
		return len(a) >= 2 && pathOK && a[1] == "["+strings.Join(qa, ", ")+"]"
	}
}

// execatMatch is execveat(FD, "", argv, ..., AT_EMPTY_PATH).
func execatMatch(argv []string) func(event) bool {
	return func(e event) bool {
		if e.name != "execveat" || !strings.HasPrefix(e.ret, "0") {
			return false
		}
		a := splitArgs(e.args)
		var qa []string
		for _, s := range argv {
			qa = append(qa, q(s))
		}
		return len(a) == 5 && a[1] == `""` && a[2] == "["+strings.Join(qa, ", ")+"]" && a[4] == "AT_EMPTY_PATH"
	}
}

var (
	builtOnce sync.Once
	builtDir  string
	builtBin  string
	builtErr  error
)

// buildNsup builds nsup as make build does (static), once per test run,
// into a folder every user may read (rootless tests run it as another
// user); TestMain removes it.
func buildNsup(t *testing.T) string {
	t.Helper()
	builtOnce.Do(func() {
		if builtDir, builtErr = os.MkdirTemp("", "nsupns-bin-"); builtErr != nil {
			return
		}
		os.Chmod(builtDir, 0o755)
		builtBin = filepath.Join(builtDir, "nsup")
		cmd := exec.Command("go", "build", "-o", builtBin, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // as make build does
		if out, err := cmd.CombinedOutput(); err != nil {
			builtErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if builtErr != nil {
		t.Fatal(builtErr)
	}
	return builtBin
}

func TestRootStraceMatchesPlan(t *testing.T) {
	requireRoot(t)
	strace, err := exec.LookPath("strace")
	if err != nil {
		skipOrFail(t, "strace is not installed (apt-get install strace)")
	}
	bin := buildNsup(t)
	cache := t.TempDir()
	// Every example, and the joins that take the forked copy's path.
	cases, _ := filepath.Glob("testdata/strace/*.yaml")
	for _, f := range cases {
		t.Run(filepath.Base(f), func(t *testing.T) { straceApply(t, strace, bin, cache, f, false, false) })
	}
	for _, f := range examples(t) {
		t.Run(filepath.Base(f), func(t *testing.T) { straceApply(t, strace, bin, cache, f, false, false) })
		// Detached too (nsup apply -d): strace follows the environments
		// after nsup has returned, until they end on their own.
		t.Run(filepath.Base(f)+"-d", func(t *testing.T) { straceApply(t, strace, bin, cache, f, true, false) })
	}
}

// TestRootStraceTar: the same for a tar root under an overlay, whose
// commands are looked up when they start (the plan has no execve path).
func TestRootStraceTar(t *testing.T) {
	requireRoot(t)
	strace, err := exec.LookPath("strace")
	if err != nil {
		skipOrFail(t, "strace is not installed (apt-get install strace)")
	}
	dir := t.TempDir()
	alpineTarball(t, dir)
	f := filepath.Join(dir, "alpine.yaml")
	os.WriteFile(f, []byte(strings.Replace(alpineSpec, "{tar: ./minirootfs.tar.gz}", "{tar: ./minirootfs.tar.gz, overlay: true}", 1)), 0o644)
	straceApply(t, strace, buildNsup(t), t.TempDir(), f, false, false)
}

// termIf is the caller's TERM with a terminal, as nsup plans it.
func termIf(tty bool) string {
	if !tty {
		return ""
	}
	return os.Getenv("TERM")
}

// TestRootStraceTerminal: the same for nsup's stdin a terminal, an
// environment with a pty of its own and a dev, so its console bind
// (nested.yaml's dev, below a bind).
func TestRootStraceTerminal(t *testing.T) {
	requireRoot(t)
	strace, err := exec.LookPath("strace")
	if err != nil {
		skipOrFail(t, "strace is not installed (apt-get install strace)")
	}
	// nested.yaml's dev reopens the terminal through its console;
	// limits.yaml has none, and its child reopens it through a clone
	// (ReadOnlyTerminal).
	for _, f := range []string{"nested.yaml", "limits.yaml"} {
		t.Run(f, func(t *testing.T) {
			straceApply(t, strace, buildNsup(t), t.TempDir(), "testdata/strace/"+f, false, true)
		})
	}
}

// straceApply traces nsup apply (-d if detach) of the spec f and checks
// the trace against the plan; tty: with nsup's stdin a terminal (a pty
// of the test's).
func straceApply(t *testing.T, strace, bin, cache, f string, detach, tty bool) {
	checkHost(t)
	state := filepath.Join(t.TempDir(), "state")
	s, err := spec.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	p, err := planner.Compile(s, planner.Options{CacheDir: cache, Detach: detach, StateDir: state, Terminal: tty, Term: termIf(tty)})
	if err != nil {
		t.Fatal(err)
	}
	trace := filepath.Join(t.TempDir(), "trace")
	// -v: execve's environment and the seccomp filter in full.
	args := []string{"-f", "-qq", "-v", "-s", "4096", "--pidns-translation", "-e", "trace=" + tracedCalls, "-o", trace, bin, "apply", f}
	if detach {
		args = append(args, "-d")
	}
	cmd := exec.Command(strace, args...)
	cmd.Env = append(os.Environ(), "NSUP_CACHE_DIR="+cache, "NSUP_STATE_DIR="+state)
	var outb lockedBuf
	cmd.Stdout, cmd.Stderr = &outb, &outb
	if tty {
		master, _, slave, err := lifecycle.OpenPty()
		if err != nil {
			t.Fatal(err)
		}
		defer master.Close()
		in := os.NewFile(uintptr(slave), "pts")
		defer in.Close()
		cmd.Stdin = in
		go io.Copy(io.Discard, master) // the environment's output, relayed
	}
	// Detached, nsup starts with a soft RLIMIT_NOFILE below its hard one,
	// as under a login shell: its Go runtime raises its own, and os/exec
	// sets it back in the helpers it starts (ownCalls knows these calls).
	var lim syscall.Rlimit
	lowered := detach && syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Max > 4096 && lim.Max != planner.RlimInfinity
	if lowered {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: 1024, Max: lim.Max}); err != nil {
			t.Fatal(err)
		}
	}
	err = cmd.Start()
	if lowered {
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim) // cmd has its own copy
	}
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// A detached environment's pasta, which strace follows, ends with
	// the environment (its keeper): strace does.
	err = <-done
	out := outb.String()
	if err != nil {
		t.Fatalf("apply under strace: %v\n%s", err, out)
	}
	if detach {
		down := exec.Command(bin, "down", f)
		down.Env = cmd.Env
		if out, err := down.CombinedOutput(); err != nil {
			t.Errorf("down: %v\n%s", err, out)
		}
	}
	checkTrace(t, p, bin, trace)
}

// checkTrace checks the trace strace wrote to the file trace against the
// plan p of nsup's binary bin, and that it can fail: altered, it does not
// match.
func checkTrace(t *testing.T, p *planner.Plan, bin, trace string) {
	t.Helper()
	raw, _ := os.ReadFile(trace)
	all := parseTrace(t, string(raw))
	host := hostThreads(all)
	evs := withoutChecks(p, relevant(all, bin, mapHelpers(p)))
	unmatched, missing := matchTrace(p, evs, host)
	if len(unmatched) > 0 || len(missing) > 0 {
		t.Errorf("traced calls not in the plan (or out of order):\n  %s\nplan steps not traced:\n  %s\nfull trace:\n%s",
			strings.Join(unmatched, "\n  "), strings.Join(missing, "\n  "), joinEvents(evs))
	}
	// The comparison can fail: a trace with one mount dropped, or two
	// mounts swapped, does not match.
	var mounts []int
	for i, e := range evs {
		if e.name == "mount" {
			mounts = append(mounts, i)
		}
	}
	// (The root's bind and proc are move_mount calls: pybox has two.)
	if len(mounts) < 2 {
		t.Fatalf("only %d mounts traced", len(mounts))
	}
	dropped := append(append([]event(nil), evs[:mounts[1]]...), evs[mounts[1]+1:]...)
	if _, miss := matchTrace(p, dropped, host); len(miss) == 0 {
		t.Error("a trace missing a mount still matches the plan")
	}
	// Two mounts of different kinds (two binds through fds read the same
	// in a trace: /proc/self/fd/N onto /proc/self/fd/M).
	a, b := mounts[0], mounts[1]
	fstype := func(m int) string {
		if x := splitArgs(evs[m].args); len(x) > 2 {
			return x[2]
		}
		return ""
	}
	for _, m := range mounts[1:] {
		if fstype(m) != fstype(a) {
			b = m
			break
		}
	}
	// A step beneath a held mount resolved from another mount's fd (the
	// root's, or a held mount it lies below) by the same path does not
	// match: the fds are followed.
	beneath := false
	for _, e := range p.Environments {
		for _, st := range e.Steps {
			if m, ok := st.Op.(planner.Mount); ok && m.Beneath != "" && m.Target != m.Beneath {
				beneath = true
			}
		}
	}
	if other := fromOtherAnchor(evs); other != nil {
		if un, miss := matchTrace(p, other, host); len(un)+len(miss) == 0 {
			t.Error("a trace with a step beneath a held mount resolved from another mount's fd still matches the plan")
		}
	} else if beneath {
		t.Error("the plan has a step beneath a held mount, the trace no path resolved from a held mount's fd below another's")
	}
	// A working folder, a link, a program's environment, a join's fd or
	// a seccomp filter other than the plan's does not match.
	alts, want := alterSteps(p, evs)
	for _, w := range want {
		if alts[w] == nil {
			t.Errorf("the plan has a step for %s, the trace no call to alter for it", w)
		}
	}
	for why, alt := range alts {
		if un, miss := matchTrace(p, alt, host); len(un)+len(miss) == 0 {
			t.Errorf("a trace with %s altered still matches the plan", why)
		}
	}
	swapped := append([]event(nil), evs...)
	swapped[a], swapped[b] = swapped[b], swapped[a]
	if un, miss := matchTrace(p, swapped, host); len(un)+len(miss) == 0 {
		t.Errorf("a trace with two mounts swapped still matches the plan:\n%s\n%s", evs[a], evs[b])
	}
}

// hostThreads are nsup's own threads: the first traced process and its
// CLONE_THREAD children.
func hostThreads(evs []event) map[int]bool {
	host := map[int]bool{}
	for _, e := range evs {
		if len(host) == 0 {
			host[e.pid] = true
		}
		if host[e.pid] && isFork(e.name) && strings.Contains(e.args, "CLONE_THREAD") {
			host[childPid(e.ret)] = true
		}
	}
	return host
}

// matchTrace checks the traced calls against the plan. Environments run
// side by side, so each one's expectations must be met in its order, and
// every traced call must belong to one of them.
func matchTrace(p *planner.Plan, evs []event, host map[int]bool) (unmatched, missing []string) {
	queues := map[string][]expectation{}
	held := map[string]bool{} // the pods whose holder an earlier step starts
	fds := newFdState()
	fds.shareHost(host)
	if len(evs) > 0 && host[evs[0].pid] {
		fds.nsup = evs[0].pid
	}
	var order []string
	sides := map[string][]expectation{}
	for i, e := range p.Environments {
		queues[e.Name] = expectations(e, p.Detach, host, held, sides, fds)
		order = append(order, e.Name)
		for _, n := range []string{"child " + e.Name, "host " + e.Name} {
			if side := sides[n]; side != nil {
				queues[n] = side
				order = append(order, n)
			}
		}
		for _, n := range []string{e.Name, "host " + e.Name} {
			for k := range queues[n] {
				queues[n][k].ref.Env = i
			}
		}
	}
	made := map[planner.StepRef]int{} // where in evs each step was first made
	placed := placedBy(p, fds)
	// A pod's holder started here confines itself once nsup's binary
	// runs in it, side by side with the environments.
	for pod := range held {
		q := "holder " + pod
		steps, each := holderConfines()
		for k, m := range steps {
			queues[q] = append(queues[q], expectation{step: fmt.Sprintf("pod %s's holder: its confinement, call %d", pod, k),
				match: func(e event) bool { return e.proc == fds.born["pod:"+pod] && fds.born["pod:"+pod] > 0 && m(e) }, each: each[k]})
		}
		order = append(order, q)
	}
	own := newOwnCalls(host, fds)
	// The threads of each process, as the trace shows them so far; the
	// last step of each queue made on every thread, the threads that made
	// it, and those it must be made by: the process's when it began.
	threads := map[int]map[int]bool{}
	type eachMade struct {
		x             expectation
		proc          int
		threads, want map[int]bool
	}
	last := map[string]*eachMade{}
	done := func(n string) {
		if l := last[n]; l != nil {
			for tid := range l.want {
				if !l.threads[tid] {
					missing = append(missing, fmt.Sprintf("%s, by thread %d", l.x.step, tid))
				}
			}
		}
		delete(last, n)
	}
	for at, e := range evs {
		if threads[e.proc] == nil {
			threads[e.proc] = map[int]bool{}
		}
		threads[e.proc][e.pid] = true
		if isFork(e.name) && strings.Contains(e.args, "CLONE_THREAD") && childPid(e.ret) > 0 {
			threads[e.proc][childPid(e.ret)] = true
		}
		if (e.name == "execve" || e.name == "execveat") && succeeded(e) {
			threads[e.proc] = map[int]bool{e.pid: true} // the others end
		}
		if e.name == "write" && !controlWrite(fds, e) {
			continue // nsup's own: a pipe, a log, a terminal, its state
		}
		if t := trail(e, fds); t != "" && host[e.pid] {
			for _, r := range placed[t] {
				if _, seen := made[r]; !seen {
					made[r] = at
					break
				}
			}
		}
		if e.name == "mkdirat" && !host[e.pid] && !childMade(p, fds, e) {
			// The child stage's: a folder no step makes.
			unmatched = append(unmatched, e.String())
		}
		if e.name == "mkdirat" || e.name == "bind" {
			continue // traced only to place a step (placedBy)
		}
		if host[e.pid] && e.name == "open_tree" {
			// An OpenTree step's clone is an fd call that is a step too.
			for _, n := range order {
				if q := queues[n]; len(q) > 0 && q[0].match(e) {
					if _, ok := made[q[0].ref]; q[0].stepped && !ok {
						made[q[0].ref] = at
					}
					queues[n] = q[1:]
					done(n)
					break
				}
			}
		}
		if isFdCall(e.name) || (host[e.pid] && treeLink(p, fds, e)) || (isFork(e.name) && strings.Contains(e.args, "CLONE_THREAD")) {
			own.follow(e)
			fds.apply(e) // followed, not a step; a rootfs tree's link; a thread
			continue
		}
		ok := false
		for _, n := range order {
			if q := queues[n]; len(q) > 0 && q[0].match(e) {
				if _, ok := made[q[0].ref]; q[0].stepped && !ok {
					made[q[0].ref] = at
				}
				queues[n] = q[1:]
				done(n)
				if q[0].each {
					last[n] = &eachMade{q[0], e.proc, map[int]bool{e.pid: true}, maps.Clone(threads[e.proc])}
				}
				ok = true
				break
			}
		}
		for _, n := range order {
			// Another thread's call of the step made on every thread.
			if l := last[n]; !ok && l != nil && e.proc == l.proc && !l.threads[e.pid] && l.x.match(e) {
				l.threads[e.pid], ok = true, true
			}
		}
		if !ok && e.name == "flock" {
			// Traced for a Volume step's; the others are nsup's own (its
			// state's lock, the cache's, init's log, a pod's holder).
			continue
		}
		if !ok && !own.allowed(e) {
			unmatched = append(unmatched, e.String())
		}
		own.follow(e)
		fds.apply(e)
	}
	unmatched = append(unmatched, own.bad...)
	unmatched = append(unmatched, outOfSequence(p, evs, made)...)
	for _, n := range order {
		done(n)
	}
	for _, n := range order {
		for _, x := range queues[n] {
			missing = append(missing, x.step)
		}
	}
	return unmatched, missing
}

// placedBy maps the trail (trail's) of each of the host's steps that no
// queue matches to its step, or to its steps, in plan order, where
// several leave the same (a volume or a cached tree two environments
// use): the lock, the log and the state (their openat is nsup's own,
// followed as fds), a cached rootfs tree (its folder opened, once
// built), the state directory, a volume's lock file (opened first, made
// if missing, whether the folder is made or not), a bind's missing
// source folder (the last one, made only when missing) and a group
// (mkdirat), and the control socket (bind). They make no call a queue
// matches, but where they are made counts in the order across
// environments (a detached environment released before a later one's
// lock was taken, where the plan lists it after, is out of order too).
// A wait for an environment's health makes no call of its own (its
// release is the other's held steps); a rootfs folder used as it is
// (dir) is only looked at (stat, not traced), and has no place.
func placedBy(p *planner.Plan, fds *fdState) map[string][]planner.StepRef {
	m := map[string][]planner.StepRef{}
	for i, e := range p.Environments {
		for j, st := range e.Steps {
			t := ""
			switch op := st.Op.(type) {
			case planner.Flock:
				t = "openat " + op.Path
			case planner.Stdio:
				t = "openat " + op.Stdout
			case planner.SaveState:
				t = "openat " + op.Path + ".tmp" // lifecycle.WriteState's
			case planner.Rootfs:
				if op.Type == "dir" {
					continue
				}
				t = "open " + op.Path
			case planner.Mkdir:
				t = "mkdirat " + op.Path
			case planner.Volume:
				t = "openat " + op.Lock // made or not, its lock is opened first
			case planner.MkdirAll:
				t = "mkdirat " + path.Clean(op.Path)
			case planner.CgroupMkdir:
				t = "mkdirat " + fds.nsupPath(op.Path)
			case planner.Listen:
				t = "bind " + op.Path
			default:
				continue
			}
			m[t] = append(m[t], planner.StepRef{Env: i, Step: j})
		}
	}
	return m
}

// trail is what e leaves for placedBy: "openat PATH" of an
// openat(AT_FDCWD, PATH, ...O_CREAT...), "open PATH" of a folder PATH
// opened from AT_FDCWD (a cached tree's, for its lock: the open that
// finds it missing, before it is built, is the same step's and leaves
// none), "mkdirat PATH" of a folder made (its path resolved from its
// fd), "bind PATH" of a unix socket bound at PATH; "" for another call.
func trail(e event, fds *fdState) string {
	a := splitArgs(e.args)
	switch e.name {
	case "openat":
		if p := createdPath(e); p != "" {
			return "openat " + p
		}
		if len(a) >= 3 && a[0] == "AT_FDCWD" && strings.Contains(a[2], "O_DIRECTORY") && retFd(e.ret) >= 0 {
			return "open " + unquote(a[1])
		}
	case "mkdirat":
		if len(a) == 3 {
			if o := fds.resolved(e.pid, a[0], unquote(a[1]), false); o != nil {
				return "mkdirat " + o.at()
			}
		}
	case "bind":
		if len(a) == 3 {
			// {sa_family=AF_UNIX, sun_path="/run/nsup/p/a/control.sock"}
			for _, f := range splitArgs(strings.TrimSuffix(strings.TrimPrefix(a[1], "{"), "}")) {
				if v, ok := strings.CutPrefix(f, "sun_path="); ok {
					return "bind " + unquote(v)
				}
			}
		}
	}
	return ""
}

// createdPath is the absolute path an openat(AT_FDCWD, PATH, ...O_CREAT...)
// creates, or "".
func createdPath(e event) string {
	if e.name != "openat" || !strings.Contains(e.args, "O_CREAT") {
		return ""
	}
	a := splitArgs(e.args)
	if len(a) < 2 || a[0] != "AT_FDCWD" {
		return ""
	}
	path, err := strconv.Unquote(a[1])
	if err != nil {
		return ""
	}
	return path
}

// outOfSequence checks the order across environments: the host's steps
// and each detached environment's held steps (its release) made in the
// order the text plan lists them (planner's Sequence). The steps made
// inside an environment may overlap a later one's in the foreground;
// each environment's own order is its queue's.
func outOfSequence(p *planner.Plan, evs []event, made map[planner.StepRef]int) []string {
	var bad []string
	last, lastRef := -1, planner.StepRef{}
	for _, r := range p.Sequence() {
		e := &p.Environments[r.Env]
		at, ok := made[r]
		if !ok || e.Steps[r.Step].Stage != planner.Host && r.Step < e.HeldFrom(p.Detach) {
			continue
		}
		if at < last {
			l := &p.Environments[lastRef.Env]
			bad = append(bad, fmt.Sprintf("made before a step the plan lists earlier: %s step %d (%s) at %s, before %s step %d (%s) at %s",
				e.Name, r.Step, planner.FormatOp(e.Steps[r.Step].Op), evs[at], l.Name, lastRef.Step, planner.FormatOp(l.Steps[lastRef.Step].Op), evs[last]))
		}
		last, lastRef = at, r
	}
	return bad
}

func joinEvents(evs []event) string {
	var b strings.Builder
	for _, e := range evs {
		b.WriteString("  " + e.String() + "\n")
	}
	return b.String()
}

// requireRoot skips a root test without root, except under CI=true.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root")
	}
}

func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: %s", why)
	}
	t.Skip(why)
}

// checkHost snapshots the host's mount table and nsup's state directory
// and checks, when the test ends, that they are as they were and that no
// process is left in a namespace other than the host's.
func checkHost(t *testing.T) {
	t.Helper()
	before := hostSnapshot()
	t.Cleanup(func() {
		after := hostSnapshot()
		for i := 0; i < 40 && after != before; i++ {
			sleepMs(50)
			after = hostSnapshot()
		}
		if after != before {
			t.Errorf("the host changed:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	})
}

// session is the session id of a process (proc(5), stat field 6), or -1.
func session(pid string) int {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return -1
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 4 {
		return -1
	}
	n, _ := strconv.Atoi(f[3])
	return n
}

// hostSnapshot is the mount table (without mount ids), the state
// directory's listing, and the processes of this test's session living in
// foreign mount or pid namespaces (none, outside an apply). Environments
// inherit nsup's session; other work on the machine is in other sessions.
func hostSnapshot() string {
	var b strings.Builder
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	sc := bufio.NewScanner(strings.NewReader(string(mi)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 4 {
			b.WriteString(strings.Join(f[3:], " ") + "\n")
		}
	}
	ents, _ := os.ReadDir("/run/nsup")
	for _, e := range ents {
		b.WriteString("state: " + e.Name() + "\n")
	}
	// nsup's cgroups: the nsup/ folders of the hierarchies and their groups.
	filepath.WalkDir("/sys/fs/cgroup", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if strings.Count(strings.TrimPrefix(p, "/sys/fs/cgroup"), "/") > 5 {
			return fs.SkipDir
		}
		if d.Name() == "nsup" {
			groups, _ := os.ReadDir(p)
			for _, g := range groups {
				b.WriteString("cgroup: " + filepath.Join(p, g.Name()) + "\n")
			}
			return fs.SkipDir
		}
		return nil
	})
	hostMnt, _ := os.Readlink("/proc/self/ns/mnt")
	hostPid, _ := os.Readlink("/proc/self/ns/pid")
	mySession := session("self")
	procs, _ := os.ReadDir("/proc")
	// Network namespaces held by a process (a pasta or an environment
	// left behind holds one), and pasta processes, of any session.
	netns := map[string]bool{}
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		if n, err := os.Readlink("/proc/" + p.Name() + "/ns/net"); err == nil {
			netns[n] = true
		}
	}
	for _, pid := range pastas() {
		fmt.Fprintf(&b, "pasta process: %s\n", pid)
	}
	fmt.Fprintf(&b, "network namespaces held by processes: %d\n", len(netns))
	if ents, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range ents {
			b.WriteString("netns: " + e.Name() + "\n")
		}
	}
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		mnt, err1 := os.Readlink("/proc/" + p.Name() + "/ns/mnt")
		pid, err2 := os.Readlink("/proc/" + p.Name() + "/ns/pid")
		if err1 == nil && err2 == nil && (mnt != hostMnt || pid != hostPid) && session(p.Name()) == mySession {
			comm, _ := os.ReadFile("/proc/" + p.Name() + "/comm")
			fmt.Fprintf(&b, "process in a foreign namespace: %s %s", p.Name(), comm)
		}
	}
	return b.String()
}

func sleepMs(n int) { time.Sleep(time.Duration(n) * time.Millisecond) }

// mapped is m, a write of env's maps: once made, one less to wait for.
func mapped(env string, fds *fdState, m func(event) bool) func(event) bool {
	return func(e event) bool {
		ok := m(e)
		if ok {
			fds.maps[env]--
		}
		return ok
	}
}

func isClone(op planner.Op) bool {
	_, ok := op.(planner.Clone)
	return ok
}

// childMade says whether the child stage's mkdirat e makes a folder a
// step of the plan makes when it is missing: an overlay's two layers, a mount's target (Create),
// or its parents, and a working directory (MakeCwd) or its parents,
// each 0755, resolved beneath the root's handle or the held mount's fd
// the step walks from. (The strace test had no matcher for MakeCwd: a
// folder made where no step says was not seen.)
func childMade(p *planner.Plan, fds *fdState, e event) bool {
	a := splitArgs(e.args)
	if len(a) == 3 && a[2] == "0700" && (a[1] == `"upper"` || a[1] == `"work"` || a[1] == `"lower"`) {
		// An Overlay step's layers, in the fresh tmpfs that holds them
		// (a host tree's clone is moved onto its folder "lower").
		d := fds.fd(e.pid, a[0])
		return d != nil && d.kind == fdMnt && d.fstype == "tmpfs" && overlays(p, a[1] == `"lower"`)
	}
	if len(a) != 3 || a[2] != "0755" {
		return false
	}
	o := fds.resolved(e.pid, a[0], unquote(a[1]), true)
	if o == nil {
		return false
	}
	for _, env := range p.Environments {
		for _, st := range env.Steps {
			var root, target, beneath string
			switch op := st.Op.(type) {
			case planner.Mount:
				if op.Create == "" || !op.InRoot {
					continue
				}
				root, target, beneath = op.Root, op.Target, op.Beneath
				if op.Create == "file" {
					target = path.Dir(target)
				}
			case planner.MakeCwd:
				root, target, beneath = op.Root, op.Path, op.Below
			default:
				continue
			}
			for t := path.Clean(target); t != "/" && t != path.Clean(beneath); t = path.Dir(t) {
				if fds.inRoot(e.pid, o, root, t, beneath) {
					return true
				}
			}
		}
	}
	return false
}

// overlays says whether a step of p is an Overlay, of a host tree's
// clone if hostTree.
func overlays(p *planner.Plan, hostTree bool) bool {
	for _, env := range p.Environments {
		for _, st := range env.Steps {
			if op, ok := st.Op.(planner.Overlay); ok && (op.HostTree || !hostTree) {
				return true
			}
		}
	}
	return false
}
