package planner

// A mount's target that is missing is made by apply's child stage
// ("mkdir target if missing", or the file a file's bind goes on) in
// whatever holds its first missing folder's parent at that moment. In a
// read-only mount that fails with EROFS: before helper-138's change such
// a spec planned and apply failed at the mount's step (a tmpfs at
// /usr/new with rootfs.host [/usr]: the host's /usr is bound read-only;
// a tmpfs at /srv/new below a readonly: true bind of ./src; a mount below
// a readonly: true tmpfs or dev, or below a sysfs, read-only by default;
// below a folder of security.readonly_paths or masked_paths in a bind,
// placed right after the bind, before the mounts that follow).
// The root itself is not: it is made read-only after every mount
// (rootfs.readonly), and a dir root's missing target is made in its
// folder then. The tree is the one the mounts before this one make
// (viewMounts, landing: through the root's links); a target that is
// there, whatever holds it, is mounted on as it is. Left alone: a path
// the plan does not know (a tar root's tree, or proc's, devpts's and
// mqueue's, the kernel's), OCI export (another runtime mounts) and a
// joined mount namespace (nothing is mounted).
//
// The host's flags count too (helper-144): a bind keeps its host
// mount's flags (nsup clears none), so a missing target in a host
// folder that is on a read-only mount or filesystem failed the same way
// with a spec that made nothing read-only: a dir root on a read-only
// mount (or, rootfs.readonly, on a host mount below the root's folder,
// which apply makes read-only with the root before the spec's mounts),
// a writable bind or volume of a folder on one. statfs(2)'s ST_RDONLY
// (the mount's flag or its filesystem's) of the host folder apply
// would make it in says so; an overlaid root makes it in its upper
// layer, a tmpfs. And a folder create: true makes in one failed at
// apply's first step (mkdir, EROFS).

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// devNames are the names the dev mount (dev) makes in its tmpfs before
// it is remounted read-only.
var devNames = append(slices.Clone(devNodes), "pts", "ptmx", "shm", "console", "fd", "stdin", "stdout", "stderr")

