package main

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// The strace test's matchers of the id maps nsup does not write itself:
// a UIDMap or GIDMap step's through its helper (newuidmap, newgidmap:
// rootless, a map of more than the caller's own id), and the maps of a
// pod's holder with a user namespace, which Go's os/exec writes.

// mapHelpers are the helpers of p's UIDMap and GIDMap steps (relevant
// keeps what they open and write).
func mapHelpers(p *planner.Plan) []string {
	var out []string
	for _, e := range p.Environments {
		for _, st := range e.Steps {
			h := ""
			switch op := st.Op.(type) {
			case planner.UIDMap:
				h = op.Helper
			case planner.GIDMap:
				h = op.Helper
			}
			if h != "" && !slices.Contains(out, h) {
				out = append(out, h)
			}
		}
	}
	return out
}

// helperKept says whether relevant keeps a call of an id map's helper
// after its execve: an fd call (followed: the map's file), a write (its
// map's, checked; to a pipe, its own), a process made or a program
// executed (no step's: they fail the trace).
func helperKept(e event) bool {
	return isFdCall(e.name) || e.name == "write" || isFork(e.name) || e.name == "execve" || e.name == "execveat"
}

// helperKey is the fds.born key of the helper writing env's map file
// (uid_map, gid_map).
func helperKey(env, file string) string { return "helper " + file + ":" + env }

// helperMapSteps are the calls of a UIDMap or GIDMap step through its
// helper, file its map (uid_map, gid_map): a fork by a thread of nsup's
// host process (os/exec's); the child's execve of the plan's helper with
// $CHILD's pid and the plan's lines as its arguments ("HELPER PID INSIDE
// OUTSIDE COUNT ...") and an empty environment; and the helper's write
// of the plan's lines, whole, to $CHILD's file: opened from /proc/$CHILD's
// fd (shadow's write_mapping) or by its path. ownCalls allows the
// child's calls of os/exec's before its execve (helper).
func helperMapSteps(env, file, helper string, lines []planner.IDMapLine, host map[int]bool, fds *fdState) []func(event) bool {
	who := helperKey(env, file)
	fork := func(e event) bool {
		ok := host[e.pid] && isFork(e.name) && nsFlags(e.args) == "0" && !strings.Contains(e.args, "CLONE_THREAD") && childPid(e.ret) > 0
		if ok {
			fds.born[who] = childPid(e.ret)
		}
		return ok
	}
	exec := func(e event) bool {
		c := fds.born["env:"+env]
		if c <= 0 || e.pid != fds.born[who] {
			return false
		}
		argv := []string{helper, strconv.Itoa(c)}
		for _, l := range lines {
			argv = append(argv, strconv.FormatUint(uint64(l.Inside), 10), strconv.FormatUint(uint64(l.Outside), 10), strconv.FormatUint(uint64(l.Count), 10))
		}
		return withEnv(execMatch(helper, argv), 2, []string{})(e)
	}
	write := func(e event) bool {
		c := fds.born["env:"+env]
		if c <= 0 || e.pid != fds.born[who] {
			return false
		}
		o, d, ok := writeOf(fds, e)
		return ok && d == planner.MapText(lines) && mapFile(o, c, file)
	}
	return []func(event) bool{fork, exec, write}
}

// mapFile says whether o is /proc/PID/FILE of process pid: opened by its
// path, or by its name alone from the fd of /proc/PID opened by its path.
func mapFile(o *fdObj, pid int, file string) bool {
	dir := "/proc/" + strconv.Itoa(pid)
	switch {
	case o == nil:
		return false
	case o.kind == fdHost:
		return o.where == dir+"/"+file
	case o.kind == fdPath:
		return o.rel == file && o.anchor != nil && o.anchor.kind == fdHost && o.anchor.where == dir
	}
	return false
}

