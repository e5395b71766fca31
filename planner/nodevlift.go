package planner

// The option dev is refused on a bind of a folder of the host's devices
// in a user namespace that maps root elsewhere (userNSDevWhy); without
// it the bind is nodev. Root inside that keeps CAP_SYS_ADMIN in its user
// namespace clears that flag (mount -o remount,bind,dev): nsup set it in
// the environment's own mount namespace, where the kernel locks no flag
// (it locks those of a namespace copied from a more privileged user
// namespace's, and the host's /dev is not nodev). helper-128's review, as
// root with root mapped to 100000, /dev bound read-only and SYS_ADMIN
// kept: a host node of uid 100000, mode 0600, refused a write before the
// remount and took it after. Outside such a user namespace devWritable
// refuses these binds, read-only or not, when root inside lifts flags.

import (
	"slices"

	"github.com/nsup/nsup/spec"
)

// nodevLiftWhy is why nodevLifted refuses a bind, said after the place.
const nodevLiftWhy = ": root inside keeps CAP_SYS_ADMIN in its user namespace and lifts the nodev flag nsup sets on the bind (mount -o remount,bind,dev; the kernel locks no flag of a mount nsup makes in the environment's own mount namespace), then opens every node of the host's that a uid it maps owns or is granted (the terminals of those uids, whose keystrokes it would read and write into; rootless, the user's own, and the camera and sound a login gives the user); drop SYS_ADMIN, bind the nodes it needs one by one (source: /dev/kvm, readonly: true), or give the environment its own /dev (type: dev)"

// nodevLifted refuses, for root inside keeping CAP_SYS_ADMIN in a user
// namespace that maps root elsewhere, the environment's binds of folders
// of the host's devices without the option dev (with it, devBinds
// refuses them), and a dir root that is or holds one without dev.
func (ec *envCompiler) nodevLifted() {
	if !ec.unlocksOwnMounts() || !ec.confiningUserNS() {
		return
	}
	if r := ec.e.Rootfs; r.Dir != "" && !r.Dev {
		if w := ec.nodevLiftRefused(r.Dir, !r.Overlay); w != "" {
			ec.errorf(r.DirPos, ec.field+".rootfs.dir", "%s", w)
		}
	}
	for i, m := range ec.e.Mounts {
		if slices.Contains(m.Options, "dev") {
			continue // devBinds's
		}
		if w := ec.nodevLiftMount(m); w != "" {
			ec.errorf(m.Pos, ec.mountField(i), "%s", w)
		}
	}
}

// nodevLiftMount says why m, a bind without dev, is refused to root
// inside that lifts its nodev flag ("" if it is not).
func (ec *envCompiler) nodevLiftMount(m spec.Mount) string {
	if m.Type != spec.MountBind || ec.made[m.Source] == "volume" {
		return ""
	}
	return ec.nodevLiftRefused(m.Source, m.Recursive)
}

// nodevLiftRefused is devFolderWhy of src with nodevLiftWhy; a tmpfs of
// the host's /dev that holds no node (/dev/shm) is spared, as
// devWritable spares it.
func (c *compiler) nodevLiftRefused(src string, recursive bool) string {
	real, on, ok := bindSource(src)
	if !ok || c.ownMountInDev(real) {
		return ""
	}
	return c.devFolderWhy(src, real, on, recursive, nodevLiftWhy)
}