// targetWritable refuses the ith mount when its target is missing in the
// tree the mounts before it make, and the folder apply would make its
// first missing part in is in a read-only mount of the spec's (rootfs.host's
// folders are binds that are), or in a read-only or masked path of
// confined (confinedPaths) that a bind before it holds.
func (ec *envCompiler) targetWritable(i int, confined [][]confinedPath) {
	if ec.opts.Export {
		return
	}
	ec.createdWritable(i)
	if ec.joined(spec.NSMount) != nil {
		return
	}
	e := ec.e
	m := e.Mounts[i]
	views, from := ec.roViews(i, confined)
	t, origin := mountedView(ec.knownBase(), views, &ec.stats)
	if slices.Contains(closurePathParts(m.Target), "..") {
		return
	}
	// cur is where the longest leading part of the target that resolves
	// leads, comps what follows it, as written.
	w := walkPath(t, m.Target, walkHow{})
	if w.end == walkDone {
		return // there: mounted on as it is
	}
	cur, comps := w.lead, closurePathParts(w.tail)
	if f, ok := t(path.Join(cur, comps[0])); ok && f.Type == "symlink" && len(comps) == 1 && ec.refused(ec.mountField(i)+".target") {
		return // a link there, refused already (targetLinks's): not missing
	}
	if f, ok := resolveIn(t, cur); !ok || f.Type != "dir" {
		return // a file on the way: targetKindFits's
	}
	field := origin(cur)
	j := slices.IndexFunc(views, func(v viewMount) bool { return v.field == field })
	if field == "" {
		ec.rootFolderWritable(i, path.Join(cur, comps[0]))
		return
	}
	if j < 0 {
		return // a mount with an error of its own
	}
	k, v := from[j].mount, views[j]
	b := e.Mounts[k]
	missing := path.Join(cur, comps[0])
	rel := strings.TrimPrefix(path.Join(cur, w.tail), v.target)
	if c := from[j].conf; c != nil {
		// A path of security.readonly_paths or masked_paths, placed
		// right after the mount that holds it.
		what, key, fix := "read-only path", "readonly_paths", fmt.Sprintf("make %s beforehand, or ", filepath.Join(v.source, rel))
		if !c.readonly {
			what, key, fix = "masked path (an empty read-only tmpfs)", "masked_paths", "mount at another target, or "
		}
		ec.errorf(m.Pos, ec.mountField(i)+".target", "%s is missing in the %s %s (%s), placed right after %s, which holds it: apply would make %s there (\"target if missing\") and fail (read-only file system); %sleave %s out of security.%s", m.Target, what, c.path, c.field, ec.mountField(k), missing, fix, c.path, key)
		return
	}
	if !b.Readonly {
		if b.Type == spec.MountBind && v.source != "" && v.isDir {
			ec.bindFolderWritable(i, k, v, missing)
		}
		return // a writable mount
	}
	kind, fix := string(b.Type), ""
	switch {
	case b.Type == spec.MountTmpfs:
		fix = "drop readonly: true from " + ec.mountField(k) + " (an empty tmpfs has no folder to mount on)"
	case b.Type == spec.MountDev:
		if cur == v.target && slices.Contains(devNames, comps[0]) {
			return // made by the dev's own steps
		}
		fix = "drop readonly: true from " + ec.mountField(k)
	case b.Type == spec.MountSysfs:
		at, ok := sysfsMissing(rel)
		if !ok {
			return
		}
		missing = path.Join(v.target, at)
		fix = "mount at a target the kernel's sysfs has (as the host's /sys shows it)"
	case b.Type != spec.MountBind:
		return // proc, devpts, mqueue: the kernel's tree
	case k < len(ec.hostBinds):
		kind = "rootfs.host folder"
		fix = fmt.Sprintf("make %s on the host, or mount at a target outside %s", filepath.Join(b.Source, rel), b.Target)
	default:
		if ec.made[b.Source] == "volume" {
			kind = "volume"
		}
		src := b.Source
		if v.source != "" {
			src = v.source
		}
		fix = fmt.Sprintf("make %s beforehand, or drop readonly: true from %s", filepath.Join(src, rel), ec.mountField(k))
	}
	ec.errorf(m.Pos, ec.mountField(i)+".target", "%s is missing in the read-only %s at %s (%s): apply would make %s there (\"target if missing\") and fail (read-only file system); %s", m.Target, kind, b.Target, ec.mountField(k), missing, fix)
}

// rootFolderWritable refuses the ith mount when missing, its target's
// first missing part in the root, would be made in the folder of a dir
// root (bound with what is mounted below it, not overlaid) that is
// read-only on the host: its host mount's flag, or, for a read-only
// root, a host mount below the root's own, which readonlyBelowRoot makes
// read-only before the spec's mounts (its own mount is made writable
// again for its mount points unless the host's is read-only).
func (ec *envCompiler) rootFolderWritable(i int, missing string) {
	r := ec.e.Rootfs
	if r.Dir == "" || overlaid(r) || ec.root == "" {
		return // nsup's own tree, or an overlay's upper layer
	}
	m := ec.e.Mounts[i]
	dir, host := filepath.Join(ec.root, path.Dir(missing)), filepath.Join(ec.root, missing)
	var why, fix string
	switch {
	case ec.hostReadonly(dir):
		why, fix = "on a read-only mount of the host's", "make the host's mount writable"
	case r.Readonly && !ec.sameMount(dir, ec.root):
		why, fix = "on a mount of the host's below the root's folder, which apply makes read-only with the root before the spec's mounts (rootfs.readonly)", "say readonly: false on the root"
	default:
		return
	}
	ec.errorf(m.Pos, ec.mountField(i)+".target", "%s is missing in the dir root %s, whose folder %s is %s: apply would make %s there (\"target if missing\") and fail (read-only file system); make %s on the host, %s, or say overlay: true on the root (the target is then made in the overlay's upper layer)", m.Target, ec.root, dir, why, missing, host, fix)
}

