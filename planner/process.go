package planner

// The process tree: what init starts (or the child stage forks, or, with
// init: false, becomes), each process's environment, identity, limits and
// resolved command.

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/nsup/nsup/spec"
)

// DefaultPath is the PATH of an environment whose spec does not set one.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// InitName is the name (comm, as ps shows it) of nsup's init.
const InitName = "nsup-init"

// DefaultStopTimeout is the grace period between SIGTERM and SIGKILL, in ms.
const DefaultStopTimeout = 10_000

// init plans the process tree. With init: false the child stage becomes
// the main process; for one process in the foreground, in a pid namespace
// of its own, the child stage forks it and stays as its PID 1 (Monitor);
// otherwise nsup's init, which the child stage executed, starts every
// process (Spawn), each after its parent.
func (ec *envCompiler) init() {
	e := ec.e
	if !e.InitEnabled() {
		p := e.Process[0]
		if p.Restart != nil {
			ec.errorf(p.Restart.Pos, ec.field+".processes[0].restart", "a restart policy needs nsup's init, which restarts the process: remove init: false")
		}
		if p.Healthcheck != nil {
			ec.errorf(p.Healthcheck.Pos, ec.field+".processes[0].healthcheck", "a healthcheck needs nsup's init, which runs it: remove init: false")
		}
		if len(e.Process) != 1 || len(e.Process[0].Children) > 0 {
			ec.errorf(e.Init.Pos, ec.field+".init", "init: false runs exactly one process (it becomes PID 1); the spec declares more, which need nsup's init")
			// Every process is still checked, as init would run them:
			// what else is wrong comes with this, not once it is fixed.
			ec.spawnTree()
			return
		}
		// The child stage leads a session of its own already (Setsid):
		// the pty becomes its controlling terminal, and so the main
		// process's.
		// Its stop_timeout is nsup's to apply: no init is there to.
		pp := ec.resolve(p, ec.field+".processes[0]")
		pp.bare = true
		ec.proc(p, pp, false, ec.terminal, ec.label(p.Name))
		return
	}
	if !ec.goInit() {
		p := e.Process[0]
		pp := ec.resolve(p, ec.field+".processes[0]")
		ec.add(Child, p.Pos, Monitor{Process: p.Name, StopTimeout: pp.stopTimeout})
		ec.proc(p, pp, ec.terminal, ec.terminal, "")
		return
	}
	ec.spawnTree()
}

// spawnTree plans nsup's init's start of every process, each after its
// parent.
func (ec *envCompiler) spawnTree() {
	e := ec.e
	var mainUID, mainGID uint32
	var walk func(ps []*spec.Process, parent, field string)
	walk = func(ps []*spec.Process, parent, field string) {
		for i, p := range ps {
			f := fmt.Sprintf("%s[%d]", field, i)
			pp := ec.resolve(p, f)
			main := parent == "" && i == 0
			if main {
				mainUID, mainGID = pp.uid, pp.gid
			}
			sp := Spawn{Process: p.Name, Parent: parent, Main: main, StopTimeout: pp.stopTimeout, Output: ec.label(p.Name)}
			// The terminal is the main process's (its controlling
			// terminal): a process of another user that shared it would
			// read what is typed for the main process, or run as its own
			// user what the main process types in with TIOCSTI (a
			// review's user 1000 made root's child run its commands so).
			sp.NoTerminal = ec.terminal && !main && (pp.uid != mainUID || pp.gid != mainGID)
			if r := p.Restart; r != nil {
				sp.Restart = &RestartPolicy{Policy: r.Policy, Max: r.Max}
			}
			if h := p.Healthcheck; h != nil {
				sp.Healthcheck = &Healthcheck{Argv: h.Command, IntervalMs: h.Interval.Milliseconds(), TimeoutMs: h.Timeout.Milliseconds(),
					Retries: h.Retries, StartPeriodMs: h.StartPeriod.Milliseconds()}
				// Looked up as the process's own command is, in its PATH
				// from its working directory.
				sp.Healthcheck.Path = ec.lookPath(h.Command[0], pp, p, f+".healthcheck")
			}
			ec.add(Init, p.Pos, sp)
			// The main process with a terminal of its own leads a session
			// whose controlling terminal it is.
			ec.proc(p, pp, main && ec.terminal, main && ec.terminal, "")
			walk(p.Children, p.Name, f+".children")
		}
	}
	walk(e.Process, "", ec.field+".processes")
}

