package planner

// What is written from outside into a new user or time namespace: the id maps (user_namespaces(7)) and the clock offsets (time_namespaces(7)).

import (
	"fmt"
	"strings"

	"github.com/nsup/nsup/spec"
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
		ec.add(Host, pos, Write{Path: "/proc/$CHILD/setgroups", Data: "deny"})
	}
	if ec.uidHelper {
		ec.add(Host, pos, Newidmap{Program: ec.caller.NewUIDMap, Map: mapText(ec.uidMap)})
	} else {
		ec.add(Host, pos, Write{Path: "/proc/$CHILD/uid_map", Data: mapText(ec.uidMap)})
	}
	if ec.gidHelper {
		ec.add(Host, pos, Newidmap{Program: ec.caller.NewGIDMap, Map: mapText(ec.gidMap)})
	} else {
		ec.add(Host, pos, Write{Path: "/proc/$CHILD/gid_map", Data: mapText(ec.gidMap)})
	}
}

// offsets renders the time offsets as timens_offsets wants them.
func (ec *envCompiler) offsets() string {
	t := ec.e.Time
	return fmt.Sprintf("monotonic %s\nboottime %s\n", offset(t.Monotonic.Nanoseconds()), offset(t.Boottime.Nanoseconds()))
}

// offset renders nanoseconds as timens_offsets wants: "SECONDS NANOSECONDS".
func offset(ns int64) string {
	sec, nsec := ns/1e9, ns%1e9
	if nsec < 0 {
		sec--
		nsec += 1e9
	}
	return fmt.Sprintf("%d %d", sec, nsec)
}

func mapText(rs []spec.IDRange) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "%d %d %d\n", r.Inside, r.Outside, r.Count)
	}
	return b.String()
}
