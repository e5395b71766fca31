package planner

import (
	"path"

	"github.com/nsup/nsup/spec"
)

// linkedBelowBind refuses the ith mount when its target, in a dir root,
// passes through a symlink of the tree and so leads to or below a bind
// listed before it whose target its own path is not below
// (nestedMounts goes by the path as written): apply resolves the target
// by path from the root, not beneath that bind's held fd, and another
// environment that may write the tree replaces the link with a folder of
// its own before that. Before helper-57's review such a mount was
// planned: a read-only bind at /lnk/conf, /lnk a link to data, below a
// writable bind at /data, went to that folder, and root inside wrote
// the host's folder it was to make read-only.
//
// So is a masked or read-only path of the root's own (i is then
// len(e.Mounts)), placed by its path after every mount: masked_paths:
// [/lnk/secret] went to the writer's folder the same way. An overlaid
// dir root the same: the overlay shows its lower folder's links as they
// are when apply looks the path up.
//
// And so is one that so leads below a proc, a sysfs or a dev of the
// spec's (heldMount), whose paths are resolved beneath its fd only when
// written below its target (helper-65's review): masked_paths:
// [/lnk/keys], /lnk -> proc, was the root's own path, looked for in the
// tree at plan time (skipped, proc's folder empty there) or, when the
// tree held such a file, masked by its path after every mount; the
// writer of the tree replaced the link with a folder of its own before
// apply, and root inside read the real /proc/keys.
//
// A mount (not a masked or read-only path, which in a tmpfs hides
// nothing the tree's writer could want) is refused so below any earlier
// mount, a tmpfs or an mqueue too (helper-66's review): /opt/new with
// /opt a link to a tmpfs's /tmp at plan time was placed by its path,
// its walk crossing mounts (walkCrossesNoMount: it leads into the
// tmpfs), and the writer of the tree pointed /opt at /data/conf after
// the plan, so its missing folder was made in the host folder the
// spec binds there read-only after; so was /x/t/inner with a tmpfs at
// /lnk/t, /lnk -> x, once /lnk led elsewhere and /x to /data/conf.
func (ec *envCompiler) linkedBelowBind(i int, target string, pos spec.Pos, field string) {
	e := ec.e
	if e.Rootfs.Dir == "" || ec.root == "" {
		return
	}
	if len(ec.treeTargets) != len(e.Mounts) {
		ec.treeTargets = make([]treeTarget, len(e.Mounts))
	}
	// below is the earlier bind, proc, sysfs or dev (of a mount's, any
	// earlier mount) whose target holds p (-1 if none): what follows p
	// is that mount's, not the tree. Its target as
	// written, or as the tree's links lead it (helper-62's review: a
	// writable bind at /a/b, /a -> x, and a read-only one at /x/b/conf
	// were placed by path, the writer of the tree pointed /a elsewhere
	// before apply, and root inside wrote the host's conf there).
	below := func(p string) int {
		for k := i - 1; k >= 0; k-- {
			m := e.Mounts[k]
			if t := m.Target; (m.Type == spec.MountBind || heldMount(m) || i < len(e.Mounts)) && t != "/" && (within(p, t) || ec.treeTargets[k].at != "" && within(p, ec.treeTargets[k].at)) {
				return k
			}
		}
		return -1
	}
	// what names mount k in an error: "the bind", "the proc".
	what := func(k int) string {
		if e.Mounts[k].Type == spec.MountBind {
			return "the bind"
		}
		return "the " + e.Mounts[k].Type
	}
	// The walk by path from the root, stopped below such a mount: link
	// is the first symlink of the tree on its way (-> to).
	link, to := "", ""
	w := walkPath(dirTree(ec.root, &ec.stats), target, walkHow{
		byName: true,
		link: func(at string, f File) bool {
			if link == "" {
				link, to = at, f.Link
			}
			return true
		},
		stop: func(cur string) bool { return below(cur) >= 0 },
	})
	if w.end == walkLoop {
		return
	}
	at := path.Join(w.cur, w.rest)
	if i < len(e.Mounts) && link != "" {
		ec.treeTargets[i] = treeTarget{at: at, link: link, to: to}
	}
	k := below(w.cur)
	if k < 0 {
		return
	}
	switch t := e.Mounts[k].Target; {
	case within(target, t):
	case link != "":
		ec.errorf(pos, field, "%s passes through the symlink %s of the root (-> %q) and leads below %s at %s (%s), to %s: it would be placed by its path, not beneath that mount's fd, and an environment that may write the tree could replace the link with a folder of its own; name the path it leads to", target, link, to, what(k), t, ec.mountField(k), at)
	default:
		l := ec.treeTargets[k]
		ec.errorf(pos, field, "%s lies below %s at %s (%s), whose target passes through the symlink %s of the root (-> %q) to %s: it would be placed by its path, not beneath that mount's fd, and an environment that may write the tree could point the link elsewhere; name that mount's target by the path it leads to, or this one below %s", target, what(k), t, ec.mountField(k), l.link, l.to, l.at, t)
	}
}

// treeTarget is a mount's target as a dir root's symlinks lead it: at,
// through the first link followed, link (-> to).
type treeTarget struct{ at, link, to string }
