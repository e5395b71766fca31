package planner

import "github.com/nsup/nsup/spec"

// nestedMounts is, for each of mounts, the last mount before it whose
// target holds its own strictly (-1 for none), when that one is a bind
// and it is a bind or a tmpfs: the mount is then resolved beneath the
// bind's held fd (Mount.Beneath), not from the root by its path again.
// Before helper-54's review it was: another environment that may write
// the tree (the same dir root with readonly: false) renamed the folder
// the bind had just been mounted on and put a folder of its own in its
// place, so a read-only bind of a host folder below a writable one went
// there, and root inside wrote the host's folder at the bind's new name.
func nestedMounts(mounts []spec.Mount) []int {
	parent := make([]int, len(mounts))
	for j, m := range mounts {
		parent[j] = -1
		if m.Type != spec.MountBind && m.Type != spec.MountTmpfs {
			continue
		}
		for k := j - 1; k >= 0; k-- {
			t := mounts[k].Target
			if t != "/" && m.Target != t && within(m.Target, t) {
				if mounts[k].Type == spec.MountBind {
					parent[j] = k
				}
				break
			}
		}
	}
	return parent
}
