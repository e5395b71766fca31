package planner

// A mount's target that a dir root (or the host folder of an earlier bind
// it lies below) has already, as what the mount cannot be placed on: a
// file where a folder is mounted (proc, tmpfs, a folder's bind...), a
// folder where a file, a device node or a socket is bound, or a file on
// the way to the target (in the tree, or an earlier bind of a file the
// target lies below). Apply's mount or its "mkdir target if missing"
// then fails with ENOTDIR (EINVAL for a file's move_mount on a folder):
// before helper-133's review such a spec planned, and apply failed at
// the mount's step (a dir root holding a file /data, with a tmpfs at
// /data; /dev/null bound on a folder /xdir of the root, found by
// helper-135's: TestRootFileOnFolderRefused). The plan can see these trees,
// and a closure's or host root's, which it lists, and a tar root's, by
// its archive's shape (tartarget.go). Left alone: a path through a
// symlink (linkedBelowBind's), one below a tmpfs or a volume (empty, or
// unknown), a folder create: true makes, OCI export (another runtime
// mounts), and a joined mount namespace (nothing is mounted). Cheap: an
// lstat per part of a bind's target, a stat of its source.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nsup/nsup/spec"
)

// targetKindFits refuses the ith mount when its target, or a folder on
// its way there, is in the dir root (or below the earlier bind parent
// names, in its host folder) as a file where the mount needs a folder,
// or its target is a folder there and it binds a file; or when that
// earlier bind is of a file. A path through a symlink is left alone
// (linkedBelowBind's), as is one below an earlier mount of another type
// (a tmpfs: empty), a volume or a folder create: true makes.
func (ec *envCompiler) targetKindFits(i int, parent []int) {
	if ec.opts.Export || ec.joined(spec.NSMount) != nil {
		return
	}
	e := ec.e
	m := e.Mounts[i]
	if m.Type == spec.MountBind && ec.made[m.Source] == "" {
		if _, err := os.Stat(m.Source); err != nil {
			// Not known what it binds: the source's own error says
			// so (helper-136's review: a missing file's bind was also
			// told its file target needed a folder).
			return
		}
	}
	if ec.stackedKindFits(i, parent) {
		return // on an earlier mount: its kind, not the tree's (stackedtarget.go)
	}
	if parent[i] < 0 && ec.linkedToFile(i) {
		return // through the root's links to a file (linkedfile.go)
	}
	base, rel, where := "", m.Target, ""
	switch k := parent[i]; {
	case k >= 0:
		b := e.Mounts[k]
		if b.Type != spec.MountBind || ec.made[b.Source] != "" {
			return
		}
		if bf := fileSource(b); bf != nil {
			ec.errorf(m.Pos, ec.mountField(i)+".target", "%s lies below the bind at %s (%s) of %s, %s, not a folder: apply could not reach the target (ENOTDIR); mount at another target", m.Target, b.Target, ec.mountField(k), b.Source, kindOf(bf))
			return
		}
		h := ec.hostDir(b.Source)
		if h.resolveErr != nil || h.statErr != nil || !h.isDir {
			return
		}
		base, rel = h.resolved, strings.TrimPrefix(m.Target, b.Target)
		where = fmt.Sprintf("below the bind at %s (%s), in its host folder %s", b.Target, ec.mountField(k), base)
	case e.Rootfs.Dir != "" && ec.root != "" && ec.root != "/":
		base = ec.root
		where = "in the dir root " + base
	case ec.tree != nil:
		ec.closureTargetFits(i, fileSource(m))
		return
	case ec.tarTree() != nil:
		ec.tarTargetFits(i, fileSource(m))
		return
	default:
		return
	}
	src := fileSource(m)
	wantFile := src != nil
	if parts := closurePathParts(rel); len(parts) == 0 || slices.Contains(parts, "..") {
		return
	}
	// A path through a symlink, or missing, is left alone.
	w := walkPath(dirTree(base, &ec.stats), rel, walkHow{link: never})
	at := filepath.Join(base, w.at)
	field := ec.mountField(i) + ".target"
	switch w.end {
	case walkNotDir:
		if fi, err := os.Lstat(at); err == nil {
			ec.errorf(m.Pos, field, "%s lies %s below %s, %s, not a folder: apply could not reach the target (ENOTDIR); make %s a folder, or mount at another target", m.Target, where, at, kindOf(fi), at)
		}
	case walkDone:
		fi, err := os.Lstat(at)
		switch {
		case err != nil:
		case !wantFile && !fi.IsDir():
			ec.errorf(m.Pos, field, "%s is %s %s (%s), and a %s mount needs a folder there: apply's mount would fail with ENOTDIR; make %s a folder, or mount at another target", m.Target, kindOf(fi), where, at, m.Type, at)
		case wantFile && fi.IsDir():
			ec.errorf(m.Pos, field, "%s is a folder %s (%s), and the bind of %s, %s, needs a file there: apply's mount would fail (EINVAL); bind it at a path that is not a folder, or make %s a file", m.Target, where, at, m.Source, kindOf(src), at)
		}
	}
}

