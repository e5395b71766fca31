package planner

// A root of nsup's cache (a closure or host root) without overlay is
// the cache entry itself (a tar root is always laid as an overlay of it:
// overlaid), bound read-only in the environment's mount
// namespace: shared by every environment made of the same files, and
// never written (rootfs.go refuses readonly: false). The bind's read-only
// flag is the environment's own, not locked (the kernel locks the flags
// of mounts a mount namespace copies from one of a more privileged user
// namespace, and the bind is made in the environment's): root inside
// that keeps CAP_SYS_ADMIN in its user namespace lifts it (mount -o
// remount,bind,rw /) and writes the entry where its uid may (everything,
// rootless: the entry is the user's, who is root inside; with idmap, its
// world-writable folders, a tar's /tmp), and every later environment of
// those files runs what it wrote. helper-114's review did so (a file
// written in a tar root's /tmp, found in the cache). With overlay the
// entry is overlayfs's lower layer, which root inside reaches through
// the overlay only, and overlayfs never writes. The same goes for a dev
// mount's /dev/console, the host's terminal node (consoleRemount).

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nsup/nsup/spec"
)

// cacheRootRemount refuses root inside keeping CAP_SYS_ADMIN, in a user
// namespace, over a mount namespace whose root r is a cache entry bound
// without overlay: the environment's own root, or (owner not "") the
// root of owner, whose mount namespace it joins by name.
func (ec *envCompiler) cacheRootRemount(r spec.Rootfs, owner string) {
	if overlaid(r) || r.Dir != "" || !ec.unlocksOwnMounts() {
		return
	}
	kind := "closure"
	if len(r.Host) > 0 {
		kind = "host"
	}
	pos, field := ec.sysAdminAt(r.Pos, ec.field+".rootfs")
	where, whose := "its", "the"
	if owner != "" {
		where, whose = owner+"'s (its mount namespace, joined)", owner+"'s"
	}
	ec.errorf(pos, field, "CAP_SYS_ADMIN kept in a user namespace, with %s root a %s root without overlay: the tree is nsup's cache entry, shared by every environment made of the same files, bound read-only by a flag root inside may lift (mount -o remount,bind,rw /) to write the entry; say overlay: true in %s rootfs (the entry is then the overlay's lower layer, never written), or drop SYS_ADMIN", where, kind, whose)
}

// consoleRemount refuses, for a dev mount's Console step (the terminal,
// the host's /dev/pts/N that nsup opened, the caller's, bound read-only
// at /dev/console), root inside keeping CAP_SYS_ADMIN in a user namespace
// that maps the caller's uid (the node's owner): that bind's read-only
// flag is the environment's own too, and root inside lifted it (mount_
// setattr of fd 0) and chmod'ed the host's node 0666, for every host user
// to read what the user types and write to its screen (helper-114's
// review, rootless). The fds of a ReadOnlyTerminal or Openpty step are on
// a detached clone, dissolved once its fd was closed: no flag of it
// changes (EINVAL).
func (ec *envCompiler) consoleRemount(pos spec.Pos) {
	if !ec.unlocksOwnMounts() {
		return
	}
	if ec.mapsKnown() && !hostMapped(ec.uidMap, ec.caller.UID) {
		return // the node is nobody's inside
	}
	pos, field := ec.sysAdminAt(pos, ec.field+".mounts")
	ec.errorf(pos, field, "CAP_SYS_ADMIN kept in a user namespace that maps uid %d, with a terminal and a dev mount: its /dev/console is the terminal, the host's /dev/pts node (uid %d's), bound read-only by a flag root inside may lift, to chmod the node for every host user; run with stdin not a terminal (< /dev/null), without the dev mount, or drop SYS_ADMIN", ec.caller.UID, ec.caller.UID)
}

// unlocksOwnMounts says whether root inside keeps CAP_SYS_ADMIN in a user
// namespace: the flags of the mounts nsup makes in the environment's own
// mount namespace are not locked there (the kernel locks those of a
// namespace copied from a more privileged user namespace's), and it may
// remount them read-write or unmount them.
func (ec *envCompiler) unlocksOwnMounts() bool {
	return ec.inUserNS() && slices.Contains(ec.capabilities(), "CAP_SYS_ADMIN")
}

// sysAdminAt is where the spec adds CAP_SYS_ADMIN (or ALL), and that
// field; else pos and field.
func (ec *envCompiler) sysAdminAt(pos spec.Pos, field string) (spec.Pos, string) {
	if s := ec.e.Security; s != nil {
		for _, a := range s.CapAdd {
			if a.Value == "CAP_SYS_ADMIN" || a.Value == "ALL" {
				return a.Pos, ec.field + ".security.capabilities.add"
			}
		}
	}
	return pos, field
}

// readonlyLiftNote notes, for root inside keeping CAP_SYS_ADMIN in a user
// namespace, the read-only mounts of host folders the spec asks for: a
// read-only dir root, readonly binds and volumes. Their flags are the
// environment's own (unlocksOwnMounts), and root inside lifts them
// (mount -o remount,bind,rw) to write there as far as its ids may: a
// rootless user's own files, the mapped ids' files with idmap. Other
// peers (runc, crun) leave them so too. Locking them would take a second
// user namespace, over which root inside would keep no capability of its
// network, hostname or IPC namespaces; the plan says so rather than keep
// quiet. A root of nsup's cache without overlay is refused instead
// (cacheRootRemount): it is not the user's own folder.
//
// An environment that joins another's mount namespace by name lifts
// that one's flags: noted so too, naming whose mounts they are (before
// helper-124's review its plan said nothing of them).
func (ec *envCompiler) readonlyLiftNote() {
	if !ec.unlocksOwnMounts() {
		return
	}
	e, whose := ec.e, ""
	if j := ec.joined(spec.NSMount); j != nil {
		var o *envCompiler
		if owner := ec.s.NamespaceOwner(ec.e.Name, spec.NSMount); owner != nil && !j.isPath() {
			o = ec.doneEnv(owner.Name)
		}
		if o == nil || o == ec || o.unlocksOwnMounts() || ec.ownUserKey() != o.ownUserKey() {
			return // (its own plan notes them, or they are not its to lift)
		}
		e, whose = o.e, " ("+o.e.Name+"'s, whose mount namespace it joins)"
	}
	var ro []string
	if r := e.Rootfs; r.Dir != "" && r.Readonly && !r.Overlay {
		ro = append(ro, "the root ("+r.Dir+")")
	}
	for _, m := range e.Mounts {
		if !m.Readonly {
			continue
		}
		// A volume is a bind of its folder by now.
		if m.Type == spec.MountBind {
			ro = append(ro, fmt.Sprintf("%s (a bind of %s)", m.Target, m.Source))
		}
	}
	if len(ro) == 0 {
		return
	}
	_, field := ec.sysAdminAt(e.Pos, ec.field)
	ec.notes = append(ec.notes, fmt.Sprintf("%s: CAP_SYS_ADMIN kept in a user namespace: root inside may lift the read-only flag of %s%s (mount -o remount,bind,rw) and write there as far as its ids may; the kernel locks only the flags of mounts copied from a more privileged user namespace, not those nsup makes in the environment's own; drop SYS_ADMIN to keep them read-only", field, strings.Join(ro, ", "), whose))
}
