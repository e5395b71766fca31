package planner

import (
	"os"
	"path"
	"path/filepath"

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
func (ec *envCompiler) linkedBelowBind(i int, target string, pos spec.Pos, field string) {
	e := ec.e
	if e.Rootfs.Dir == "" || ec.root == "" {
		return
	}
	// below is the earlier bind whose target holds p (-1 if none): what
	// follows p is that bind's source, not the tree.
	below := func(p string) int {
		for k := i - 1; k >= 0; k-- {
			if t := e.Mounts[k].Target; e.Mounts[k].Type == spec.MountBind && t != "/" && within(p, t) {
				return k
			}
		}
		return -1
	}
	rest, cur, link, to := closurePathParts(target), "/", "", ""
	for n := 0; ; {
		if k := below(cur); k >= 0 || len(rest) == 0 {
			if k >= 0 && link != "" && !within(target, e.Mounts[k].Target) {
				ec.errorf(pos, field, "%s passes through the symlink %s of the root (-> %s) and leads below the bind at %s (%s): it would be placed by its path, not beneath that bind's fd, and an environment that may write the tree could replace the link with a folder of its own; name the path it leads to (a mount: list it right after that bind)", target, link, to, e.Mounts[k].Target, ec.mountField(k))
			}
			return
		}
		name := rest[0]
		rest = rest[1:]
		if name == ".." {
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, name)
		fi, err := os.Lstat(filepath.Join(ec.root, next))
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			cur = next
			continue
		}
		t, err := os.Readlink(filepath.Join(ec.root, next))
		if n++; err != nil || n > maxSymlinks {
			return
		}
		if link == "" {
			link, to = next, t
		}
		if path.IsAbs(t) {
			cur = "/"
		}
		rest = append(closurePathParts(t), rest...)
	}
}
