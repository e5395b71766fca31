package planner

import "github.com/nsup/nsup/spec"

// nestedMounts is, for each of mounts, the last mount before it whose
// target holds its own strictly (-1 for none): the mount lies in that
// one, whatever its type. A mount below a bind (or below a mount that
// itself lies below one) is resolved beneath the bind's held fd
// (Mount.Beneath), wherever it is listed, not from the root by its path
// again. Before helper-54's review it was: another environment that may
// write the tree (the same dir root with readonly: false) renamed the
// folder the bind had just been mounted on and put a folder of its own
// in its place, so a read-only bind of a host folder below a writable
// one went there, and root inside wrote the host's folder at the bind's
// new name. (The executor holds one fd per held mount: a mount listed
// after another mount elsewhere, refused while it held one at a time,
// is resolved beneath the bind as well.)
func nestedMounts(mounts []spec.Mount) []int {
	parent := make([]int, len(mounts))
	for j, m := range mounts {
		parent[j] = -1
		for k := j - 1; k >= 0; k-- {
			t := mounts[k].Target
			if t != "/" && m.Target != t && within(m.Target, t) {
				parent[j] = k
				break
			}
		}
	}
	return parent
}

// mountBeneath is the target of the held mount that mount i, whose
// parent (nestedMounts) is k, is resolved beneath, or "": k itself when
// it is held, else the one k is resolved beneath (a tmpfs that no mount
// of the spec's lies below, an mqueue is not held: what lies below it,
// its confined paths, is resolved beneath the bind it lies in, through
// it). held and beneath are those of the mounts before i.
func mountBeneath(mounts []spec.Mount, k int, held []bool, beneath []string) string {
	switch {
	case k < 0:
		return ""
	case held[k]:
		return mounts[k].Target
	}
	return beneath[k]
}
