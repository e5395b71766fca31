package main

import (
	"strconv"
	"strings"

	"github.com/nsup/nsup/planner"
)

// The traced calls of an overlay root on the host's clone of its tree
// (planner.IdmapTree, planner.Overlay.HostTree: executor/overlaytree.go).

// idmapTreeStep is the host's mount_setattr of its clone of the tree (an
// OpenTree step's: a clone of the folder opened without a symlink),
// MOUNT_ATTR_IDMAP through the user namespace the host opened at
// /proc/PID/ns/user, PID the environment's child.
func idmapTreeStep(op planner.IdmapTree, env string, fds *fdState) func(event) bool {
	return func(e event) bool {
		a := splitArgs(e.args)
		if e.name != "mount_setattr" || !succeeded(e) || len(a) != 5 || a[1] != `""` || !strings.Contains(a[2], "AT_EMPTY_PATH") ||
			strings.Contains(a[2], "AT_RECURSIVE") != op.Recursive {
			return false
		}
		attr := map[string]string{}
		for _, f := range splitArgs(strings.TrimSuffix(strings.TrimPrefix(a[3], "{"), "}")) {
			k, v, _ := strings.Cut(f, "=")
			attr[k] = v
		}
		tree, ns := fds.fd(e.pid, a[0]), fds.fd(e.pid, strings.Fields(attr["userns_fd"] + " x")[0])
		child := fds.born["env:"+env]
		return sameFlags(attr["attr_set"], flagText("MOUNT_ATTR_IDMAP")) && tree != nil && tree.kind == fdTree && tree.recursive == op.Recursive &&
			tree.src.host(op.Path) && child > 0 && ns != nil && ns.kind == fdHost && ns.where == "/proc/"+strconv.Itoa(child)+"/ns/user"
	}
}

// overlayTreeSteps adds the calls of an Overlay step on the host's clone:
// the scratch tmpfs (made detached, mode 0700, nodev as the overlay)
// moved onto "/"; the clone (of the lower folder opened without a
// symlink) moved onto the tmpfs's lower folder; the tmpfs leaving "/" by
// its fd's path (umount2, MNT_DETACH) once the overlay is made; the
// overlay, made detached, its layers by fd (the clone, the tmpfs's upper
// and work folders), moved onto "/": the root's handle from then on.
func overlayTreeSteps(op planner.Overlay, fds *fdState, add func(func(event) bool)) {
	attrs := flagText("0")
	if op.NoDev {
		attrs = "MOUNT_ATTR_NODEV"
	}
	scratch := func(o *fdObj) bool {
		return o != nil && o.kind == fdMnt && o.fstype == "tmpfs" && o.source == "" && o.mode == "0700" && sameFlags(o.attrs, attrs)
	}
	ontoSlash := func(e event, from func(*fdObj) bool) bool {
		a := splitArgs(e.args)
		return e.name == "move_mount" && succeeded(e) && len(a) == 5 && a[1] == `""` && a[2] == "AT_FDCWD" && a[3] == `"/"` &&
			sameFlags(a[4], flagText("MOVE_MOUNT_F_EMPTY_PATH")) && from(fds.fd(e.pid, a[0]))
	}
	clone := func(o *fdObj) bool { return o != nil && o.kind == fdTree && o.recursive && o.src.host(op.Lower) }
	in := func(o, top *fdObj, name string) bool {
		return o != nil && o.kind == fdPath && o.anchor == top && o.scoped && o.rel == name
	}
	add(func(e event) bool { return ontoSlash(e, scratch) })
	add(moveMatch(fds, func(pid int, from, onto *fdObj) bool {
		return clone(from) && onto != nil && scratch(onto.anchor) && onto.anchor == fds.top[pid]["/"] && in(onto, onto.anchor, "lower")
	}))
	add(func(e event) bool {
		a := splitArgs(e.args)
		top := fds.procFd(e.pid, a[0])
		return e.name == "umount2" && succeeded(e) && len(a) == 2 && a[1] == "MNT_DETACH" && scratch(top) && top == fds.top[e.pid]["/"]
	})
	add(func(e event) bool {
		return ontoSlash(e, func(o *fdObj) bool {
			if o == nil || o.kind != fdMnt || o.fstype != "overlay" || o.source != "overlay" || !sameFlags(o.attrs, attrs) {
				return false
			}
			want := "lowerdir,upperdir,workdir"
			if op.UserXattr {
				want += ",userxattr"
			}
			var keys []string
			for _, kv := range strings.Split(o.data, ",") {
				k, _, _ := strings.Cut(kv, "=")
				keys = append(keys, k)
			}
			up := o.layers["upperdir"]
			return strings.Join(keys, ",") == want && clone(o.layers["lowerdir"]) && up != nil && scratch(up.anchor) &&
				in(up, up.anchor, "upper") && in(o.layers["workdir"], up.anchor, "work")
		})
	})
}