// goInit says whether nsup's init runs as PID 1 of the environment: for a
// process tree, prefixed output, a detached environment (whose init
// serves nsup exec and records the exit status) or outside a pid
// namespace of its own (where init is the tree's child subreaper). Not
// with init: false, nor for one process in the foreground, whose PID 1
// is the child stage itself (Monitor): that saves a second start of a Go
// runtime and its memory (docs: "Performance").
func (ec *envCompiler) goInit() bool {
	e := ec.e
	if !e.InitEnabled() {
		return false
	}
	if ec.stateDir != "" || !ec.isNew(spec.NSPID) || len(e.Process) != 1 || len(e.Process[0].Children) > 0 {
		return true
	}
	// A restart policy or a healthcheck is init's to carry out.
	if p := e.Process[0]; p.Restart != nil || p.Healthcheck != nil {
		return true
	}
	return ec.label(e.Process[0].Name) != ""
}

// proc plans the steps of a new process between its fork and its execve,
// in this order: its limits while it is still root of the stage (raising
// one needs a capability that setresuid may drop); with a terminal, a
// session of its own (setsid) whose controlling terminal is fd 0; its
// ids (its supplementary groups are none: the child stage dropped nsup's,
// where setgroups(2) is allowed); its parent-death signal, which a change of credentials
// clears (prctl(2)), so that it never outlives its parent (nsup for
// init: false, init otherwise); its working directory; its RLIMIT_NOFILE
// (nofileLast); the execve.
func (ec *envCompiler) proc(p *spec.Process, pp procPlan, setsid, ctty bool, output string) {
	first, last := ec.nofileLast(pp.rlimits)
	for _, r := range first {
		ec.add(Proc, ec.limitPos(p, r.Resource), r)
	}
	if setsid {
		ec.add(Proc, p.Pos, Setsid{})
	}
	if ctty {
		ec.add(Proc, p.Pos, Setctty{})
	}
	ec.add(Proc, p.Pos, Setresgid{GID: pp.gid})
	ec.add(Proc, p.Pos, Setresuid{UID: pp.uid})
	ec.add(Proc, p.Pos, Prctl{Option: prSetPdeathsig, Arg: 9})
	ec.add(Proc, cwdAt(ec.e, p), Chdir{Path: pp.cwd})
	for _, r := range last {
		ec.add(Proc, ec.limitPos(p, r.Resource), r)
	}
	ex := Execve{Path: pp.path, Argv: p.Command, Env: pp.env, Output: output}
	if pp.bare {
		ex.StopTimeout = &pp.stopTimeout
	}
	ec.add(Proc, commandAt(p, ""), ex)
}

func walkProcs(ps []*spec.Process, fn func(p *spec.Process, parent string)) {
	var walk func(ps []*spec.Process, parent string)
	walk = func(ps []*spec.Process, parent string) {
		for _, p := range ps {
			fn(p, parent)
			walk(p.Children, p.Name)
		}
	}
	walk(ps, "")
}

// procPlan is one process, resolved.
type procPlan struct {
	env         []string
	cwd, path   string
	uid, gid    uint32
	stopTimeout int64
	rlimits     []Prlimit
	// bare: the main process of an init: false environment, whose
	// stop_timeout nsup applies (Execve.StopTimeout).
	bare bool
}

