package planner

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/nsup/nsup/spec"
)

// Caller is who applies a plan, as far as planning cares: without
// CAP_SYS_ADMIN, nsup plans rootless (spec-v1, "Rootless").
type Caller struct {
	UID, GID uint32
	// Name is the login name, as /etc/subuid and /etc/subgid list it.
	Name string
	// Privileged: CAP_SYS_ADMIN is in the effective set.
	Privileged bool
	// SubUIDs and SubGIDs are the caller's lines of /etc/subuid and
	// /etc/subgid, for newuidmap and newgidmap (subids.go);
	// SubUIDErr and SubGIDErr say why a file could not be read.
	SubUIDs, SubGIDs     []IDRange
	SubUIDErr, SubGIDErr error
	// SubIDModule is the NSS module that grants the subordinate ids
	// instead of the files (nsswitch.conf's subid:), "" for none.
	SubIDModule string
	// OthersUIDs returns, for root, the host uids other users hold:
	// their grants in /etc/subuid and their logins' uids (othersUIDs),
	// read on first use only (an environment that runs as host uids but
	// 0: sharedUIDs); nil: none.
	OthersUIDs func() []UIDHolder
	// OthersGIDs is the same for gids: their grants in /etc/subgid,
	// their primary groups and the groups /etc/group lists them in
	// (othersGIDs).
	OthersGIDs func() []UIDHolder
	// Groups are an unprivileged caller's supplementary groups, which
	// the child keeps where setgroups(2) is denied (keptGroup).
	Groups []uint32
	// NewUIDMap and NewGIDMap are the paths of the setuid helpers, "" when
	// they are not installed (Debian package uidmap).
	NewUIDMap, NewGIDMap string
	// HardLimits are the caller's hard resource limits by spec name
	// ("nofile"); a resource missing is taken as unlimited.
	HardLimits map[string]uint64
	// RaiseLimits: CAP_SYS_RESOURCE is in the effective set, so a hard
	// limit may be raised (setrlimit(2)).
	RaiseLimits bool
	// CgroupWritable says whether an unprivileged caller may write a
	// cgroup file, or make a group in a folder (its nearest existing
	// folder); nil: nothing.
	CgroupWritable func(path string) bool
	// CapsUnknown are the capabilities of spec.Capabilities this kernel
	// does not know; CapsNotHeld those it knows that nsup's bounding or
	// permitted set lacks, which no process it starts outside a user
	// namespace can hold (capabilities(7)). `add: [ALL]` leaves them out
	// (allCapabilities); nil: none.
	CapsUnknown, CapsNotHeld []string
}

// CallerUID is spec.CallerUID, for the executor (which imports planner
// only): the user nsup acts for, SUDO_UID's under sudo.
func CallerUID() uint32 { return spec.CallerUID() }

// CurrentCaller describes this process. Only an unprivileged caller
// reads /etc/passwd, /etc/subuid, /etc/subgid and nsswitch.conf, once
// each (subids.go), and looks for the helpers; root reads /etc/passwd
// and /etc/subuid, or /etc/subgid and /etc/group, only for an
// environment that runs as other host uids, or gids, than 0 (OthersUIDs,
// OthersGIDs).
func CurrentCaller() Caller {
	c := Caller{UID: uint32(os.Geteuid()), GID: uint32(os.Getegid())}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if unix.Capget(&hdr, &data[0]) == nil {
		c.Privileged = data[unix.CAP_SYS_ADMIN/32].Effective&(1<<(unix.CAP_SYS_ADMIN%32)) != 0
		c.RaiseLimits = data[unix.CAP_SYS_RESOURCE/32].Effective&(1<<(unix.CAP_SYS_RESOURCE%32)) != 0
		c.CapsUnknown, c.CapsNotHeld = heldCaps(uint64(data[0].Permitted) | uint64(data[1].Permitted)<<32)
	}
	c.HardLimits = map[string]uint64{}
	for name, r := range resourceNames {
		var l unix.Rlimit
		if unix.Getrlimit(int(r), &l) == nil {
			c.HardLimits[name] = l.Max
		}
	}
	if c.Privileged {
		c.OthersUIDs = sync.OnceValue(func() []UIDHolder {
			return othersUIDs(etcFiles, spec.CallerUID())
		})
		c.OthersGIDs = sync.OnceValue(func() []UIDHolder {
			return othersGIDs(etcFiles, spec.CallerUID())
		})
		return c
	}
	if gs, err := os.Getgroups(); err == nil {
		for _, g := range gs {
			c.Groups = append(c.Groups, uint32(g))
		}
	}
	c.readSubIDs(etcFiles)
	c.NewUIDMap, _ = exec.LookPath("newuidmap")
	c.NewGIDMap, _ = exec.LookPath("newgidmap")
	c.CgroupWritable = writable
	return c
}

