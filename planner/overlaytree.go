package planner

// An overlay root of nsup's cache (a closure or host root with
// overlay: true, and every tar root: overlaid) when root inside the
// environment's user namespace is
// another host uid (mappedRoot): that uid may not search the cache's
// 0700 folders, so the child cannot open the overlay's lower folder by
// path. The plan refused it (helper-108's stop); helper-111 made it work:
// the host clones the tree before the clone (OpenTree, hosttree.go),
// idmaps the clone through the child's user namespace once its maps are
// written (IdmapTree), and the child moves the clone onto "/" of its
// mount namespace and lays the overlay on it, the overlay's fd the root's
// handle (Overlay.HostTree).
//
// Why the idmap: the cache's files are the host's root's (uid 0), which
// the child's maps do not hold. Read through a plain clone they are
// nobody's inside, and overlayfs's copy-up, which gives the upper file the
// lower one's owner in the child's tmpfs, fails (EOVERFLOW) for each of
// them: root inside could write no file of the tree. Through the idmapped
// clone the host's uid 0 is root inside (host uid 100000 on disk of the
// upper tmpfs), as a root in the environment's own maps would be.

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// IdmapTree (a host step, after the child's id maps are written) makes
// the host's clone of Path (an OpenTree step's, not yet attached) an
// idmapped mount (mount_setattr(2) MOUNT_ATTR_IDMAP, AT_RECURSIVE if
// Recursive) through the child's user namespace (/proc/$CHILD/ns/user):
// a file the host's uid 0 owns is root inside's. For says what the tree
// is for.
type IdmapTree struct {
	Path      string `json:"path"`
	Recursive bool   `json:"recursive,omitempty"`
	For       string `json:"for"`
}

func (IdmapTree) Syscall() string { return "mount_setattr" }
func (IdmapTree) Kind() string    { return "idmap_tree" }
func (IdmapTree) isOp()           {}

func (op IdmapTree) text() string {
	rec := ""
	if op.Recursive {
		rec = "|AT_RECURSIVE"
	}
	return fmt.Sprintf("mount_setattr(the host's clone of %s, AT_EMPTY_PATH%s, MOUNT_ATTR_IDMAP, userns_fd of /proc/$CHILD/ns/user): %s, its files seen through the child's id maps (the host's uid 0 is root inside)", q(op.Path), rec, op.For)
}

// overlayTreeFor is OpenTree.For and IdmapTree.For of an overlay root.
const overlayTreeFor = "the overlay root's lower layer"

// overlayKernel is the first Linux release whose overlayfs takes a layer
// on an idmapped mount (5.19; before, "idmapped layers are currently not
// supported", EINVAL).
var overlayKernel = [2]int{5, 19}

// overlayTree plans the host's clone of the overlay root's tree at
// ec.root, and its idmap (after the maps: idmapTrees), when root inside
// is mapped elsewhere; false (the child opens the lower folder by path)
// otherwise. A kernel older than overlayKernel is refused here.
func (ec *envCompiler) overlayTree(pos spec.Pos, field string) bool {
	if !ec.hostTree(pos, ec.root, true, overlayTreeFor) {
		return false
	}
	ec.idmapped = append(ec.idmapped, IdmapTree{Path: ec.root, Recursive: true, For: overlayTreeFor})
	ec.idmappedPos = pos
	release := ec.opts.KernelRelease()
	if !kernelAtLeast(release, overlayKernel) {
		if !ec.e.Rootfs.Overlay {
			// A tar root is laid as an overlay with or without the key
			// (overlaid): no overlay is no way out. At the tar key, which
			// the message names.
			ec.errorf(ec.e.Rootfs.TarPos, field+".tar", "a tar root is laid as an overlay of nsup's cache entry (the entry is never written), and with root inside mapped to another host uid its lower layer is the host's clone of the tree idmapped through the environment's user namespace, which overlayfs takes from Linux %d.%d on (this kernel is %s); use a dir root of the unpacked archive, or an idmap that maps root inside to the host's root", overlayKernel[0], overlayKernel[1], release)
		} else {
			ec.errorf(pos, field+".overlay", "an overlay root in nsup's cache, with root inside mapped to another host uid, has the host's clone of the tree idmapped through the environment's user namespace as its lower layer, which overlayfs takes from Linux %d.%d on (this kernel is %s); use a dir root, no overlay, or an idmap that maps root inside to the host's root", overlayKernel[0], overlayKernel[1], release)
		}
	}
	return true
}

// overlaid says whether the root r is laid as an overlay whose lower
// layer is its tree: with overlay: true, and always for a tar root,
// whose tree is nsup's cache entry of the archive. Without overlay: true
// that overlay is read-only (remounted so once the mounts are made) and
// its upper layer, a tmpfs of the environment's, only holds the mount
// targets the archive lacks: before, the child made them in the entry
// itself, and every later environment of the same archive saw them.
func overlaid(r spec.Rootfs) bool { return r.Overlay || r.Tar != "" }

// rootTree plans the host's clone of the cache's root tree at ec.root
// for the child (hostTree; an overlay's lower layer: overlayTree); false
// if the child opens it by path.
func (ec *envCompiler) rootTree(r spec.Rootfs, field string) bool {
	if overlaid(r) {
		return ec.overlayTree(r.Pos, field)
	}
	return ec.hostTree(r.Pos, ec.root, true, "the root")
}

// idmapTrees plans the idmaps overlayTree asked for, once the maps are
// written (userMaps).
func (ec *envCompiler) idmapTrees() {
	for _, op := range ec.idmapped {
		ec.add(Host, ec.idmappedPos, op)
	}
}

// kernelAtLeast says whether release (uname -r: "6.18.4-arch1") is
// min or later; false if it does not say.
func kernelAtLeast(release string, min [2]int) bool {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return false
	}
	major, err := strconv.Atoi(parts[0])
	if err != nil {
		return false
	}
	minor := parts[1]
	if i := strings.IndexFunc(minor, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minor = minor[:i]
	}
	m, err := strconv.Atoi(minor)
	if err != nil {
		return false
	}
	return major > min[0] || major == min[0] && m >= min[1]
}

// kernelRelease is the default Options.KernelRelease: uname(2)'s.
func kernelRelease() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// procPidNSKernel is the first kernel checked to make proc for a pid
// namespace other than the caller's (fsconfig(2) "pidns", fs/proc/root.c).
var procPidNSKernel = [2]int{6, 18}

// procForPidNS says whether the child stage can join the pid namespace of
// j after its root switch (namespaces.go): its proc mounts, made before,
// are of that namespace through proc's "pidns" option, which an older
// kernel lacks (EINVAL). There, with a proc mount, the stage is born in it
// as before, and a note says what that leaves open.
func (ec *envCompiler) procForPidNS(j joinRef) bool {
	release := ec.opts.KernelRelease()
	if kernelAtLeast(release, procPidNSKernel) || !slices.ContainsFunc(ec.e.Mounts, func(m spec.Mount) bool { return m.Type == spec.MountProc }) {
		return true
	}
	ec.notes = append(ec.notes, fmt.Sprintf("%s: this kernel (%s) cannot make proc for a pid namespace from outside it (proc's pidns option, Linux %d.%d): nsup's child stage is born in %s and seen there until its execve, its /proc/PID/root the host's root until its root switch: root there with CAP_SYS_PTRACE on the host (of another runtime's container, say) could reach the host's files through it; on a newer kernel the stage joins it only after its root switch",
		keyField(ec.field+".join", j.t), release, procPidNSKernel[0], procPidNSKernel[1], j.ref))
	return false
}
