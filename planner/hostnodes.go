package planner

// Device nodes left in a host folder: CAP_MKNOD with a writable mount of
// one.

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// nodesLeftOnHost refuses, with CAP_MKNOD kept outside a user namespace
// that maps root elsewhere (nodesMadeOpen asks), a writable bind (or
// volume) of a host folder, and a writable dir root, whose host
// filesystem is mounted without nodev, or (recursive) with a writable
// mount without nodev below it: a node root inside makes there stays in
// the host's folder, where the host's own mount opens it for any user who
// may reach the folder, and another environment's bind of it with dev
// too (a review made a 0666 /dev/kmsg node in a bound folder, nodev
// inside, and a host user wrote the kernel log through it). A folder on
// a nodev (or read-only) filesystem of the host may be bound writable.
func (ec *envCompiler) nodesLeftOnHost() {
	const msg = "with CAP_MKNOD kept, root inside can leave a device node of the host's (its disk, /dev/kmsg) in this host folder, whose filesystem the host mounts without nodev: any host user who reaches the folder, or an environment binding it with dev, opens it (nsup confines no device by cgroup): drop MKNOD (security.capabilities), make it read-only, or give the environment a user namespace"
	r := ec.e.Rootfs
	if r.Dir != "" && !r.Readonly && !r.Overlay && ec.hostNodesWork(r.Dir, true) {
		ec.errorf(r.Pos, ec.field+".rootfs.readonly", "%s", msg)
	}
	for i, m := range ec.e.Mounts {
		if m.Type == "bind" && !m.Readonly && ec.hostNodesWork(m.Source, m.Recursive) {
			ec.errorf(m.Pos, ec.mountField(i)+".readonly", "%s", msg)
		}
	}
}

// hostNodesWork says whether root inside could make a device node that
// opens on the host in the host folder p (or, missing, where it would be
// made): its filesystem is mounted writable and without nodev, or,
// recursive, so is one mounted below it.
func (ec *envCompiler) hostNodesWork(p string, recursive bool) bool {
	if nodesWorkAt(p) {
		return true
	}
	if !recursive {
		return false
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return false // missing: nothing is mounted below it
	}
	mounts, err := ec.compiler.hostMounts()
	if err != nil {
		return true // not known: as if they did
	}
	for _, m := range mounts {
		if m.Point != real && within(m.Point, real) && nodesWorkAt(m.Point) {
			return true
		}
	}
	return false
}

// nodesWorkAt says whether the filesystem at p (or, missing, where it
// would be made) is mounted writable and without nodev.
func nodesWorkAt(p string) bool {
	for {
		var st unix.Statfs_t
		err := unix.Statfs(p, &st)
		if err == nil {
			return st.Flags&(unix.ST_NODEV|unix.ST_RDONLY) == 0
		}
		if !os.IsNotExist(err) {
			return true // not known: as if they did
		}
		up := filepath.Dir(p)
		if up == p {
			return true
		}
		p = up
	}
}