// writable is access(2)'s W_OK for path, or for its nearest existing
// folder.
func writable(path string) bool {
	for p := filepath.Clean(path); ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil {
			return unix.Access(p, unix.W_OK) == nil
		}
		if p == "/" || p == "." {
			return false
		}
	}
}

const cloneParent = unix.CLONE_PARENT

// joinRef is one namespace entered instead of created: from the spec's
// join, or added by the rootless rule.
type joinRef struct {
	t, ref string
	pos    spec.Pos
}

func (j joinRef) isPath() bool { return strings.HasPrefix(j.ref, "/") }

// isNew reports whether namespace type t is created for the environment.
func (ec *envCompiler) isNew(t string) bool {
	if t == spec.NSUser && ec.podUser != "" {
		return false // its pod's holder's
	}
	return ec.e.HasNamespace(t) || t == spec.NSUser && ec.addedUser
}

// mapsKnown: the environment's user namespace is new, or its pod's, whose
// maps the plan gives (uidMap, gidMap).
func (ec *envCompiler) mapsKnown() bool {
	return ec.isNew(spec.NSUser) || ec.podUser != ""
}

func (ec *envCompiler) joined(t string) *joinRef {
	for i := range ec.joins {
		if ec.joins[i].t == t {
			return &ec.joins[i]
		}
	}
	return nil
}

// inUserNS: the environment's namespaces belong to a user namespace other
// than the host's, so what needs privilege over the host's (proc of its
// pid namespace, a remount dropping a locked flag) is refused.
func (ec *envCompiler) inUserNS() bool {
	return ec.isNew(spec.NSUser) || ec.joined(spec.NSUser) != nil
}

// nsPos is the position of t in `namespaces` (rootless' user: the first).
func (ec *envCompiler) nsPos(t string) spec.Pos {
	for _, n := range ec.e.Namespaces {
		if n.Type == t {
			return n.Pos
		}
	}
	if len(ec.e.Namespaces) > 0 {
		return ec.e.Namespaces[0].Pos
	}
	return ec.e.Pos
}

// userKey names the user namespace environment name is in, as ec sees
// the environments before it: two environments with the same key share
// it.
func (ec *envCompiler) userKey(name string) string {
	o := ec.doneEnv(name)
	if o == nil {
		return "?" + name
	}
	return o.ownUserKey()
}

