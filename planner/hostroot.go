package planner

// A root of host folders (rootfs.host): an empty tree of nsup's (the
// mount points, the host's merged-/usr links) with the host's folders
// bound read-only at their own paths, as bubblewrap users write
// --ro-bind /usr /usr --symlink usr/bin /bin.

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nsup/nsup/spec"
)

// mergedUsr are the top folders a merged-/usr host makes links into /usr
// (/bin -> usr/bin): made in the tree when the host has the link and its
// target is in a bound folder.
var mergedUsr = []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// hostRootBinds puts the binds of rootfs.host before the spec's mounts
// (on a copy of the environment: the spec is shared), a folder before
// what is below it; a link of the host's is not bound but made. Each is read-only, nosuid and nodev, recursive as a
// bind is by default (bubblewrap's --ro-bind).
func (ec *envCompiler) hostRootBinds() {
	r := ec.e.Rootfs
	if len(r.Host) == 0 || ec.joined(spec.NSMount) != nil {
		return
	}
	order := make([]int, len(r.Host))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(r.Host[a].Value, r.Host[b].Value) })
	e := *ec.e
	e.Mounts = nil
	for _, i := range order {
		h := r.Host[i]
		if fi, err := os.Lstat(h.Value); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			continue // made as that link in the tree (hostRootTree)
		}
		e.Mounts = append(e.Mounts, spec.Mount{Pos: h.Pos, Type: spec.MountBind, Target: h.Value, Source: h.Value,
			Readonly: true, Recursive: true, Options: []string{"nosuid", "nodev"}})
		ec.hostBinds = append(ec.hostBinds, i)
	}
	e.Mounts = append(e.Mounts, ec.e.Mounts...)
	ec.e = &e
}

// mountField is the spec key of the ith entry of e.Mounts.
func (ec *envCompiler) mountField(i int) string {
	if i < len(ec.hostBinds) {
		return fmt.Sprintf("%s.rootfs.host[%d]", ec.field, ec.hostBinds[i])
	}
	return fmt.Sprintf("%s.mounts[%d]", ec.field, i-len(ec.hostBinds))
}

// hostRootTree makes the tree of a root of host folders: a symlink on the
// host listed in rootfs.host is made as that link (its target must be
// bound too); the merged-/usr links whose targets are bound; the mount
// points (neededDirs, by the caller); an empty file for a bound file.
func (ec *envCompiler) hostRootTree(r spec.Rootfs, field string) []string {
	ec.tree = map[string]File{}
	var paths []string
	bound := func(p string) bool {
		for _, h := range r.Host {
			if within(p, h.Value) {
				if fi, err := os.Lstat(h.Value); err == nil && fi.Mode()&os.ModeSymlink == 0 {
					return true
				}
			}
		}
		return false
	}
	link := func(p string, pos spec.Pos, f string, strict bool) {
		target, err := os.Readlink(p)
		if err != nil {
			ec.errorf(pos, f, "%v", unwrapPath(err))
			return
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil || !bound(real) {
			if strict {
				ec.errorf(pos, f, "%s is a link to %s on this host: the root gets that link, but %s is not among the folders bound; add it (or the folder that holds it) to rootfs.host", p, target, real)
			}
			return
		}
		ec.mkdirTree(path.Dir(p))
		ec.tree[p] = File{Path: p, Type: "symlink", Mode: 0o777, Link: target}
	}
	for i, h := range r.Host {
		f := fmt.Sprintf("%s.host[%d]", field, i)
		paths = append(paths, h.Value)
		fi, err := os.Lstat(h.Value)
		switch {
		case err != nil:
			ec.errorf(h.Pos, f, "%v", unwrapPath(err))
		case fi.Mode()&os.ModeSymlink != 0:
			link(h.Value, h.Pos, f, true)
		case !fi.IsDir() && !fi.Mode().IsRegular():
			ec.errorf(h.Pos, f, "%s is neither a folder nor a file", h.Value)
		case !fi.IsDir():
			// Its mount point: an empty file of the tree.
			ec.mkdirTree(path.Dir(h.Value))
			ec.tree[h.Value] = File{Path: h.Value, Type: "file", Mode: 0o644, Digest: EmptyDigest}
		}
	}
	for _, p := range mergedUsr {
		if _, listed := ec.tree[p]; listed || slices.ContainsFunc(r.Host, func(h spec.String) bool { return h.Value == p }) {
			continue
		}
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			link(p, r.HostPos, field+".host", false)
		}
	}
	ec.notes = append(ec.notes, fmt.Sprintf("%s.host: %s bound read-only from the host as they are when the environment starts: not copied, not locked (the lock covers the tree nsup makes around them)", field, strings.Join(paths, ", ")))
	return paths
}

// viewMounts are the environment's mounts as mountedView takes them (none
// when it joins a mount namespace: it mounts nothing).
func (ec *envCompiler) viewMounts() []viewMount {
	if ec.joined(spec.NSMount) != nil {
		return nil
	}
	var out []viewMount
	for i, m := range ec.e.Mounts {
		vm := viewMount{target: m.Target, field: ec.mountField(i)}
		if m.Type == spec.MountBind {
			h := ec.hostDir(m.Source)
			if h.resolveErr != nil || h.statErr != nil {
				continue // its error is the mount's
			}
			vm.source, vm.isDir = h.resolved, h.isDir
		}
		out = append(out, vm)
	}
	return out
}
