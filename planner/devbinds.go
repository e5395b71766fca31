package planner

// Binds of the host's devices: the option dev (and rootfs.dev) on a
// folder of the host's /dev lets every device of the host's open.

import (
	"fmt"
	"os"
	"slices"

	"github.com/nsup/nsup/planner/cgroup"
	"github.com/nsup/nsup/spec"
)

// devFS are the filesystems whose nodes are the host's devices: the
// kernel's /dev (devtmpfs, which statfs(2) reports as a tmpfs, so kernelFS
// cannot tell it) and its terminals (devpts).
var devFS = map[string]bool{"devtmpfs": true, "devpts": true}

// devBinds refuses the option dev on a bind of a folder of the host's
// devices, and rootfs.dev on a dir root that is or holds one
// (devBindRefused); in a user namespace that maps root elsewhere too
// (userNSDevWhy).
func (ec *envCompiler) devBinds() {
	if ec.joined(spec.NSMount) != nil {
		return
	}
	userns := ec.confiningUserNS()
	if r := ec.e.Rootfs; r.Dir != "" && r.Dev {
		// Bound recursively as the environment's / (an overlay's lower
		// shows no mount below it).
		if why := ec.devBindRefused(r.Dir, !r.Overlay, userns); why != "" {
			ec.errorf(r.Pos, ec.field+".rootfs.dev", "%s", why+"; remove dev: true")
		}
	}
	if !userns {
		ec.devWritable()
	}
	ec.nodevLifted()
	for i, m := range ec.e.Mounts {
		if m.Type != spec.MountBind || !slices.Contains(m.Options, "dev") {
			continue
		}
		if why := ec.devBindRefused(m.Source, m.Recursive, userns); why != "" {
			ec.errorf(m.Pos, ec.mountField(i)+".options", "%s", why+"; remove the option dev")
		}
	}
}

// devBindRefused says why a bind of the host's src may not let device
// nodes work ("" if it may): src is a folder in the host's /dev or on a
// devtmpfs (or devpts) wherever it is mounted, or (recursive) has one
// mounted below it. Every device of the host's has its node there: root
// inside, even without CAP_MKNOD and through a read-only bind, would
// open any of them (a review wrote the host's kernel log through
// /hostdev/kmsg; /dev/sda is the host's disk), as nsup confines no
// device by cgroup. A bind of one node (source: /dev/kvm) gives the
// environment that device only, as docker run --device does: allowed.
// In a user namespace that maps root elsewhere (userns), userNSDevWhy.
func (c *compiler) devBindRefused(src string, recursive, userns bool) string {
	real, on, ok := bindSource(src)
	if !ok {
		return ""
	}
	why := ": with dev, root inside would open every device of the host's (its disks, /dev/kmsg) through it, read-only or not and without CAP_MKNOD, as nsup confines no device by cgroup; bind the nodes it needs one by one (source: /dev/kvm, readonly: true, options: [dev]), give the environment its own /dev (type: dev), or a user namespace"
	if userns {
		why = userNSDevWhy
	}
	return c.devFolderWhy(src, real, on, recursive, why)
}

// devFolderWhy says why a bind of the host's src (real once its links
// are resolved, on the mount point it is on or itself) is refused, why
// said after the place ("" if it may be made): a folder in the host's
// /dev or on a devtmpfs (or devpts), or (recursive) holding one below.
func (c *compiler) devFolderWhy(src, real, on string, recursive bool, why string) string {
	if real == on {
		if st, err := os.Stat(real); err != nil || !st.IsDir() {
			return "" // one node (or file): the spec gives that one; a stat error is the bind's
		}
	}
	is := src
	if real != src {
		is += " (" + real + ")"
	}
	if within(real, "/dev") {
		return fmt.Sprintf("%s is a folder of the host's /dev%s", is, why)
	}
	mounts, err := c.hostMounts()
	if err != nil {
		return fmt.Sprintf("a bind of %s with dev: the host's mount table, to tell whether it is on the host's devices' filesystem, could not be read: %v", src, err)
	}
	if m := mountOf(mounts, real); devFS[m.FSType] {
		return fmt.Sprintf("%s is a folder of the host's %s mounted at %s%s", is, m.FSType, m.Point, why)
	}
	if m, ok := mountBelow(mounts, real, devFS); ok && recursive {
		return fmt.Sprintf("a recursive bind of %s brings the host's %s at %s along%s", is, m.FSType, m.Point, why)
	}
	return ""
}

// userNSDevWhy is why the option dev on a folder of the host's devices is
// refused in a user namespace that maps root elsewhere: the kernel checks
// a node by its owner and ACL, and root inside is every uid it maps. A
// review of the fixes that refused the host's /proc there, mapping root
// to 100000 with {type: bind, source: /dev/pts, options: [dev]}, read a
// line typed into a host terminal of uid 100000 (another environment's;
// rootless, the user's own: a sudo password) and wrote into it.
const userNSDevWhy = ": with dev, root inside would open every node of the host's that a uid it maps owns or is granted (the terminals of those uids, whose keystrokes it would read and write into; rootless, the user's own, and the camera and sound a login gives the user), the kernel checking a node by its owner and ACL; bind the nodes it needs one by one (source: /dev/kvm, readonly: true, options: [dev]), or give the environment its own /dev (type: dev)"

