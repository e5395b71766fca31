package planner

// The trees of nsup's own folders (the cache's root trees, the named
// volumes) that the host clones for the child stage, when root inside the
// environment's user namespace is another host uid (mappedRoot), which
// may not search those folders (nsup makes them 0700): the child, born in
// its user namespace, cannot open them by path. helper-105 found apply
// failing there with EACCES; helper-108 made it work (the plan refused
// them between the two).

import (
	"fmt"

	"github.com/nsup/nsup/spec"
)

// OpenTree (a host step, before the clone) clones the tree at Path, a
// folder of nsup's own, as a detached mount (open_tree(2) with
// OPEN_TREE_CLONE, AT_RECURSIVE if Recursive), opened without a symlink
// in Path, made private (mount_setattr: no mount the child makes on it
// propagates to the host's peers of Path's mount); the child inherits the fd and moves the clone in (the Mount
// step of Path whose HostTree is set, one step per OpenTree, in order):
// it need not walk Path's folders, which root inside may not search.
// For says what the tree is for (the root, a volume).
type OpenTree struct {
	Path      string `json:"path"`
	Recursive bool   `json:"recursive,omitempty"`
	For       string `json:"for"`
}

func (OpenTree) Syscall() string { return "open_tree" }
func (OpenTree) Kind() string    { return "open_tree" }
func (OpenTree) isOp()           {}

func (op OpenTree) text() string {
	rec := ""
	if op.Recursive {
		rec = "|AT_RECURSIVE"
	}
	return fmt.Sprintf("open_tree(%s, OPEN_TREE_CLONE%s), no symlink in the path, made private: its fd for the child, %s", q(op.Path), rec, op.For)
}

// hostTree plans the host's clone of path for the child (what: For), and
// says so, when root inside is mapped elsewhere (mappedRoot); else the
// child opens path itself. Not for nsup export (the bundle or image gets
// a copy of the tree).
func (ec *envCompiler) hostTree(pos spec.Pos, path string, recursive bool, what string) bool {
	if _, _, ok := ec.mappedRoot(); !ok || ec.opts.Export {
		return false
	}
	ec.add(Host, pos, OpenTree{Path: path, Recursive: recursive, For: what})
	if ec.hostTrees == nil {
		ec.hostTrees = map[string]int{}
	}
	ec.hostTrees[path]++
	return true
}

// takeHostTree says whether a bind of source moves a tree the host
// cloned for the child (one per bind), and counts it taken.
func (ec *envCompiler) takeHostTree(source string) bool {
	if ec.hostTrees[source] == 0 {
		return false
	}
	ec.hostTrees[source]--
	return true
}

// hostTreeText is a bind's text when it moves the host's clone of its
// source in (Mount.HostTree); false if it does not.
func hostTreeText(op Mount, target string) (string, bool) {
	if !op.HostTree {
		return "", false
	}
	if !op.InRoot && op.Source == op.Target {
		return "move_mount(the host's clone of " + q(op.Source) + ", \"/\"), its fd the root's (the root's path is not walked)", true
	}
	held := ""
	if op.Held {
		held = ", its fd held"
	}
	return "move_mount(the host's clone of " + q(op.Source) + ", " + target + ")" + held + createOf(op), true
}