// namespaces decides which namespaces the environment creates and joins,
// who makes the joins, and the user namespace's maps.
//
// Rootless (spec-v1): without CAP_SYS_ADMIN, an environment that has no
// user namespace of its own gets one: new, mapping the caller to 0, or,
// when it joins another environment's namespaces by name, that
// environment's (a namespace can be entered only by a process with
// privilege over the user namespace that owns it, so a pod shares one).
func (ec *envCompiler) namespaces() {
	e := ec.e
	for _, t := range spec.JoinOrder {
		if j := e.Joined(t); j != nil {
			ec.joins = append(ec.joins, joinRef{t, j.Ref, j.Pos})
		}
	}
	if ec.compiler.pods[e.Name]&nsFlag(spec.NSUser) != 0 {
		// Its user namespace is its pod's, held with the others by the
		// holder: the environment joins it, as those that join the pod do.
		ec.joins = append([]joinRef{{spec.NSUser, e.Name, ec.nsPos(spec.NSUser)}}, ec.joins...)
		ec.podUser = e.Name
		u, g, _ := ec.compiler.podMaps(e)
		ec.notes = append(ec.notes, fmt.Sprintf("pod %s: its user namespace (uid_map %q, gid_map %q) is held by the pod's holder, with the namespaces the pod shares (which belong to it): the environment joins it", e.Name,
			strings.TrimSpace(MapText(mapLines(u))), strings.TrimSpace(MapText(mapLines(g)))))
	} else if !ec.caller.Privileged {
		ec.rootless()
	}
	if ec.isNew(spec.NSUser) {
		ec.maps()
	}
	if j := ec.joined(spec.NSUser); j != nil {
		if ec.inPod(*j) {
			// The pod's holder's (Hold's maps).
			ec.podUser = j.ref
			ec.uidMap, ec.gidMap, ec.denySetgroups = ec.compiler.podMaps(ec.compiler.s.Env(j.ref))
		} else if j.isPath() {
			ec.denySetgroups = !ec.caller.Privileged
		} else if o := ec.doneEnv(j.ref); o != nil {
			ec.denySetgroups = o.denySetgroups
		}
	}
	// A time namespace created in a user namespace must be owned by it:
	// the child stage unshares it (the host thread would make the host's
	// user namespace its owner, or, rootless, could not at all).
	ec.timeInChild = ec.isNew(spec.NSTime) && ec.inUserNS()
	if ec.timeInChild && ec.e.Time != nil {
		if j := ec.joined(spec.NSMount); j != nil {
			// The child stage writes the offsets to /proc/self of the
			// mount namespace it is in: the joined one's /proc, which root
			// there may have replaced with a file of its own (found by a
			// review: the offsets went into it, and the clocks had none).
			ec.errorf(ec.e.Time.Pos, ec.field+".time", "time offsets with a mount namespace joined from %s: they would be written through the /proc of that mount namespace, which root there controls: drop time, or the join of mnt", j.ref)
		}
	}
	ec.joinedOwners()
	ec.forked = ec.joined(spec.NSUser) != nil || ec.joined(spec.NSMount) != nil || ec.joined(spec.NSTime) != nil ||
		ec.joined(spec.NSPID) != nil || !ec.caller.Privileged && len(ec.joins) > 0 || ec.uidHelper || ec.gidHelper
}

func (ec *envCompiler) rootless() {
	e := ec.e
	why := "rootless (nsup runs without CAP_SYS_ADMIN)"
	if e.HasNamespace(spec.NSUser) {
		for _, j := range ec.joins {
			if !j.isPath() {
				ec.errorf(j.pos, keyField(ec.field+".join", j.t), "%s: %s's namespaces belong to its user namespace, which a new one cannot enter: remove user from namespaces (nsup then joins %s's user namespace)", why, j.ref, j.ref)
			}
		}
	}
	if e.HasNamespace(spec.NSUser) || e.Joined(spec.NSUser) != nil {
		return
	}
	src, key := "", ""
	var pos spec.Pos
	for _, j := range ec.joins {
		if j.isPath() {
			ec.errorf(j.pos, keyField(ec.field+".join", j.t), "%s: a namespace given by path can be entered only from the user namespace that owns it: join that too (join: {user: /proc/PID/ns/user})", why)
			continue
		}
		k := ec.userKey(j.ref)
		if src == "" {
			src, key, pos = j.ref, k, j.pos
		} else if k != key {
			ec.errorf(j.pos, keyField(ec.field+".join", j.t), "%s: %s and %s are in different user namespaces, and an environment can be in one only", why, src, j.ref)
		}
	}
	if src != "" {
		ec.joins = append([]joinRef{{spec.NSUser, src, pos}}, ec.joins...)
		ec.notes = append(ec.notes, fmt.Sprintf("%s: joins the user namespace of %s, whose namespaces it enters (spec-v1, Rootless)", why, src))
		return
	}
	ec.addedUser = true
	ec.notes = append(ec.notes, fmt.Sprintf("%s: a new user namespace, uid %d and gid %d mapped to 0 (spec-v1, Rootless)", why, ec.caller.UID, ec.caller.GID))
}

