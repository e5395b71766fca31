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

// devBinds refuses, outside a user namespace that maps root elsewhere,
// the option dev on a bind of a folder of the host's devices, and
// rootfs.dev on a dir root that is or holds one (devBindRefused).
func (ec *envCompiler) devBinds() {
	if ec.joined(spec.NSMount) != nil || ec.confiningUserNS() {
		return
	}
	if r := ec.e.Rootfs; r.Dir != "" && r.Dev {
		// Bound recursively as the environment's / (an overlay's lower
		// shows no mount below it).
		if why := ec.devBindRefused(r.Dir, !r.Overlay); why != "" {
			ec.errorf(r.Pos, ec.field+".rootfs.dev", "%s", why+"; remove dev: true")
		}
	}
	for i, m := range ec.e.Mounts {
		if m.Type != spec.MountBind || !slices.Contains(m.Options, "dev") {
			continue
		}
		if why := ec.devBindRefused(m.Source, m.Recursive); why != "" {
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
func (c *compiler) devBindRefused(src string, recursive bool) string {
	real, on, ok := bindSource(src)
	if !ok {
		return ""
	}
	if real == on {
		if st, err := os.Stat(real); err != nil || !st.IsDir() {
			return "" // one node (or file): the spec gives that one; a stat error is the bind's
		}
	}
	const why = ": with dev, root inside would open every device of the host's (its disks, /dev/kmsg) through it, read-only or not and without CAP_MKNOD, as nsup confines no device by cgroup; bind the nodes it needs one by one (source: /dev/kvm, options: [dev]), give the environment its own /dev (type: dev), or a user namespace"
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
