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
// folder (the next review found both). via, if set, says where e's
// folders are reached from: the refusal is said there.
func (ec *envCompiler) nodesLeftOnHost(e *spec.Environment, via *nodesVia) {
	const msg = "with CAP_MKNOD kept, root inside can leave a device node of the host's (its disk, /dev/kmsg) in a writable host folder: a host user who reaches the folder, or an environment binding it with dev, opens it (nsup confines no device by cgroup): drop MKNOD (security.capabilities), make it read-only, or give the environment a user namespace"
	refuse := func(pos spec.Pos, field, what string) {
		text := msg
		if via != nil {
			pos, field = via.pos, via.field
			text += " (" + e.Name + "'s " + what + ", " + via.how + ")"
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

// nodesVia is where another environment's folders are reached from: the
// key that brings them (join.mnt, the pid namespace), and how.
type nodesVia struct {
	pos   spec.Pos
	field string
	how   string
}

// pidPeerNodes refuses, with CAP_MKNOD kept outside a user namespace that
// maps root elsewhere (nodesMadeOpen asks, with its why, ro and fix), a
// pid namespace shared with another environment whose mounts let nodes
// work or hold a writable host folder: root inside passes the ptrace
// check on that environment's processes (the same uid, and capabilities
// that cover theirs) and reaches its mounts through their /proc/PID/root
// (a review's b, joining a's pid namespace with a proc of its own, made a
// 0666 /dev/kmsg node in a's writable bind, through which a host user
// wrote the kernel log). A pid namespace joined by path is another's,
// whose mounts are not known. The host's is hostPID's.
func (ec *envCompiler) pidPeerNodes(why, ro, fix string) {
	j := ec.joined(spec.NSPID)
	if j == nil && !ec.isNew(spec.NSPID) {
		return
	}
	pos, field := ec.nsPos(spec.NSPID), ec.field+".namespaces"
	if j != nil {
		pos, field = j.pos, ec.field+".join.pid"
	}
	if j != nil && j.isPath() {
		ec.errorf(pos, field, "%s", why+"in any writable folder of the processes of the pid namespace joined by path, through their /proc/PID/root"+fix+"or give the environment a user namespace")
		return
	}
	owner := ec.s.NamespaceOwner(ec.e.Name, spec.NSPID)
	if owner == nil {
		return
	}
	checked := map[string]bool{ec.e.Name: true} // its own mounts, or the joined ones'
	if m := ec.s.NamespaceOwner(ec.e.Name, spec.NSMount); m != nil {
		checked[m.Name] = true
	}
	for _, o := range ec.s.Environments {
		if o.Name == ec.e.Name || ec.s.NamespaceOwner(o.Name, spec.NSPID) != owner {
			continue
		}
		how := "reached through the /proc/PID/root of " + o.Name + "'s processes, in the pid namespace it shares"
		m := ec.s.NamespaceOwner(o.Name, spec.NSMount) // o's mounts: its own, or those it joins
		switch {
		case m == nil:
			ec.errorf(pos, field, "%s", why+"in any writable folder of the mount namespace "+o.Name+" joins by path ("+how+")"+fix+"or give the environment a user namespace")
			continue
		case checked[m.Name]:
			continue
		}
		checked[m.Name] = true
		ec.othersNodes(m, nodesVia{pos, field, how}, why, ro, fix)
	}
}

// othersNodes refuses, with CAP_MKNOD (nodesMadeOpen's why, ro and fix),
// the mounts of o, reached as via says, where nodes work, and its
// writable host folders (nodesLeftOnHost).
func (ec *envCompiler) othersNodes(o *spec.Environment, via nodesVia, why, ro, fix string) {
	if root, mounts := nodeMounts(o); root || len(mounts) > 0 {
		ec.errorf(via.pos, via.field, "%s", why+"in the mounts of "+o.Name+" where nodes work (rootfs.dev, the option dev), "+via.how+ro+fix+"or give the environment a user namespace")
	}
	ec.nodesLeftOnHost(o, &via)
}
