package planner

// A mount's target whose last component is a symlink of a root tree the
// plan knows (a dir root's, a closure's or a host root's: /lib64 with
// lib64 -> usr/lib64). Apply resolves a target inside the root
// following the links on its way, not its last one (a link there fails
// the step with ELOOP: a target swapped for a link since the plan,
// CVE-2021-30465, TestRootMountTargetSwappedForLink), so such a spec
// planned and apply failed at the mount (helper-137's). runc mounts
// where the link leads (securejoin), and nsup already lands a target
// through the links on its way (viewMounts, landing): the plan now
// follows the last one too, and writes the target where it leads
// (/usr/lib64), which apply opens following no link at its end. A note
// says so. Refused, with the path to write: a link that leads to the
// root itself, or round in circles, and one in the host folder of an
// earlier bind (or a volume), below which apply follows no link at all.
// A tar root's tree is known by its archive's shape (tarshape.go); when
// it is not (too large), apply refuses such a target, and says what to
// write (launched.go). Nothing for OCI export
// (the runtime resolves the target itself, as runc does) or a joined
// mount namespace (nothing is mounted).

import (
	"fmt"
	"path"
	"slices"

	"github.com/nsup/nsup/spec"
)

// targetLinks rewrites, in a copy of the environment, each mount's
// target whose last component is a symlink of the root's tree (as the
// mounts before it show it) to where the link leads. Called once the
// tree is known and before anything reads the targets: a closure's or
// host root's before its mount points are made (mountPoints makes the
// one it leads to).
func (ec *envCompiler) targetLinks() {
	if ec.opts.Export || ec.joined(spec.NSMount) != nil {
		return
	}
	base := ec.baseView()
	if base == nil || ec.e.Rootfs.Dir != "" && (ec.root == "" || ec.root == "/") {
		return
	}
	copied := false
	for i := len(ec.hostBinds); i < len(ec.e.Mounts); i++ {
		m := ec.e.Mounts[i]
		if m.Target == "/" {
			continue
		}
		t, origin := mountedView(base, ec.viewsBefore(i), &ec.stats)
		l, ok := lastLink(t, origin, m.Target)
		if !ok {
			continue
		}
		field := ec.mountField(i) + ".target"
		f, to, stuck := l.f, l.to, l.stuck
		switch {
		case stuck != "":
			s, _ := t(stuck)
			what := m.Target + " is"
			if stuck != l.at {
				what = fmt.Sprintf("%s is a symlink of the root (-> %q) that leads through %s,", m.Target, f.Link, stuck)
			}
			ec.errorf(m.Pos, field, "%s a symlink (-> %q) in the folder mounted at %s (%s), below which apply follows no link: the mount would fail (ELOOP); write the target as the path the link leads to", what, s.Link, ec.targetOf(origin(stuck)), origin(stuck))
			continue
		case l.loop:
			ec.errorf(m.Pos, field, "%s is a symlink of the root (-> %q) that leads round in circles (ELOOP): apply could not mount there; write the target as a path with no symlink at its end", m.Target, f.Link)
			continue
		case to == "/":
			ec.errorf(m.Pos, field, "%s is a symlink of the root (-> %q) that leads to the root itself, where a mount cannot go: write the target as a folder of the root", m.Target, f.Link)
			continue
		}
		if k := ec.kernelBelow(i, to); k >= 0 {
			// /etc/mtab -> ../proc/self/mounts, a proc at /proc: the bind
			// went over the child stage's own /proc/PID/mounts, the plan
			// saying /proc/self/mounts, and /etc/mtab read the mounts
			// (helper-143's survey).
			ec.errorf(m.Pos, field, "%s is a symlink of the root (-> %q) that leads to %s, in the %s mounted at %s (%s), a tree of the kernel's, which the plan does not know and apply would mount over as the process that looks sees it (its child stage's /proc/self): the mount would not be where the link is read; remove the link from the root, or mount at another target", m.Target, f.Link, to, ec.e.Mounts[k].Type, ec.e.Mounts[k].Target, ec.mountField(k))
			continue
		}
		if !copied {
			ne := *ec.e
			ne.Mounts = slices.Clone(ec.e.Mounts)
			ec.e, copied = &ne, true
		}
		ec.e.Mounts[i].Target = to
		ec.views = nil // worked out again, from where it lands
		ec.coveredByLink(i, m.Target)
		ec.notes = append(ec.notes, fmt.Sprintf("%s: %s is a symlink of the root (-> %q): mounted where it leads, at %s (apply follows no link at a target's end)", field, m.Target, f.Link, to))
	}
	// Worked out again once the tree is whole (a closure's mount points
	// are made after this).
	ec.views = nil
}