// resolve resolves one process: its environment (the spec's, then the
// process's on top; PATH defaults when neither sets it), identity, working
// directory, limits, and argv[0] looked up in PATH inside the rootfs.
func (ec *envCompiler) resolve(p *spec.Process, field string) procPlan {
	e := ec.e
	pp := procPlan{env: mergeEnv(e.Env, p.Env), cwd: "/", stopTimeout: DefaultStopTimeout}
	if p.StopTimeout != nil {
		pp.stopTimeout = p.StopTimeout.Value.Milliseconds()
	}
	if e.Cwd != nil {
		pp.cwd = e.Cwd.Value
	}
	if p.Cwd != nil {
		pp.cwd = p.Cwd.Value
	}
	if u := e.User; u != nil {
		pp.uid, pp.gid = u.UID, u.GID
	}
	upos := e.Pos
	if u := e.User; u != nil {
		upos = u.Pos
	}
	if u := p.User; u != nil {
		pp.uid, pp.gid = u.UID, u.GID
		upos = u.Pos
	}
	// HOME, when the spec sets none: the user's, as the environment's
	// /etc/passwd gives it (its own, or nsup's lines added to it).
	if !hasEnv(pp.env, "HOME") {
		if id := ec.identityOf(); id != nil {
			if h, ok := id.home[pp.uid]; ok && h != "" {
				pp.env = append(pp.env, "HOME="+h)
			}
		}
	}
	// TERM, when the environment gets a terminal and the spec sets none:
	// the caller's, whose terminal nsup relays.
	if ec.terminal && ec.opts.Term != "" && !hasEnv(pp.env, "TERM") {
		pp.env = append(pp.env, "TERM="+ec.opts.Term)
	}
	pp.rlimits = ec.processLimits(p, field)
	// In a new user namespace only mapped ids exist: setresuid(2) of
	// another fails with EINVAL.
	if ec.mapsKnown() && (!mapped(ec.uidMap, pp.uid) || !mapped(ec.gidMap, pp.gid)) {
		ufield := field + ".user"
		if p.User == nil {
			ufield = ec.field + ".user"
		}
		ec.errorf(upos, ufield, "%d:%d is not mapped in the new user namespace (uid map %q, gid map %q): add it to idmap",
			pp.uid, pp.gid, strings.TrimSpace(MapText(mapLines(ec.uidMap))), strings.TrimSpace(MapText(mapLines(ec.gidMap))))
	}
	pp.path = ec.lookPath(p.Command[0], pp, p, field)
	ec.cwdReach(p, pp, field)
	return pp
}

// MergeEnv is a process's clean environment, nothing from the host: the
// environment's variables (base), the process's over them (each in the
// place its name first had), PATH first with DefaultPath when neither
// sets it. The OCI and Kubernetes exports read it too.
func MergeEnv(base, over []spec.EnvVar) []spec.EnvVar {
	var out []spec.EnvVar
	at := map[string]int{}
	for _, vs := range [][]spec.EnvVar{base, over} {
		for _, v := range vs {
			if i, ok := at[v.Name]; ok {
				out[i] = v
				continue
			}
			at[v.Name] = len(out)
			out = append(out, v)
		}
	}
	if _, ok := at["PATH"]; !ok {
		out = append([]spec.EnvVar{{Name: "PATH", Value: DefaultPath}}, out...)
	}
	return out
}

// mergeEnv is MergeEnv as execve takes it: NAME=VALUE.
func mergeEnv(base, over []spec.EnvVar) []string {
	vars := MergeEnv(base, over)
	out := make([]string, len(vars))
	for i, v := range vars {
		out[i] = v.Name + "=" + v.Value
	}
	return out
}