// holderMapSteps are the maps of a pod's holder with a user namespace,
// written by os/exec (syscall's writeUidGidMappings) in nsup's host
// process once the holder exists and before it goes on: its uid_map,
// then setgroups ("deny" where the plan denies it; else "allow", which
// os/exec writes with every gid map and which is what a user namespace
// made by a privileged process starts with), then its gid_map, each
// whole, to the holder's own files.
func holderMapSteps(op planner.Hold, host map[int]bool, fds *fdState) []func(event) bool {
	if op.Types&unix.CLONE_NEWUSER == 0 {
		return nil
	}
	to := func(name, data string) func(event) bool {
		file := func(_ int, f string) bool {
			c := fds.born["pod:"+op.Pod]
			return c > 0 && f == "/proc/"+strconv.Itoa(c)+"/"+name
		}
		w := writeStep(fds, file, data)
		return func(e event) bool { return host[e.pid] && w(e) }
	}
	setgroups := "allow"
	if op.DenySetgroups {
		setgroups = "deny"
	}
	return []func(event) bool{to("uid_map", planner.MapText(op.UIDMap)), to("setgroups", setgroups), to("gid_map", planner.MapText(op.GIDMap))}
}

// What alterSteps alters of the id maps written (nsup's, a helper's, a
// holder's by os/exec), where the plan has maps.
const (
	altMapValue   = "an id map's value"
	altMapProcess = "an id map's process"
	altHelperPid  = "a helper's pid argument"
)

// mapAlts are the plan's maps' lines, quoted as strace prints a write of
// them, and its helpers.
type mapAlts struct {
	want           []string
	texts, helpers []string
}

func mapAlterations(p *planner.Plan) mapAlts {
	var m mapAlts
	add := func(lines []planner.IDMapLine) { m.texts = append(m.texts, q(planner.MapText(lines))) }
	for _, e := range p.Environments {
		for _, st := range e.Steps {
			switch op := st.Op.(type) {
			case planner.UIDMap:
				add(op.Lines)
			case planner.GIDMap:
				add(op.Lines)
			case planner.Hold:
				if op.Types&unix.CLONE_NEWUSER != 0 {
					add(op.UIDMap)
					add(op.GIDMap)
				}
			}
		}
	}
	m.helpers = mapHelpers(p)
	if len(m.texts) > 0 {
		m.want = append(m.want, altMapValue, altMapProcess)
	}
	if len(m.helpers) > 0 {
		m.want = append(m.want, altHelperPid)
	}
	return m
}

// mapFileRe is a map's file, setgroups, or the /proc/PID folder a helper
// opens its map from.
var mapFileRe = regexp.MustCompile(`^"/proc/(\d+)/?(uid_map|gid_map|setgroups)?"$`)

// alter adds to alts the alteration of evs[i] where it is the first call
// of its kind: a map's lines written with another first inside id ("1"
// before them); the first map's file (or a helper's /proc/PID) opened
// for the process after it; a helper told to map the process after its
// child's.
func (m mapAlts) alter(alts map[string][]event, evs []event, i int) {
	e := evs[i]
	a := splitArgs(e.args)
	set := func(why string, ret string) {
		if _, done := alts[why]; done {
			return
		}
		out := append([]event(nil), evs...)
		out[i].args, out[i].ret = strings.Join(a, ", "), ret
		alts[why] = out
	}
	switch {
	case e.name == "write" && len(a) == 3 && slices.Contains(m.texts, a[1]):
		n, _ := strconv.Atoi(a[2])
		a[1], a[2] = `"1`+a[1][1:], strconv.Itoa(n+1)
		set(altMapValue, a[2])
	case e.name == "openat" && len(a) >= 3 && a[0] == "AT_FDCWD" && mapFileRe.MatchString(a[1]):
		pid := mapFileRe.FindStringSubmatch(a[1])[1]
		n, _ := strconv.Atoi(pid)
		a[1] = strings.Replace(a[1], "/proc/"+pid, "/proc/"+strconv.Itoa(n+1), 1)
		set(altMapProcess, e.ret)
	case e.name == "execve" && len(a) >= 3 && slices.Contains(m.helpers, unquote(a[0])):
		argv := splitArgs(strings.TrimSuffix(strings.TrimPrefix(a[1], "["), "]"))
		if len(argv) > 1 {
			n, _ := strconv.Atoi(unquote(argv[1]))
			argv[1] = q(strconv.Itoa(n + 1))
			a[1] = "[" + strings.Join(argv, ", ") + "]"
			set(altHelperPid, e.ret)
		}
	}
}
