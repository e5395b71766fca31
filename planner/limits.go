package planner

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/nsup/nsup/planner/cgroup"
	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// hostLayout is the host's cgroup layout, read once per process.
func (c *compiler) hostLayout() (*cgroup.Layout, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.layoutRead {
		c.layoutRead = true
		if c.opts.Cgroups != nil {
			c.layout, c.layoutErr = c.opts.Cgroups()
		} else {
			c.layout, c.layoutErr = cgroup.Host()
			if c.layoutErr == nil {
				if parent := os.Getenv(cgroup.ParentEnv); parent != "" {
					c.layout = c.layout.Clone()
					c.parentErr = c.layout.SetParent(parent)
				}
			}
		}
	}
	return c.layout, c.layoutErr
}

// hostMounts are the host's visible mounts: the cgroup layout's read of
// the mount table, or (where it could not be read) a read of its own.
// The latter is read once per plan too: every bind and root asks it.
func (c *compiler) hostMounts() ([]cgroup.Mount, error) {
	if l, err := c.hostLayout(); err == nil {
		return l.Mounts, nil
	}
	c.ownMountsOnce.Do(func() {
		b, err := os.ReadFile("/proc/self/mountinfo")
		c.ownMounts, c.ownMountsErr = cgroup.Mounts(b), err
		cgroup.AddBacking(os.DirFS("/"), c.ownMounts)
	})
	return c.ownMounts, c.ownMountsErr
}

// cgroups plans the environment's groups (planner/cgroup decides where):
// each made and its limits written before the clone; the child born in
// the unified one (the Clone's Cgroup) and in each v1 one (the creating
// thread joins them first: CgroupJoin). It returns those, and nsup's own
// groups in those v1 hierarchies (where the thread goes back). Rootless,
// only where the caller may write every file that takes (a group
// delegated to the user, as NSUP_CGROUP_PARENT): else a spec with limits
// is refused, one without gets no group (and so no pids limit), which
// the plan notes.
func (ec *envCompiler) cgroups() (unified string, v1, back []string) {
	e := ec.e
	field := ec.field + ".limits"
	layout, err := ec.compiler.hostLayout()
	if ec.compiler.parentErr != nil {
		// Asked for, and wrong: never left out quietly.
		ec.errorf(e.Pos, ec.field, "%v", ec.compiler.parentErr)
		return "", nil, nil
	}
	if err != nil {
		if e.Limits != nil {
			ec.errorf(e.Limits.Pos, field, "this host's cgroups cannot be read: %v", err)
		} else {
			ec.notes = append(ec.notes, fmt.Sprintf("no cgroup of its own, so no pids limit: this host's cgroups cannot be read: %v", err))
		}
		return "", nil, nil
	}
	lim, pos, defaultPids := ec.limits()
	// One in the foreground may run in several nsup at once, each with a
	// group of its own: ENV.PID, nsup's pid ($NSUP) when it applies; a
	// detached one is its state directory's (one of a name there):
	// ENV.sHASH (a dot: no environment name has one).
	stateDir := ""
	if ec.stateDir != "" {
		stateDir = ec.compiler.projectDir // the project's folder, not the environment's in it
	}
	name := GroupName(e.Name, stateDir)
	groups, writes, err := layout.Place(name, lim)
	// What a rootless caller may not write of a placement, "" if nothing
	// (or root).
	denied := func(g []cgroup.Group, w []cgroup.Write, err error) string {
		if ec.caller.Privileged || err != nil {
			return ""
		}
		return ec.rootlessCgroups(layout, g, w)
	}
	why := denied(groups, writes, err)
	var nc *cgroup.NoController
	var np *cgroup.NoParent
	if defaultPids && lim.Pids != 0 {
		// The default limit where it cannot be: noted, not refused.
		nopids := lim
		nopids.Pids = 0
		note := ""
		switch {
		case errors.As(err, &nc) && nc.Controller == cgroup.Pids, errors.As(err, &np) && np.Controller == cgroup.Pids:
			note = err.Error()
		case why != "":
			// Rootless, a pids group the user may not write (a v1 one)
			// is left out if that is what stands in the way.
			if g, w, err := layout.Place(name, nopids); err == nil && denied(g, w, nil) == "" {
				note = "rootless: " + why
			}
		}
		if note != "" {
			ec.notes = append(ec.notes, fmt.Sprintf("no pids limit (the default is %d): %s", spec.DefaultPids, note))
			lim = nopids
			groups, writes, err = layout.Place(name, lim)
			why = denied(groups, writes, err)
		}
	}
	keys := map[string]string{cgroup.Memory: "memory", cgroup.Pids: "pids", cgroup.CPU: "cpu", cgroup.IO: "io_weight"}
	if errors.As(err, &nc) {
		ec.errorf(pos[nc.Controller], field+"."+keys[nc.Controller], "%v", err)
		return "", nil, nil
	}
	if errors.As(err, &np) {
		if p, ok := pos[np.Controller]; ok && np.Controller != "" && e.Limits != nil {
			ec.errorf(p, field+"."+keys[np.Controller], "%v", err)
		} else {
			ec.errorf(e.Pos, ec.field, "%v", err)
		}
		return "", nil, nil
	}
	if err != nil {
		ec.errorf(e.Pos, field, "%v", err)
		return "", nil, nil
	}
	if why != "" {
		if e.Limits != nil {
			ec.errorf(e.Limits.Pos, field, "rootless (nsup runs without CAP_SYS_ADMIN): %s; or run nsup as root, or remove limits", why)
		} else {
			ec.notes = append(ec.notes, fmt.Sprintf("rootless: no cgroup of its own, so no pids limit (%s)", why))
		}
		return "", nil, nil
	}
	for _, g := range groups {
		ec.notes = append(ec.notes, g.Notes...)
		ec.add(Host, e.Pos, CgroupMkdir{Path: g.Dir})
		if g.Unified {
			unified = g.Dir
		} else {
			v1 = append(v1, g.Dir)
			back = append(back, g.Home)
		}
	}
	for _, w := range writes {
		p, ok := pos[w.Controller]
		if !ok {
			p = e.Pos
		}
		op := CgroupWrite{Path: w.Path, Value: w.Value}
		if l := e.Limits; l != nil && l.Memory != nil && (path.Base(w.Path) == "memory.max" || path.Base(w.Path) == "memory.limit_in_bytes") {
			op.Limit = "limits.memory " + l.Memory.Text
		}
		ec.add(Host, p, op)
	}
	return unified, v1, back
}

