package planner

// What is written from outside into a new user namespace: the id maps
// (user_namespaces(7)).

import "github.com/nsup/nsup/spec"

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