// mqueueBindRefused says why a bind of the host's src may not be made in
// a user namespace that maps root elsewhere ("" if it may): src is a
// folder of the host's mqueue, or (recursive) has one mounted below it.
// Each file there is a message queue of the host's IPC namespace, which
// the kernel checks by its owner: root inside would read and write the
// queues of every uid it maps, as mq_open(2) in the host's IPC namespace
// would (refused there: refuseHostIPC).
func (c *compiler) mqueueBindRefused(src string, recursive bool) string {
	real, _, ok := bindSource(src)
	if !ok {
		return ""
	}
	const why = ": each file there is a POSIX message queue of the host's, which the kernel checks by its owner, and root inside would read and write the queues of every uid it maps; give the environment its own (type: mqueue, with ipc in namespaces)"
	mounts, err := c.hostMounts()
	if err != nil {
		return fmt.Sprintf("a bind of %s: the host's mount table, to tell whether it is on the host's mqueue, could not be read: %v", src, err)
	}
	if m := mountOf(mounts, real); m.FSType == "mqueue" {
		return fmt.Sprintf("%s is a folder of the host's mqueue mounted at %s%s", src, m.Point, why)
	}
	if m, ok := mountBelow(mounts, real, map[string]bool{"mqueue": true}); ok && recursive {
		return fmt.Sprintf("a recursive bind of %s brings the host's mqueue at %s along%s", src, m.Point, why)
	}
	return ""
}

// mountOf is the mount of mounts that p is on: the last one at the
// longest mount point that holds it (a later mount at the same point is
// on top).
func mountOf(mounts []cgroup.Mount, p string) cgroup.Mount {
	var on cgroup.Mount
	best := -1
	for _, m := range mounts {
		if within(p, m.Point) && len(m.Point) >= best {
			on, best = m, len(m.Point)
		}
	}
	return on
}

// devWritable refuses, outside a user namespace that maps root
// elsewhere, a writable bind of a folder of the host's devices and a
// writable dir root that is or holds one (helper-93's review, the
// CVE-2025-31133 class): nodev stops an open, not a link or a chmod, and
// root inside (CAP_FOWNER, CAP_CHOWN) hard-linked the host's disk as the
// host's /dev/null, which host processes write to and which every
// environment's masks and /dev/null bound, or would make /dev/sda
// every host user's (chmod 666). Read-only, nothing there changes.
func (ec *envCompiler) devWritable() {
	// Read-only by a flag root inside lifts is writable (liftedwrites.go:
	// before helper-124's review a read-only bind of a host's device
	// node, with SYS_ADMIN in a user namespace that maps root to the
	// host's, planned, and root inside remounted it read-write and
	// chmod'ed the host's node 666).
	lifts := ec.unlocksOwnMounts()
	why := func(readonly bool) string {
		if readonly {
			return liftedWhy
		}
		return ""
	}
	if r := ec.e.Rootfs; (!r.Readonly || lifts) && !r.Overlay {
		if w := ec.devRootWhy(r); w != "" {
			ec.errorf(r.Pos, ec.field+".rootfs.readonly", "%s%s", w, why(r.Readonly))
		}
	}
	for i, m := range ec.e.Mounts {
		if m.Readonly && !lifts {
			continue
		}
		if w := ec.devBindWhy(m); w != "" {
			ec.errorf(m.Pos, ec.mountField(i)+".readonly", "%s%s", w, why(m.Readonly))
		}
	}
}

const devWhy = ": root inside would change the host's device nodes through it (nodev stops opening them, not a hard link, a rename or a chmod: the host's disk linked as its /dev/null, or made every host user's)"

// devRootWhy says why a writable dir root r is refused by devWritable,
// "" if it is not.
func (ec *envCompiler) devRootWhy(r spec.Rootfs) string {
	if r.Dir == "" {
		return ""
	}
	if real, on, ok := bindSource(r.Dir); ok {
		if w := ec.devFolderWhy(r.Dir, real, on, true, devWhy); w != "" {
			return w + "; " + ec.readonlyWay(roRoot) + ", or bind the nodes it needs one by one"
		}
	}
	return ""
}

// devBindWhy says why m, a writable bind, is refused by devWritable, ""
// if it is not.
func (ec *envCompiler) devBindWhy(m spec.Mount) string {
	if m.Type != spec.MountBind {
		return ""
	}
	real, on, ok := bindSource(m.Source)
	if !ok || ec.ownMountInDev(real) {
		return ""
	}
	if st, err := os.Stat(real); real == on && err == nil && st.Mode()&(os.ModeDevice|os.ModeCharDevice) != 0 {
		// One node: the bind is the host's inode, which root inside
		// would chmod 666 for every host user (helper-94's review).
		// Read-only, the device still reads and writes.
		return fmt.Sprintf("%s is a device node of the host's: root inside would change it through a writable bind (chmod 666 makes the device every host user's; nodev stops opening it, not a chmod); %s (the device still reads and writes: only its node is kept from changing)", m.Source, ec.readonlyWay(roField))
	}
	if w := ec.devFolderWhy(m.Source, real, on, m.Recursive, devWhy); w != "" {
		return w + "; " + ec.readonlyWay(roField) + ", or bind the nodes it needs one by one, read-only (source: /dev/kvm, readonly: true)"
	}
	return ""
}

// ownMountInDev says whether p is on a mount of its own below the host's
// /dev that holds no devices (/dev/shm, /dev/mqueue): nothing there is a
// node of the host's.
func (c *compiler) ownMountInDev(p string) bool {
	mounts, err := c.hostMounts()
	if err != nil {
		return false
	}
	m := mountOf(mounts, p)
	return within(m.Point, "/dev") && m.Point != "/dev" && !devFS[m.FSType]
}