// rootlessCgroups says what an unprivileged caller may not write of what
// groups take, and what to do about it, "" if nothing: each group's
// folder; the files written outside the groups (a parent's
// cgroup.subtree_control); in a v1 hierarchy, the tasks files the
// creating thread moves through; in the unified one, the cgroup.procs
// of the group that holds both nsup's and the new group (the kernel's
// rule for a move between groups of a delegated subtree, which
// CLONE_INTO_CGROUP is).
func (ec *envCompiler) rootlessCgroups(l *cgroup.Layout, groups []cgroup.Group, writes []cgroup.Write) string {
	w := ec.caller.CgroupWritable
	if w == nil {
		w = func(string) bool { return false }
	}
	parent := "set " + cgroup.ParentEnv + " to a group of yours (under systemd, one in your user@UID.service)"
	for _, g := range groups {
		if !w(path.Dir(g.Dir)) {
			return "it may not make groups in " + path.Dir(g.Dir) + ": " + parent
		}
		if g.Unified {
			u := l.Unified
			common := u.Dir(commonGroup(u.Group, path.Join(u.Base, "nsup")))
			if f := path.Join(common, "cgroup.procs"); !w(f) {
				return "it may not move a process from its own group (" + u.Group + ") to " + path.Dir(g.Dir) + ", as " + f + " is not its: run nsup itself in the subtree delegated to you (under systemd: systemd-run --user --scope nsup ...)"
			}
			continue
		}
		if f := path.Join(g.Home, "tasks"); !w(f) {
			return "it may not move its thread through the v1 groups (" + f + " is not its): " + parent + " on cgroup v2"
		}
	}
	for _, wr := range writes {
		inside := false
		for _, g := range groups {
			inside = inside || strings.HasPrefix(wr.Path, path.Dir(g.Dir)+"/")
		}
		if !inside && !w(wr.Path) {
			return "it may not write " + wr.Path + " (" + wr.Value + "): have it written, or choose a parent that hands the controller down already"
		}
	}
	return ""
}

