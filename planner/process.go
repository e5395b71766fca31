package planner

// The process tree: what init starts (or, with init: false, what the child stage becomes), each process's environment, identity, limits and resolved command.

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

// init plans the process tree: with init, PID 1 starts every process; without,
// the child becomes the main process.
func (ec *envCompiler) init() {
	e := ec.e
	if !e.InitEnabled() {
		if len(e.Process) != 1 || len(e.Process[0].Children) > 0 {
			ec.errorf(e.Init.Pos, ec.field+".init", "init: false runs exactly one process (it becomes PID 1); the spec declares more, which need nsup's init")
			return
		}
		p := e.Process[0]
		st := ec.start(p, "", ec.field+".processes[0]")
		// Its limits first, while it is still root of the stage: a
		// capability to raise one is gone after setresuid.
		for _, r := range st.Rlimits {
			ec.add(Init, ec.limitPos(p, r.Resource), r)
		}
		if !ec.denySetgroups {
			ec.add(Init, p.Pos, Setgroups{Groups: []uint32{}})
		}
		ec.add(Init, p.Pos, Setresgid{GID: st.GID})
		ec.add(Init, p.Pos, Setresuid{UID: st.UID})
		// A change of credentials clears the parent-death signal
		// (prctl(2)): set it again, or the main process would outlive a
		// kill -9 of nsup.
		ec.add(Init, p.Pos, Prctl{Option: prSetPdeathsig, Arg: 9})
		if ec.terminal {
			// The stage leads a session of its own (Setsid): the pty
			// becomes its controlling terminal, and the main process's.
			ec.add(Init, p.Pos, Setctty{})
		}
		ec.add(Init, p.Pos, Chdir{Path: st.Cwd})
		ec.add(Init, p.Pos, Execve{Path: st.Path, Argv: st.Argv, Env: st.Env, Output: ec.label(p.Name)})
		return
	}
	var walk func(ps []*spec.Process, parent, field string)
	walk = func(ps []*spec.Process, parent, field string) {
		for i, p := range ps {
			f := fmt.Sprintf("%s[%d]", field, i)
			st := ec.start(p, parent, f)
			st.Main = parent == "" && i == 0
			st.Terminal = st.Main && ec.terminal
			ec.add(Init, p.Pos, st)
			walk(p.Children, p.Name, f+".children")
		}
	}
	walk(e.Process, "", ec.field+".processes")
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

// start resolves one process: its environment (the spec's, then the
// process's on top; PATH defaults when neither sets it), identity, working
// directory, and argv[0] looked up in PATH inside the rootfs.
func (ec *envCompiler) start(p *spec.Process, parent, field string) Start {
	e := ec.e
	env := mergeEnv(e.Env, p.Env)
	st := Start{Process: p.Name, Parent: parent, Argv: p.Command, Env: env, Cwd: "/", StopTimeout: DefaultStopTimeout,
		Output: ec.label(p.Name)}
	if p.StopTimeout != nil {
		st.StopTimeout = p.StopTimeout.Value.Milliseconds()
	}
	if e.Cwd != nil {
		st.Cwd = e.Cwd.Value
	}
	if p.Cwd != nil {
		st.Cwd = p.Cwd.Value
	}
	if u := e.User; u != nil {
		st.UID, st.GID = u.UID, u.GID
	}
	upos := e.Pos
	if u := e.User; u != nil {
		upos = u.Pos
	}
	if u := p.User; u != nil {
		st.UID, st.GID = u.UID, u.GID
		upos = u.Pos
	}
	st.NoSetgroups = ec.denySetgroups
	st.Rlimits = ec.processLimits(p, field)
	// In a new user namespace only mapped ids exist: setresuid(2) of
	// another fails with EINVAL.
	if ec.isNew(spec.NSUser) && (!mapped(ec.uidMap, st.UID) || !mapped(ec.gidMap, st.GID)) {
		ufield := field + ".user"
		if p.User == nil {
			ufield = ec.field + ".user"
		}
		ec.errorf(upos, ufield, "%d:%d is not mapped in the new user namespace (uid map %q, gid map %q): add it to idmap",
			st.UID, st.GID, strings.TrimSpace(MapText(mapLines(ec.uidMap))), strings.TrimSpace(MapText(mapLines(ec.gidMap))))
	}
	st.Path = ec.lookPath(p.Command[0], env, st.Cwd, p, field)
	return st
}

// mergeEnv builds the clean environment: nothing from the host.
func mergeEnv(base, over []spec.EnvVar) []string {
	var names []string
	vals := map[string]string{}
	for _, vs := range [][]spec.EnvVar{base, over} {
		for _, v := range vs {
			if _, ok := vals[v.Name]; !ok {
				names = append(names, v.Name)
			}
			vals[v.Name] = v.Value
		}
	}
	if _, ok := vals["PATH"]; !ok {
		names = append([]string{"PATH"}, names...)
		vals["PATH"] = DefaultPath
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n + "=" + vals[n]
	}
	return out
}

// lookPath finds argv[0] inside the rootfs. It is resolved at plan time
// when the tree is known (closure, dir), so the plan shows the exact
// execve; a tar tree is looked up when the process starts, by the same
// LookPath.
func (ec *envCompiler) lookPath(name string, env []string, cwd string, p *spec.Process, field string) string {
	var t treeView
	switch {
	case ec.tree != nil:
		t = mapTree(ec.tree)
	case ec.e.Rootfs.Dir != "":
		t = dirTree(ec.root)
	default:
		return ""
	}
	found, ok := LookPath(name, env, cwd, func(c string) bool {
		f, ok := resolveIn(t, c)
		return ok && f.Type == "file" && f.Mode&0o111 != 0
	})
	if !ok {
		ec.errorf(p.Pos, field+".command[0]", "%q not found in the rootfs (PATH=%s)", name, EnvPath(env))
	}
	return found
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