// maps decides a new user namespace's maps and how they are written. The
// default maps the caller to 0, one line each. Root writes any map. An
// unprivileged caller may write one line mapping its own id, and for the
// gid map only after denying setgroups (user_namespaces(7)); anything
// more goes through newuidmap/newgidmap, which check /etc/subuid and
// /etc/subgid.
func (ec *envCompiler) maps() {
	c := ec.caller
	ec.uidMap, ec.gidMap = ec.defaultMaps()
	if m := ec.e.IDMap; m != nil {
		ec.uidMap, ec.gidMap = m.UID, m.GID
	}
	if c.Privileged {
		return
	}
	own := func(rs []spec.IDRange, id uint32) bool {
		return len(rs) == 1 && rs[0].Outside == id && rs[0].Count == 1
	}
	ec.uidHelper = !own(ec.uidMap, c.UID)
	ec.gidHelper = !own(ec.gidMap, c.GID)
	ec.denySetgroups = !ec.gidHelper
	if ec.uidHelper {
		ec.checkHelper("uid", ec.uidMap, c.UID, c.NewUIDMap, "newuidmap", etcFiles.subuid, c.SubUIDs, c.SubUIDErr)
	}
	if ec.gidHelper {
		ec.checkHelper("gid", ec.gidMap, c.GID, c.NewGIDMap, "newgidmap", etcFiles.subgid, c.SubGIDs, c.SubGIDErr)
	}
}

// defaultMaps map the caller to 0, one line each.
func (ec *envCompiler) defaultMaps() (uid, gid []spec.IDRange) {
	c := ec.caller
	return []spec.IDRange{{Inside: 0, Outside: c.UID, Count: 1}}, []spec.IDRange{{Inside: 0, Outside: c.GID, Count: 1}}
}

// checkHelper refuses the ranges of a map that the helper (newuidmap,
// newgidmap) would refuse: a range other than the caller's own id alone
// must be the caller's in file (subids.go: granted), which the helper
// must be able to open.
func (ec *envCompiler) checkHelper(kind string, rs []spec.IDRange, own uint32, helper, name, file string, lines []IDRange, readErr error) {
	field := ec.field + ".idmap." + kind
	who := ec.caller.Name
	if who == "" {
		who = fmt.Sprintf("uid %d", ec.caller.UID)
	}
	if helper == "" {
		ec.errorf(ec.e.IDMap.Pos, field, "maps more than your own %s (%d) without privilege: that needs %s (Debian package uidmap), which is not installed", kind, own, name)
		return
	}
	if m := ec.caller.SubIDModule; m != "" {
		ec.notes = append(ec.notes, fmt.Sprintf("%s: the subordinate ids are NSS module %s's (nsswitch.conf's subid:), not %s's: the ranges are not checked here, %s checks them at apply", field, m, file, name))
		return
	}
	have := ""
	switch {
	case readErr != nil && subIDsMissing(readErr) == "":
		ec.notes = append(ec.notes, fmt.Sprintf("%s: %v: the ranges are not checked here, %s (setuid root) checks them at apply", field, readErr, name))
		return
	case readErr != nil:
		have = fmt.Sprintf("%s %s, and %s refuses every map without it", file, subIDsMissing(readErr), name)
	case len(lines) == 0:
		have = fmt.Sprintf("%s grants it none (%s checks it)", file, name)
	default:
		var grants []string
		for _, g := range lines {
			if !slices.Contains(grants, rangeText(g)) {
				grants = append(grants, rangeText(g))
			}
		}
		have = fmt.Sprintf("%s grants it only %s (%s checks it)", file, strings.Join(grants, ", "), name)
	}
	for i, r := range rs {
		if r.Outside == own && r.Count == 1 || readErr == nil && granted(lines, uint64(r.Outside), uint64(r.Count)) {
			continue
		}
		ec.errorf(r.Pos, fmt.Sprintf("%s[%d]", field, i), "host %ss %d-%d are not %s's to map: %s",
			kind, r.Outside, uint64(r.Outside)+uint64(r.Count)-1, who, have)
	}
}

// hasDev: the environment has a dev mount (type: dev), whose Console step
// reopens the terminal's fds.
func (ec *envCompiler) hasDev() bool {
	return slices.ContainsFunc(ec.e.Mounts, func(m spec.Mount) bool { return m.Type == spec.MountDev })
}

// mapped reports whether id is inside one of the map's ranges.
func mapped(rs []spec.IDRange, id uint32) bool {
	for _, r := range rs {
		if id >= r.Inside && uint64(id) < uint64(r.Inside)+uint64(r.Count) {
			return true
		}
	}
	return false
}

func keyField(parent, key string) string { return parent + "." + key }