// bindFolderWritable refuses the ith mount when missing, its target's
// first missing part, would be made in the host folder of v, the
// writable bind (or volume) of the kth mount, and that folder is on a
// read-only mount of the host's: the bind keeps its flags. A bind that
// is not recursive brings its source's own mount only.
func (ec *envCompiler) bindFolderWritable(i, k int, v viewMount, missing string) {
	m, b := ec.e.Mounts[i], ec.e.Mounts[k]
	host := filepath.Join(v.source, strings.TrimPrefix(missing, v.target))
	dir, on := filepath.Dir(host), filepath.Dir(host)
	if !b.Recursive {
		on = v.source
	}
	if !ec.hostReadonly(on) {
		return
	}
	kind := "bind"
	if ec.made[b.Source] == "volume" {
		kind = "volume"
	}
	ec.errorf(m.Pos, ec.mountField(i)+".target", "%s is missing in the %s at %s (%s), whose host folder %s is on a read-only mount of the host's, which the bind keeps: apply would make %s there (\"target if missing\") and fail (read-only file system); make %s on the host, make the host's mount writable, or mount at a target that is there", m.Target, kind, b.Target, ec.mountField(k), dir, missing, host)
}

// createdWritable refuses the ith mount, a bind whose folder create:
// true makes at apply (missing now), when the folder it would be made
// in is on a read-only mount of the host's: apply's first step, its
// mkdir, fails (read-only file system). Once per folder, at its first
// bind.
func (ec *envCompiler) createdWritable(i int) {
	m := ec.e.Mounts[i]
	if m.Type != spec.MountBind || ec.made[m.Source] != "create" || !errors.Is(ec.hostDir(m.Source).statErr, fs.ErrNotExist) {
		return
	}
	if slices.ContainsFunc(ec.e.Mounts[:i], func(o spec.Mount) bool { return o.Type == spec.MountBind && o.Source == m.Source }) {
		return
	}
	if _, on, ok := bindSource(m.Source); ok && ec.hostReadonly(on) {
		ec.errorf(m.SourceAt(), ec.mountField(i)+".source", "%s is missing, and apply would make it (create: true) in %s, which is on a read-only mount of the host's: apply's mkdir would fail (read-only file system); make %s on the host beforehand, or bind a folder of a writable mount", m.Source, on, m.Source)
	}
}

// hostMountFacts memoizes, for a plan, what hostReadonly and sameMount
// ask of a host folder (1,000 environments of one dir root ask the same).
type hostMountFacts struct {
	mu sync.Mutex
	ro map[string]bool
	id map[string]uint64 // 0: not known
}

// hostReadonly says whether the host folder dir is on a read-only mount
// or filesystem (statfs(2) ST_RDONLY: either's flag).
func (ec *envCompiler) hostReadonly(dir string) bool {
	f := &ec.mountFacts
	return memo(&f.mu, &f.ro, dir, func() bool {
		var st unix.Statfs_t
		return unix.Statfs(dir, &st) == nil && st.Flags&unix.ST_RDONLY != 0
	})
}

// sameMount says whether the host folders a and b are on one mount
// (statx(2) STATX_MNT_ID; true when that is not known).
func (ec *envCompiler) sameMount(a, b string) bool {
	x, y := ec.mountID(a), ec.mountID(b)
	return x == 0 || y == 0 || x == y
}