// closureTargetFits is targetKindFits for a closure or host root, whose
// tree the plan lists (ec.tree; a file named in rootfs.host is a file of
// it, bound over): a file of it where the ith mount needs a folder,
// a folder of it where the mount binds src (a file, else nil), or a file
// on the way there (a tmpfs at /etc/hostname, a closure file, planned,
// and apply failed: helper-133's review). Apply's errors, on kernel
// 6.18 (helper-160's hand run with the check off): "mkdir target if
// missing: not a directory" on a file, "resolve ... inside the root:
// not a directory" below one (ENOTDIR both, as in a tar root), and
// move_mount's "invalid argument" (EINVAL) for a file bound on a folder.
func (ec *envCompiler) closureTargetFits(i int, src os.FileInfo) {
	m := ec.e.Mounts[i]
	kind, key := "closure", "the closure"
	if len(ec.e.Rootfs.Host) > 0 {
		kind, key = "host", "rootfs.host"
	}
	field := ec.mountField(i) + ".target"
	misfit, at, f := treeTargetFits(mapTree(ec.tree), m.Target, src != nil)
	from := ""
	if f.Source != "" {
		from = ", from " + f.Source
	}
	switch misfit {
	case targetFolderForFile:
		ec.errorf(m.Pos, field, "%s is a folder of the %s root, and the bind of %s, %s, needs a file there: apply's mount would fail (EINVAL); bind it at a path that is not a folder of the root", m.Target, kind, m.Source, kindOf(src))
	case targetBelowFile:
		ec.errorf(m.Pos, field, "%s lies below %s, a file of the %s root%s, not a folder: apply could not reach the target (ENOTDIR); mount at another target, or leave that file out of %s", m.Target, at, kind, from, key)
	case targetFileForFolder:
		ec.errorf(m.Pos, field, "%s is a file of the %s root%s, and a %s mount needs a folder there: apply's mount would fail (ENOTDIR); mount at another target, or leave that file out of %s", m.Target, kind, from, m.Type, key)
	}
}

// targetMisfit is how a mount's target does not fit a tree the plan
// knows (treeTargetFits).
type targetMisfit int

const (
	targetFits          targetMisfit = iota
	targetBelowFile                  // a file on the way: apply cannot reach the target (ENOTDIR)
	targetFolderForFile              // a folder where a file is bound (EINVAL)
	targetFileForFolder              // a file where a folder is mounted (ENOTDIR)
)

// treeTargetFits is the check closureTargetFits and tarTargetFits (a
// closure's or host root's list, a tar archive's shape) make of target
// in t, for a mount that binds a file when wantFile, else needs a
// folder: how it misfits, at what path, that path's entry. A link on
// the way is left alone (landing's, linkedBelowBind's), as is a part t
// lacks (made: in nsup's tree, in the overlay's upper layer) and the
// root itself.
func treeTargetFits(t treeView, target string, wantFile bool) (targetMisfit, string, File) {
	w := walkPath(t, target, walkHow{link: never})
	f, _ := t(w.at)
	switch {
	case w.end == walkNotDir:
		return targetBelowFile, w.at, f
	case w.end != walkDone || w.at == "/":
	case f.Type == "dir" && wantFile:
		return targetFolderForFile, w.at, f
	case f.Type != "dir" && !wantFile:
		return targetFileForFolder, w.at, f
	}
	return targetFits, w.at, f
}

// fileSource is what the bind m binds when that is not a folder (a file,
// a device node, a socket: the kernel mounts it only on a non-folder,
// move_mount fails with EINVAL on a folder), else nil: a folder, a missing source (create: true makes a
// folder), another type of mount.
func fileSource(m spec.Mount) os.FileInfo {
	if m.Type != spec.MountBind {
		return nil
	}
	if st, err := os.Stat(m.Source); err == nil && !st.IsDir() {
		return st
	}
	return nil
}

// kindOf names what fi is, with its article.
func kindOf(fi os.FileInfo) string {
	switch t := fi.Mode().Type(); {
	case t == 0:
		return "a file"
	case t&os.ModeDevice != 0:
		return "a device"
	case t&os.ModeNamedPipe != 0:
		return "a FIFO"
	case t&os.ModeSocket != 0:
		return "a socket"
	}
	return "a special file"
}