// lookPath finds argv[0] inside the rootfs. It is resolved at plan time
// when the tree is known (closure, dir, a tar root's shape: tarshape.go),
// so the plan shows the exact execve; a tar tree whose shape is not
// known is looked up when the process starts, by the same LookPath. A
// candidate that is no executable file, or one the process's user may
// not execute (procreach.go), is passed over, as execvp(3) passes over
// one that fails with EACCES; when no candidate is left, the error says
// why the first such one is not the command (helper-151's trial: a 0644
// command was "not found").
func (ec *envCompiler) lookPath(name string, pp procPlan, p *spec.Process, field string) string {
	env, cwd := pp.env, pp.cwd
	base := ec.baseView()
	if base == nil {
		return ""
	}
	cred, checked := ec.credOf(pp)
	notFound := func(why string) {
		if why != "" {
			ec.errorf(commandAt(p, field), field+".command[0]", "%q is not a command the process may run (PATH=%s): %s", name, EnvPath(env), why)
			return
		}
		ec.errorf(commandAt(p, field), field+".command[0]", "%q not found in the rootfs nor in its mounts (PATH=%s): bind the host folder that has it (mounts, or rootfs.host), or give its path", name, EnvPath(env))
	}
	mounts := ec.viewMounts()
	key := ""
	if ec.tree == nil && len(mounts) == 0 {
		// A dir root without mounts: environments of one file often
		// share a root and a command, looked up once.
		key = ec.root + "\x00" + name + "\x00" + EnvPath(env) + "\x00" + cwd + "\x00" + fmt.Sprint(checked, cred)
		ec.mu.Lock()
		l, seen := ec.lookups[key]
		ec.mu.Unlock()
		if seen {
			if !l.ok {
				notFound(l.why)
			}
			return l.path
		}
	}
	// The tree as the process will see it: the root and its mounts, in
	// their order (a command in a bound folder is found).
	t, origin := mountedView(base, mounts, &ec.stats)
	var land []string
	var from, why string
	found, ok := LookPath(name, env, cwd, func(c string) bool {
		f, ok := resolveIn(t, c)
		switch {
		case !ok:
			return false
		case f.Type == "dir":
			if why == "" {
				why = fmt.Sprintf("%s is a folder, not a file to execute; give the command's own path", c)
			}
			return false
		case f.Type != "file":
			return false
		case f.Mode&0o111 == 0:
			if why == "" {
				why = fmt.Sprintf("%s is not executable (mode %04o, no execute bit): its execve would fail (permission denied); chmod +x it, or give the command that runs it (an interpreter)", c, f.Mode&0o7777)
			}
			return false
		}
		if checked {
			if land == nil {
				land = ec.landings()
			}
			if w := ec.execDenied(t, land, cred, c); w != "" {
				if why == "" {
					why = w
				}
				return false
			}
		}
		from = origin(resolvedPath(t, c))
		return true
	})
	if ok && from != "" {
		ec.notes = append(ec.notes, fmt.Sprintf("%s.command[0]: %s is in %s's bound folder, the host's, as it is when the process starts", field, found, from))
	}
	if key != "" {
		ec.mu.Lock()
		if ec.lookups == nil {
			ec.lookups = map[string]lookup{}
		}
		ec.lookups[key] = lookup{found, ok, why}
		ec.mu.Unlock()
	}
	if !ok {
		notFound(why)
	}
	return found
}

// lookup is a command looked up in a tree.
type lookup struct {
	path string
	ok   bool
	why  string // why no candidate was taken, "" for none found
}

// EnvPath is the PATH of a process's environment (env as planned:
// mergeEnv always sets one).
func EnvPath(env []string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			return v
		}
	}
	return DefaultPath
}

// LookPath finds argv[0] as execvp(3) does: a name with a slash is that
// path (relative to cwd), any other is looked up in each folder of env's
// PATH in turn (an empty one is cwd). isExec says whether a path is an
// executable regular file, in whatever tree is asked: the planner asks the
// rootfs it knows (closure, dir), the child stage and init the root they
// run in (a tar tree, unknown at plan time).
func LookPath(name string, env []string, cwd string, isExec func(path string) bool) (string, bool) {
	if name == "" {
		return "", false
	}
	var cands []string
	if strings.Contains(name, "/") {
		cands = []string{path.Join(cwd, name)}
		if path.IsAbs(name) {
			cands = []string{path.Clean(name)}
		}
	} else {
		for _, d := range filepath.SplitList(EnvPath(env)) {
			if d == "" {
				d = "."
			}
			cands = append(cands, path.Join(cwd, d, name))
			if path.IsAbs(d) {
				cands[len(cands)-1] = path.Join(d, name)
			}
		}
	}
	for _, c := range cands {
		if isExec(c) {
			return c, true
		}
	}
	return "", false
}

// hasEnv says whether env sets name.
func hasEnv(env []string, name string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, name+"=") {
			return true
		}
	}
	return false
}