// mountID is the id of the mount the host folder dir is on, 0 if not
// known.
func (ec *envCompiler) mountID(dir string) uint64 {
	f := &ec.mountFacts
	return memo(&f.mu, &f.id, dir, func() uint64 {
		var x unix.Statx_t
		if unix.Statx(unix.AT_FDCWD, dir, 0, unix.STATX_MNT_ID, &x) == nil && x.Mask&unix.STATX_MNT_ID != 0 {
			return x.Mnt_id
		}
		return 0
	})
}

// roFrom is what a view of roViews is: the mount of that index in
// e.Mounts, or a path of security.readonly_paths or masked_paths it
// holds (conf).
type roFrom struct {
	mount int
	conf  *confinedPath
}

// roViews are viewMounts's mounts listed before the ith, each with
// where it comes from; a bind of a folder apply makes (a volume, create:
// true) that is missing now is seen as the empty folder it will be. The
// readonly_paths and masked folders of the spec's that a bind before
// the ith holds (confined, placed right after it) are views too: a
// read-only path shows its folder, a masked one an empty tmpfs. (Those
// of a kernel filesystem or a tmpfs are in trees the plan does not know.)
func (ec *envCompiler) roViews(i int, confined [][]confinedPath) (views []viewMount, from []roFrom) {
	all, n := ec.viewMounts(), 0
	base := ec.knownBase()
	landed := func(p string) string {
		if ec.baseView() == nil {
			return p // as viewMounts has it
		}
		t, _ := mountedView(base, views, &ec.stats)
		return landing(t, p)
	}
	for j := 0; j < i; j++ {
		m := ec.e.Mounts[j]
		switch {
		case n < len(all) && all[n].field == ec.mountField(j):
			views, from = append(views, all[n]), append(from, roFrom{mount: j})
			n++
		case m.Type == spec.MountBind && ec.made[m.Source] != "" && os.IsNotExist(ec.hostDir(m.Source).statErr):
			views, from = append(views, viewMount{target: landed(m.Target), field: ec.mountField(j)}), append(from, roFrom{mount: j})
			continue
		default:
			continue
		}
		v := views[len(views)-1]
		if v.source == "" || !v.isDir || j >= len(confined) {
			continue
		}
		for c := range confined[j] {
			cp := &confined[j][c]
			if isDir, ok := ec.pathKind(*cp); cp.field == "" || !ok || !isDir {
				continue
			}
			cv := viewMount{target: landed(cp.path), field: cp.field}
			if cp.readonly {
				cv.source, cv.isDir = filepath.Join(v.source, strings.TrimPrefix(cp.path, m.Target)), true
			}
			views, from = append(views, cv), append(from, roFrom{mount: j, conf: cp})
		}
	}
	return views, from
}

// knownBase is baseView, or for a tar root whose shape is not known
// (tarshape.go; the mounts' are) a tree of nothing.
func (ec *envCompiler) knownBase() treeView {
	if base := ec.baseView(); base != nil {
		return base
	}
	return func(string) (File, bool) { return File{}, false }
}

// sysfsMissing is the first part of rel, a path below a sysfs, that the
// host's /sys lacks (ok false when it has it all, or a link is on the
// way, or the host's /sys is no sysfs): the kernel's sysfs of the
// environment shows the same folders but for its network devices.
func sysfsMissing(rel string) (string, bool) {
	var st unix.Statfs_t
	if unix.Statfs("/sys", &st) != nil || kernelFS[int64(st.Type)] != "sysfs" {
		return "", false
	}
	at := "/"
	for _, name := range closurePathParts(rel) {
		at = path.Join(at, name)
		fi, err := os.Lstat(filepath.Join("/sys", at))
		switch {
		case os.IsNotExist(err):
			return at, true
		case err != nil, fi.Mode()&os.ModeSymlink != 0, !fi.IsDir():
			return "", false
		}
	}
	return "", false
}

// refused says whether an error of the plan names the spec key field.
func (ec *envCompiler) refused(field string) bool {
	return slices.ContainsFunc(ec.errs, func(err *spec.Error) bool { return err.Path == field })
}