// coveredByLink refuses a mount listed before the ith, whose target was
// written as the link, when it lands below where that link leads: the
// ith, mounted after it, covers it whole (shadowedByLater's, which goes
// by the targets as written: a tmpfs at /lnk/sub before a bind at /lnk,
// /lnk -> real, was refused so before the plan followed a link at a
// target's end).
func (ec *envCompiler) coveredByLink(i int, written string) {
	to := ec.e.Mounts[i].Target
	views := ec.viewsBefore(i)
	for k, n := 0, 0; k < i && n < len(views); k++ {
		if views[n].field != ec.mountField(k) {
			continue // no view: the mount's own error
		}
		m, at := ec.e.Mounts[k], views[n].target
		n++
		if k < len(ec.hostBinds) || at == to || !within(at, to) || within(m.Target, to) {
			continue // as written, shadowedByLater's
		}
		ec.errorf(m.Pos, ec.mountField(k), "the %s at %s, which lands at %s, lies below %s at %s, listed after it, a symlink of the root to %s, where it is mounted after it and covers it whole: it would not be seen, and what it is to hide would be; list it after %s", m.Type, m.Target, at, ec.mountField(i), written, to, ec.mountField(i))
	}
}

// kernelBelow is the index of the last mount before the ith that is a
// kernel filesystem (proc, sysfs, devpts, mqueue: trees the plan does not
// know) and to lies below, or -1.
func (ec *envCompiler) kernelBelow(i int, to string) int {
	for k := i - 1; k >= 0; k-- {
		m := ec.e.Mounts[k]
		switch m.Type {
		case spec.MountProc, spec.MountSysfs, spec.MountDevpts, spec.MountMqueue:
			if to != m.Target && within(to, m.Target) {
				return k
			}
		}
	}
	return -1
}

// viewsBefore are the views (viewMounts) of the mounts before the ith.
func (ec *envCompiler) viewsBefore(i int) []viewMount {
	views := ec.viewMounts()
	n := 0
	for k := 0; k < i && n < len(views); k++ {
		if views[n].field == ec.mountField(k) {
			n++
		}
	}
	return views[:n]
}

// targetOf is the target, as written, of the mount the spec key field
// names.
func (ec *envCompiler) targetOf(field string) string {
	for i, m := range ec.e.Mounts {
		if ec.mountField(i) == field {
			return m.Target
		}
	}
	return field
}

// endLink is a path whose last component is a symlink of a tree (at,
// its folder's links followed: f) and where it leads (lastLink).
type endLink struct {
	at, to, stuck string
	f             File
	loop          bool
}

// lastLink is where p leads when its last component, once its folder's
// links are followed (landing), is a symlink of t (false if it is not):
// each link on the way followed, as the kernel would with the tree as
// the root, up to a path that is no link, or missing (then the rest as
// written: apply makes it); loop after more links than the kernel
// follows (ELOOP). stuck is a link met in the folder of a mount
// (origin), below which apply follows none: not followed then.
func lastLink(t treeView, origin func(string) string, p string) (endLink, bool) {
	l := endLink{at: path.Join(landing(t, path.Dir(p)), path.Base(p))}
	f, ok := t(l.at)
	if !ok || f.Type != "symlink" {
		return l, false
	}
	l.f = f
	w := walkPath(t, l.at, walkHow{byName: true, link: func(at string, _ File) bool { return origin(at) == "" }})
	switch w.end {
	case walkLink:
		l.stuck = w.at
	case walkLoop:
		l.loop = true
	default:
		l.to = w.cur
	}
	return l, true
}

// confinedLink is where a path of security.masked_paths or
// readonly_paths leads when it is, at its end, a symlink of a known
// root's tree (/etc/secret -> ../data/secret): masked (or made
// read-only) there, as runc's mount of it follows the link, with a note.
// Apply places such a mount on no link at its end: the path as written
// failed the step with ELOOP, saying the link was new since the plan.
// A link the plan cannot follow (round in circles, to the root, in a
// bind's host folder) is left as written: apply refuses it.
func (ec *envCompiler) confinedLink(p, field string) string {
	base := ec.baseView()
	if base == nil || ec.opts.Export || ec.joined(spec.NSMount) != nil || p == "/" {
		return p
	}
	t, origin := mountedView(base, ec.viewMounts(), &ec.stats)
	l, ok := lastLink(t, origin, p)
	if !ok || l.stuck != "" || l.loop || l.to == "/" {
		return p
	}
	ec.notes = append(ec.notes, fmt.Sprintf("%s: %s is a symlink of the root (-> %q): confined where it leads, at %s (apply follows no link at a path's end)", field, p, l.f.Link, l.to))
	return l.to
}
