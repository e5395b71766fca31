package planner

// A mount's target whose way leads, through the root's links, to a file.
// Apply resolves a target in the root's own tree following its links
// (RESOLVE_IN_ROOT), so a tmpfs at /a/x with a -> data, a file of the
// root, fails there with ENOTDIR; the kind checks left a path through a
// link to apply (helper-155's review found it for tar roots; the same
// holds for dir, closure and host roots).

import "github.com/nsup/nsup/spec"

// linkedToFile refuses the ith mount, whose target lies in the root's own
// tree (not below an earlier bind), when the way to it passes, through
// a link of the tree, a component that is a file (or another non-folder)
// of the root: true when it did. The walk sees the mounts listed before
// it; a non-folder one of them shows is theirs to check
// (stackedKindFits).
func (ec *envCompiler) linkedToFile(i int) bool {
	if ec.opts.Export || ec.joined(spec.NSMount) != nil {
		return false
	}
	base := ec.baseView()
	if base == nil {
		return false
	}
	m := ec.e.Mounts[i]
	view, origin := mountedView(base, ec.viewsBefore(i), &ec.stats)
	if w := walkPath(view, m.Target, walkHow{link: never}); w.end != walkLink {
		return false // no link on the way: the other checks' case
	}
	w := walkPath(view, m.Target, walkHow{})
	if w.end != walkNotDir || origin(w.at) != "" {
		return false
	}
	f, _ := view(w.at)
	ec.errorf(m.Pos, ec.mountField(i)+".target", "%s leads through the root's links to %s, a %s of the root, not a folder: apply could not reach the target (ENOTDIR); mount at another target", m.Target, w.at, f.Type)
	return true
}
