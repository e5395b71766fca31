package planner

// What is written from outside into a new user namespace: the id maps
// (user_namespaces(7)); and how the launcher's child becomes root of its
// user namespace, part of its clone step.

import (
	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// userMaps plans the maps of a new user namespace, written from outside
// once the child exists and before its execve (user_namespaces(7)):
// setgroups "deny" first where an unprivileged writer must, then
// uid_map and gid_map, each written directly or through newuidmap /
// newgidmap when the map holds more than the caller's own id.
func (ec *envCompiler) userMaps(first spec.Pos) {
	pos := first
	if ec.e.IDMap != nil {
		pos = ec.e.IDMap.Pos
	}
	if ec.denySetgroups {
		ec.add(Host, pos, DenySetgroups{})
	}
	uid := UIDMap{Lines: mapLines(ec.uidMap)}
	if ec.uidHelper {
		uid.Helper = ec.caller.NewUIDMap
	}
	ec.add(Host, pos, uid)
	gid := GIDMap{Lines: mapLines(ec.gidMap)}
	if ec.gidHelper {
		gid.Helper = ec.caller.NewGIDMap
	}
	ec.add(Host, pos, gid)
	ec.idmapTrees()
}

// timeOffsets is the new time namespace's offsets, as planned.
func (ec *envCompiler) timeOffsets() TimeOffsets {
	t := ec.e.Time
	return TimeOffsets{Monotonic: t.Monotonic.Nanoseconds(), Boottime: t.Boottime.Nanoseconds()}
}

// mapLines converts the spec's id ranges into map lines.
func mapLines(rs []spec.IDRange) []IDMapLine {
	out := make([]IDMapLine, len(rs))
	for i, r := range rs {
		out[i] = IDMapLine{Inside: r.Inside, Outside: r.Outside, Count: r.Count}
	}
	return out
}

// userRoot says whether the launcher's child becomes uid and gid 0 of its
// user namespace before the child stage (Clone.UserRoot): of a joined
// one, or of a new one whose maps have a 0 (nsup's own id need not be
// mapped at all, as with a range of subordinate ids); and whether it
// drops its supplementary groups first (Clone.DropGroups): unless
// setgroups(2) is denied in the new one (in a joined one it tries, and
// keeps them on EPERM).
func (ec *envCompiler) userRoot() (root, dropGroups bool) {
	zero := func(rs []spec.IDRange) bool {
		for _, r := range rs {
			if r.Inside == 0 && r.Count > 0 {
				return true
			}
		}
		return false
	}
	if ec.isNew(spec.NSUser) {
		root = zero(ec.uidMap) && zero(ec.gidMap)
		return root, root && !ec.denySetgroups
	}
	root = ec.joined(spec.NSUser) != nil
	return root, root
}

// cloneChild renders what the launcher's child of op does before the
// child stage's steps: its parent-death signal, and the change to root
// of its user namespace (which clears that signal: set again).
func cloneChild(op Clone) string {
	const pdeath = "prctl(PR_SET_PDEATHSIG, SIGKILL)"
	if !op.UserRoot {
		return pdeath
	}
	ids := "setresgid(0, 0, 0), setresuid(0, 0, 0)"
	switch {
	case op.DropGroups && op.Flags&unix.CLONE_NEWUSER == 0:
		ids = "setgroups(0, NULL) (EPERM where denied: groups kept), " + ids
	case op.DropGroups:
		ids = "setgroups(0, NULL), " + ids
	}
	return pdeath + ", " + ids + ", " + pdeath
}
