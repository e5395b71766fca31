package planner

import (
	"path"
	"path/filepath"
	"strings"

	"github.com/nsup/nsup/planner/cgroup"
	"golang.org/x/sys/unix"
)

// shownBelow is a path in the host folder real's tree that shows the host
// path p, which is not below real by path nor by a folder above it
// (holder), or "": real's filesystem holds p's folder below real's (an
// fstab line binding /data/home on /home shows /home/u in /data), or,
// recursive, a host mount below real shows it (a bind of p's folder
// there, its filesystem mounted there). Found by filesystem and folder
// (mountinfo's major:minor and root), as aliasBelow finds a host mount.
// Before helper-57's review neither was looked at: a writable bind of
// /data left the spec in /home/u/proj writable inside, and root inside
// appended to it through /data/home/u/proj/nsup.yaml.
func shownBelow(p, real string, recursive bool, mounts []cgroup.Mount) string {
	dev, folder, _ := fsFolder(p, mounts)
	if dev == "" || holder(p, real) != "" {
		return ""
	}
	at := func(point, root string) string {
		return path.Join(point, strings.TrimPrefix(folder, strings.TrimSuffix(root, "/")))
	}
	if rdev, rfolder, _ := fsFolder(real, mounts); rdev == dev && within(folder, rfolder) {
		return at(real, rfolder)
	}
	if !recursive {
		return ""
	}
	for _, m := range mounts {
		if m.Point != real && within(m.Point, real) && m.Dev == dev && within(folder, m.Root) {
			return at(m.Point, m.Root)
		}
	}
	return ""
}

// otherNames is the number of names (hard links) of the host file p when
// it has more than one and the mount of the host folder real may show
// another: real's filesystem is p's, or, recursive, one mounted below
// real is; else 0. Where the other names are is not known without a walk
// of the filesystem. Before helper-57's review a spec with a hard link
// in a subfolder of the writable project (proj/sub/backup.yaml) was
// bound read-only over itself at its own name only, and root inside
// appended to it through the other (by hand, with nsup apply).
func otherNames(p, real string, recursive bool, mounts []cgroup.Mount) uint64 {
	var st unix.Stat_t
	if unix.Stat(p, &st) != nil || st.Nlink < 2 {
		return 0
	}
	dev, _, _ := fsFolder(p, mounts)
	if d, _, _ := fsFolder(real, mounts); d == dev {
		return uint64(st.Nlink)
	}
	for _, m := range mounts {
		if recursive && m.Point != real && within(m.Point, real) && m.Dev == dev {
			return uint64(st.Nlink)
		}
	}
	return 0
}

// resolvedAbove is the host path p with the symlinks of its deepest
// folder that is there resolved, and the rest, not there yet, as
// written. Before helper-62's review a cache not made yet was matched
// by its path as written: with /var/cache a link to /data/cache, a
// writable bind of /data was planned, and root inside made the cache
// (uid 0, 0700: owndir.Check's) that the next plan would trust.
func resolvedAbove(p string) string {
	for d, rest := p, ""; ; d, rest = filepath.Dir(d), filepath.Join(filepath.Base(d), rest) {
		if r, err := filepath.EvalSymlinks(d); err == nil {
			return filepath.Join(r, rest)
		}
		if d == filepath.Dir(d) {
			return p
		}
	}
}
