package planner

// A mount's target that is missing is made by apply's child stage
// ("mkdir target if missing", or the file a file's bind goes on) in
// whatever holds its first missing folder's parent at that moment. In a
// read-only mount that fails with EROFS: before helper-138's change such
// a spec planned and apply failed at the mount's step (a tmpfs at
// /usr/new with rootfs.host [/usr]: the host's /usr is bound read-only;
// a tmpfs at /srv/new below a readonly: true bind of ./src; a mount below
// a readonly: true tmpfs or dev, or below a sysfs, read-only by default).
// The root itself is not: it is made read-only after every mount
// (rootfs.readonly), and a dir root's missing target is made in its
// folder then. The tree is the one the mounts before this one make
// (viewMounts, landing: through the root's links); a target that is
// there, whatever holds it, is mounted on as it is. Left alone: a path
// the plan does not know (a tar root's tree, or proc's, devpts's and
// mqueue's, the kernel's), OCI export (another runtime mounts) and a
// joined mount namespace (nothing is mounted).

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// devNames are the names the dev mount (dev) makes in its tmpfs before
// it is remounted read-only.
var devNames = append(slices.Clone(devNodes), "pts", "ptmx", "shm", "console", "fd", "stdin", "stdout", "stderr")

// targetWritable refuses the ith mount when its target is missing in the
// tree the mounts before it make, and the folder apply would make its
// first missing part in is in a read-only mount of the spec's (rootfs.host's
// folders are binds that are).
func (ec *envCompiler) targetWritable(i int) {
	if ec.opts.Export || ec.joined(spec.NSMount) != nil {
		return
	}
	e := ec.e
	m := e.Mounts[i]
	views, idx := ec.roViews(i)
	base := ec.baseView()
	if base == nil {
		// A tar root: its own tree is not known; the mounts' are.
		base = func(string) (File, bool) { return File{}, false }
	}
	t, origin := mountedView(base, views, &ec.stats)
	comps := closurePathParts(m.Target)
	if slices.Contains(comps, "..") {
		return
	}
	n, cur := len(comps), ""
	for ; n >= 0; n-- {
		if p, ok := walkIn(t, "/"+strings.Join(comps[:n], "/")); ok {
			cur = p
			break
		}
	}
	if n == len(comps) || n < 0 {
		return // there: mounted on as it is (or not known)
	}
	if f, ok := resolveIn(t, cur); !ok || f.Type != "dir" {
		return // a file on the way: targetKindFits's
	}
	field := origin(cur)
	j := slices.IndexFunc(views, func(v viewMount) bool { return v.field == field })
	if field == "" || j < 0 || !e.Mounts[idx[j]].Readonly {
		return // the root, or a writable mount
	}
	k, v := idx[j], views[j]
	b := e.Mounts[k]
	missing := path.Join(cur, comps[n])
	rel := strings.TrimPrefix(path.Join(cur, strings.Join(comps[n:], "/")), v.target)
	kind, fix := string(b.Type), ""
	switch {
	case b.Type == spec.MountTmpfs:
		fix = "drop readonly: true from " + ec.mountField(k) + " (an empty tmpfs has no folder to mount on)"
	case b.Type == spec.MountDev:
		if cur == v.target && slices.Contains(devNames, comps[n]) {
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

// roViews are viewMounts's mounts listed before the ith, with idx the
// index in e.Mounts of each; a bind of a folder apply makes (a volume,
// create: true) that is missing now is seen as the empty folder it will
// be.
func (ec *envCompiler) roViews(i int) (views []viewMount, idx []int) {
	all, n := ec.viewMounts(), 0
	base := ec.baseView()
	for j := 0; j < i; j++ {
		m := ec.e.Mounts[j]
		if n < len(all) && all[n].field == ec.mountField(j) {
			views, idx = append(views, all[n]), append(idx, j)
			n++
			continue
		}
		if m.Type != spec.MountBind || ec.made[m.Source] == "" || !os.IsNotExist(ec.hostDir(m.Source).statErr) {
			continue
		}
		vm := viewMount{target: m.Target, field: ec.mountField(j)}
		if base != nil {
			t, _ := mountedView(base, views, &ec.stats)
			vm.target = landing(t, m.Target)
		}
		views, idx = append(views, vm), append(idx, j)
	}
	return views, idx
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