// commonGroup is the nearest group that holds both a and b.
func commonGroup(a, b string) string {
	for !(b == a || strings.HasPrefix(b, strings.TrimSuffix(a, "/")+"/")) {
		a = path.Dir(a)
	}
	return a
}

// limits are the environment's limits in the kernel's units, where each
// controller's come from in the spec, and whether the pids limit is the
// default.
func (ec *envCompiler) limits() (cgroup.Limits, map[string]spec.Pos, bool) {
	e := ec.e
	lim := cgroup.Limits{Pids: spec.DefaultPids}
	pos := map[string]spec.Pos{cgroup.Pids: e.Pos}
	l := e.Limits
	if l == nil {
		return lim, pos, true
	}
	at := func(c string, v *spec.Limit) {
		if _, ok := pos[c]; !ok || c == cgroup.Pids {
			pos[c] = v.Pos
		}
	}
	if v := l.Memory; v != nil {
		lim.Memory = v.N
		at(cgroup.Memory, v)
	}
	if v := l.MemorySwap; v != nil {
		lim.MemorySwap = v.N
		at(cgroup.Memory, v)
	}
	defaultPids := l.Pids == nil
	if v := l.Pids; v != nil {
		lim.Pids = v.N
		at(cgroup.Pids, v)
	}
	if v := l.CPU; v != nil {
		lim.CPU = v.Cores
		at(cgroup.CPU, v)
		if n := runtime.NumCPU(); v.Cores > float64(n) {
			ec.errorf(v.Pos, ec.field+".limits.cpu", "%s CPUs, but this host has %d", v.Text, n)
		}
	}
	if v := l.CPUWeight; v != nil {
		lim.CPUWeight = uint64(v.N)
		at(cgroup.CPU, v)
	}
	if v := l.IOWeight; v != nil {
		lim.IOWeight = uint64(v.N)
		at(cgroup.IO, v)
	}
	return lim, pos, defaultPids
}

// NsupPid stands for the pid of the nsup that applies the plan, in the
// paths of a foreground environment's groups.
const NsupPid = "$NSUP"

// GroupName is the name of an environment's groups: ENV.$NSUP in the
// foreground (stateDir ""), ENV.sHASH when detached, HASH naming the state
// directory, so that environments of one name in two state directories
// (two users' NSUP_STATE_DIR, two test runs) never share a group.
func GroupName(env, stateDir string) string {
	if stateDir == "" {
		return env + "." + NsupPid
	}
	return env + "." + StateTag(stateDir)
}

// StateTag is "s" and the first 8 hex digits of the SHA-256 of a state
// directory's path.
func StateTag(stateDir string) string {
	sum := sha256.Sum256([]byte(filepath.Clean(stateDir)))
	return "s" + hex.EncodeToString(sum[:4])
}

// nofileLast splits a process's limits: those set first, while it is
// still root of the stage, and RLIMIT_NOFILE's, set last, after its
// chdir and before its execve. Between the fork and the execve the
// process holds its parent's fds (nsup init's, or the child stage's) and
// opens more (the chdir opens the working directory, openat2(2), the
// lowest free fd); a RLIMIT_NOFILE set first below the lowest free fd
// failed that chdir (EMFILE). Set last, nothing of apply's opens an fd
// after it: the execve closes every fd but the process's own and the
// report pipe, and opens none. A hard limit above the caller's (which
// the process has, inherited) needs CAP_SYS_RESOURCE, which setresuid
// may drop: it is raised first too, soft and hard, and the soft limit
// set last.
func (ec *envCompiler) nofileLast(rs []Prlimit) (first, last []Prlimit) {
	for _, r := range rs {
		if r.Resource != unix.RLIMIT_NOFILE {
			first = append(first, r)
			continue
		}
		if r.Hard > ec.caller.hardLimit("nofile") {
			first = append(first, Prlimit{Resource: r.Resource, Soft: r.Hard, Hard: r.Hard})
		}
		last = append(last, r)
	}
	return first, last
}
