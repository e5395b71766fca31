package planner

// Device nodes left in a host folder: CAP_MKNOD with a writable mount of
// one.

import "github.com/nsup/nsup/spec"

// nodesLeftOnHost refuses, with CAP_MKNOD kept outside a user namespace
// that maps root elsewhere (nodesMadeOpen asks), a writable bind (or
// volume) of a host folder, and a writable dir root, in e (the
// environment, or the one whose mount namespace it joins): a node root
// inside makes there stays in the host's folder, where a mount of the
// host's opens it for any user who may reach the folder, and another
// environment's bind of it with dev too (a review made a 0666 /dev/kmsg
// node in a bound folder, nodev inside, and a host user wrote the kernel
// log through it). Whether nodes open in the host's folder is not the
// source mount's nodev alone: nodev is a flag of each mount, and the same
// filesystem may be mounted elsewhere without it, or mounted below the
// folder (the next review found both). join, if set, is the join of the
// mount namespace whose environment e is, where the refusal is said.
func (ec *envCompiler) nodesLeftOnHost(e *spec.Environment, join *joinRef) {
	const msg = "with CAP_MKNOD kept, root inside can leave a device node of the host's (its disk, /dev/kmsg) in a writable host folder: a host user who reaches the folder, or an environment binding it with dev, opens it (nsup confines no device by cgroup): drop MKNOD (security.capabilities), make it read-only, or give the environment a user namespace"
	refuse := func(pos spec.Pos, field, what string) {
		text := msg
		if join != nil {
			pos, field = join.pos, ec.field+".join.mnt"
			text += " (" + e.Name + "'s " + what + ", whose mount namespace it joins)"
		}
		ec.errorf(pos, field, "%s", text)
	}
	r := e.Rootfs
	if r.Dir != "" && !r.Readonly && !r.Overlay {
		refuse(r.Pos, ec.field+".rootfs.readonly", "writable root "+r.Dir)
	}
	for i, m := range e.Mounts {
		// A volume is a bind of a host folder too: e's own are binds by
		// now (volumes), a joined environment's are as its spec says (a
		// review left a node in the volume of the environment whose mount
		// namespace it joined, and another opened it through its bind of
		// the volume with dev).
		switch {
		case m.Readonly:
		case m.Type == spec.MountBind:
			refuse(m.Pos, ec.mountField(i)+".readonly", "writable bind of "+m.Source)
		case m.Type == spec.MountVolume:
			refuse(m.Pos, ec.mountField(i)+".readonly", "writable volume "+m.Source)
		}
	}
}
