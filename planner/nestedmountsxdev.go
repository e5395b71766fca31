package planner

import (
	"strings"

	"github.com/nsup/nsup/spec"
)

// walkCrossesNoMount says whether the folders that mount i of a dir root
// lacks are made by a walk that crosses no mount (Mount.NoXDev): the
// mount is placed by its path from the root (parent, from nestedMounts,
// is -1, and it is beneath no held mount), its target crosses no earlier
// mount as written nor as the tree's links lead it (treeTargets, filled
// by linkedBelowBind for this mount just before), and no mount of the
// host's below the root (a recursive bind of it brings those) lies on
// either.
// Before helper-59's review the walk followed the tree's symlinks into
// any mount: a writer of the tree (another environment with the same dir
// root, readonly: false) put a link to /data/conf in the place of the
// target's parent folder after the plan, and the missing folder was made
// in the host folder bound there (read-only only after the mount).
func (ec *envCompiler) walkCrossesNoMount(i, parent int, beneath string) bool {
	ok, host := ec.walkCrossesOnlyHost(i, parent, beneath)
	return ok && !host
}

// walkFollowsNoLink says whether the folders that mount i of a dir root
// lacks are made by a walk that follows no symlink (Mount.NoLinks): as
// walkCrossesNoMount, but for a target that crosses a mount of the
// host's below the root (it lies on one), which its walk must cross, and
// whose path as planned passes no link of the tree. Before helper-68's
// review that walk followed links: the writer of the tree (another
// environment with the same dir root, whose recursive bind of it shows
// the host's mount, writable) put a link to /data/conf at rootfs/mnt/x
// after the plan of a tmpfs at /mnt/x/new, with a host tmpfs at
// rootfs/mnt, and the missing folder was made in the host folder the
// spec binds there read-only after.
func (ec *envCompiler) walkFollowsNoLink(i, parent int, beneath string) bool {
	ok, host := ec.walkCrossesOnlyHost(i, parent, beneath)
	return ok && host && (i >= len(ec.treeTargets) || ec.treeTargets[i].at == "")
}

// linkedOntoHostMount refuses mount i of a dir root whose target passes
// through a symlink of the tree at plan time and so leads onto a mount
// of the host's below the root (walkCrossesOnlyHost's host): its
// missing folders are made by a walk that must cross that mount, and
// walkFollowsNoLink's walk, which follows no link, would fail on the
// tree's own. Before helper-69's review it was walked following links:
// with a host tmpfs at rootfs/mnt and /lnk a link to mnt, the writer of
// the tree put a link to /data/conf at rootfs/mnt/x (or pointed /lnk
// there) after the plan of a tmpfs at /lnk/x/new, and the missing folder
// was made in the host folder the spec binds at /data/conf read-only
// after (TestRootMissingFolderLinkedToHostMount).
func (ec *envCompiler) linkedOntoHostMount(i, parent int, beneath string) {
	ok, host := ec.walkCrossesOnlyHost(i, parent, beneath)
	if !ok || !host || i >= len(ec.treeTargets) || ec.treeTargets[i].at == "" {
		return
	}
	m, l := ec.e.Mounts[i], ec.treeTargets[i]
	ec.errorf(m.Pos, ec.mountField(i)+".target", "%s passes through the symlink %s of the root (-> %q) and leads to %s, on a mount of the host's below the root: the folders it lacks would be made by a walk that crosses that mount and follows links, and an environment that may write the tree could point a link elsewhere after the plan (into a host folder bound inside); name the path it leads to", m.Target, l.link, l.to, l.at)
}

// walkCrossesOnlyHost says whether mount i crosses no earlier mount of
// the spec's as walkCrossesNoMount says (ok), and whether it crosses a
// mount of the host's below the root (host).
func (ec *envCompiler) walkCrossesOnlyHost(i, parent int, beneath string) (ok, host bool) {
	e := ec.e
	if e.Rootfs.Dir == "" || ec.root == "" || parent >= 0 || beneath != "" {
		return false, false
	}
	led := e.Mounts[i].Target
	if i < len(ec.treeTargets) && ec.treeTargets[i].at != "" {
		led = ec.treeTargets[i].at
	}
	// A target that is an earlier mount's own crosses it only where the
	// walk ends, and the walk runs only when the first lookup found
	// nothing there (helper-66's review: a second tmpfs at /a/x was
	// walked crossing mounts, and a writer of the tree that renamed /a
	// once the first was mounted and put a link to /data/conf in its
	// place had its folder made in the host folder bound there).
	crosses := func(p, t string) bool { return p != t && within(p, t) }
	for k := 0; k < i; k++ {
		t := e.Mounts[k].Target
		if t == "/" || crosses(led, t) || crosses(e.Mounts[i].Target, t) {
			return false, false
		}
		if k < len(ec.treeTargets) && ec.treeTargets[k].at != "" && within(led, ec.treeTargets[k].at) {
			return false, false
		}
	}
	return true, ec.hostMountCrossed(led, e.Mounts[i].Target)
}

// hostMountCrossed says whether a mount of the host's below the root's
// folder lies on one of paths (inside the root) or above it, where a
// walk of it crosses that mount, or the host's mount table could not be
// read. Before helper-66's review any host mount below the root (a tmpfs
// at rootfs/mnt) took NoXDev from every mount of it, and a link to
// /data/conf put in the place of /opt after the plan had a tmpfs's
// missing folder at /opt/new made in the host folder bound there.
func (ec *envCompiler) hostMountCrossed(paths ...string) bool {
	mounts, err := ec.compiler.hostMounts()
	if err != nil {
		return true
	}
	for _, hm := range mounts {
		if hm.Point == ec.root || !within(hm.Point, ec.root) {
			continue
		}
		at := strings.TrimPrefix(hm.Point, strings.TrimSuffix(ec.root, "/"))
		for _, p := range paths {
			if within(p, at) {
				return true
			}
		}
	}
	return false
}

// markWalk marks the mount at target among the steps from first on
// (the one mount(), or dev(), just planned by its path) as made by a walk
// that crosses no mount, or (noLinks) that follows no symlink.
func (ec *envCompiler) markWalk(first int, m spec.Mount, noLinks bool) {
	for j := first; j < len(ec.steps); j++ {
		if op, ok := ec.steps[j].Op.(Mount); ok && op.InRoot && op.Beneath == "" && op.Target == m.Target && op.Create != "" {
			op.NoXDev, op.NoLinks = !noLinks, noLinks
			ec.steps[j].Op = op
		}
	}
}