// nsFlag is the clone flag of a namespace type (spec.Namespaces).
func nsFlag(t string) CloneFlags { return CloneFlags(spec.NamespaceFlag(t)) }

// host plans the host stage: joins, then the child's creation, then the
// maps of a new user namespace.
//
// A child is born in the namespaces of the thread that creates it, which
// is how net, ipc, uts and cgroup namespaces are joined: setns(2) on
// nsup's locked thread, then clone. A user, mount or time namespace cannot
// be entered by a process of several threads (setns(2): EINVAL for user
// and mnt, EUSERS for time), and a Go program always has several: those
// joins, a pid namespace's (Go's exec kills a child whose parent is
// outside its pid namespace: its Pdeathsig check reads getppid() 0), and
// every join of rootless nsup (it may enter a namespace only from the user
// namespace that owns it) are made by a forked copy of nsup (stage fork),
// which then creates the child with CLONE_PARENT.
func (ec *envCompiler) host() {
	e := ec.e
	if ec.caller.Privileged && !ec.terminal && !ec.confiningUserNS() {
		// The host's /dev/null that nsup's caller gave it (a CI job's,
		// hyperfine's, cron's) or a detached environment's stdin: as it
		// was, root inside chmod'ed or chown'ed the host's node through
		// /proc/self/fd/0 (every host user opens it).
		ec.add(Host, e.Pos, NullDevice{})
	}
	if ec.stateDir != "" {
		// A detached environment writes to its log, reads nothing, and
		// is reached by nsup exec through init's control socket.
		ec.add(Host, e.Pos, Stdio{Stdin: "/dev/null", Stdout: filepath.Join(ec.stateDir, LogFile), Max: LogMax})
		ec.add(Host, e.Pos, Listen{Path: filepath.Join(ec.stateDir, ControlFile)})
	}
	if ec.terminal {
		// A dev mount's Console step reopens the terminal's fds through
		// its read-only bind, and a new mount namespace's ReadOnlyTerminal
		// step without one (child); a joined one's, where the child cannot
		// clone the host's node, nsup here: root itself, a rootless nsup
		// through its helper (it may clone no mount of the host's), whose
		// user's own node went in writable before (chmod 666 inside).
		ro := !ec.hasDev() && !ec.isNew(spec.NSMount)
		ec.add(Host, e.Pos, Openpty{ReadOnly: ro, Helper: ro && !ec.caller.Privileged})
	}
	first := e.Pos
	if len(e.Namespaces) > 0 {
		first = e.Namespaces[0].Pos
	}
	// Before the thread joins the environment's v1 groups: a pod's
	// holder outlives the environment, whose groups down empties.
	own := ec.holds(first)
	unified, v1, back := ec.cgroups()
	// This thread into the v1 groups (before any fork: a forked copy and
	// its child are born in them too), and back after the clone.
	for _, g := range v1 {
		ec.add(Host, e.Pos, CgroupJoin{Path: g})
	}
	var flags CloneFlags
	if ec.addedUser {
		flags |= nsFlag(spec.NSUser)
	}
	for _, n := range e.Namespaces {
		if n.Type != spec.NSTime {
			flags |= nsFlag(n.Type)
		}
	}
	// A time namespace's offsets can only be written before any process is
	// in it, so it is unshared by the creating thread (which stays outside:
	// only its future children enter), offsets written, then the child is
	// created inside it (time_namespaces(7)). In a user namespace that is
	// the child stage's job (see child), so that the user namespace owns it.
	hostTime := func() {
		if !ec.isNew(spec.NSTime) || ec.timeInChild {
			return
		}
		ec.add(Host, ec.nsPos(spec.NSTime), Unshare{Flags: nsFlag(spec.NSTime)})
		if e.Time != nil {
			ec.add(Host, timeAt(e.Time), ec.timeOffsets())
		}
	}
	stage := Host
	if ec.forked {
		// Before the fork: the copy is then born in the time namespace.
		hostTime()
		pos := first
		if len(ec.joins) > 0 {
			pos = ec.joins[0].pos
		}
		ec.add(Host, pos, Fork{})
		stage = Forked
		if !ec.isNew(spec.NSUser) {
			// Not dumpable before it joins anything: the copy's child is
			// born in the joined namespaces, visible there (a joined pid
			// namespace), with the host's root as /proc/PID/root until its
			// root switch; a process of the joined environment whose
			// capabilities cover the copy's (SYS_PTRACE in a joined user
			// namespace, or all of them) would otherwise pass the ptrace
			// access check on it (runc's nsexec does the same,
			// CVE-2016-9962). The child inherits it. (A child that makes a
			// user namespace of its own must stay dumpable until nsup has
			// written its maps: see the child stage's first step.)
			ec.add(Forked, pos, Prctl{Option: prSetDumpable, Arg: 0})
		}
	}
	flags &^= own
	for _, j := range ec.joins {
		op := Setns{NSType: nsFlag(j.t)}
		if ec.inPod(j) {
			op.Pod = j.ref
			op.Path = "/proc/$pod:" + j.ref + "/ns/" + j.t
			ec.add(stage, j.pos, op)
			continue
		}
		if j.isPath() {
			op.Path = j.ref
			if f := ec.nsFile(j.ref); f.known() && f.nstype == op.NSType {
				op.NSIdentity = f.id
			}
		} else {
			op.Env = j.ref
			op.Path = "/proc/$" + j.ref + "/ns/" + j.t
			if j.t == spec.NSTime {
				// Where the environment's processes are: its child stage
				// may have made the namespace for its children only.
				op.Path += "_for_children"
			}
		}
		if j.t == spec.NSPID && !ec.isNew(spec.NSUser) && ec.procForPidNS(j) {
			// Joined by the child stage after its root switch, not by
			// the copy: a stage born in the joined pid namespace is seen
			// there with the host's root as /proc/PID/root and nsup's
			// fds until its execve, and whoever holds that namespace
			// with CAP_SYS_PTRACE on the host (root of another runtime's
			// container, say) would pass the ptrace access check on it
			// (helper-148). Its proc mounts are of the joined namespace
			// (fsconfig pidns); then it joins (setns, which moves only
			// its children), clones the process that goes on in there
			// (CLONE_PARENT: nsup's child) with nothing of nsup's but
			// its report pipe and binary, and exits. (In a user
			// namespace of its own it could not join a pid namespace its
			// user namespace does not own: the copy joins it, as
			// before.)
			late := op
			ec.latePid, ec.latePidPos = &late, j.pos
			continue
		}
		ec.add(stage, j.pos, op)
	}
	for _, t := range spec.JoinOrder {
		// (Its pod's user namespace is among the joins.)
		if f := nsFlag(t); own&f != 0 && t != spec.NSUser {
			ec.add(stage, ec.nsPos(t), Setns{Pod: e.Name, Path: "/proc/$pod:" + e.Name + "/ns/" + t, NSType: f})
		}
	}
	if !ec.forked {
		hostTime()
	}
	if ec.forked {
		// CLONE_PARENT: the child is nsup's, not the copy's, which exits.
		flags |= cloneParent
	}
	root, groups := ec.userRoot()
	ec.add(stage, first, Clone{Flags: flags, Cgroup: unified, UserRoot: root, DropGroups: groups})
	for _, g := range back {
		ec.add(Host, e.Pos, CgroupJoin{Path: g})
	}
	if ec.isNew(spec.NSUser) {
		ec.userMaps(first)
	}
	ec.network()
	ec.joinedNetwork()
	ec.hostPID()
	ec.hostCapabilities()
	ec.heldDefaultsNote()
	ec.readonlyLiftNote()
}

// owns reports whether the environment's namespace of type t belongs to
// its user namespace: new, or joined from an environment in the same one.
func (ec *envCompiler) owns(t string) bool { return ec.ownsAs(ec, t) }

// ownsAs is owns, the environments looked up as asker sees them.
func (ec *envCompiler) ownsAs(asker *envCompiler, t string) bool {
	if ec.isNew(t) {
		return true
	}
	j, u := ec.joined(t), ec.joined(spec.NSUser)
	if j == nil || u == nil || j.isPath() || u.isPath() {
		return false
	}
	o := asker.doneEnv(j.ref)
	return o != nil && o.ownsAs(asker, t) && asker.userKey(u.ref) == asker.userKey(j.ref)
}

func mntPos(e *spec.Environment) spec.Pos {
	for _, n := range e.Namespaces {
		if n.Type == spec.NSMount {
			return n.Pos
		}
	}
	return e.Pos
}
