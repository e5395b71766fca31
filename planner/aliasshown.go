package planner

import (
	"path"
	"path/filepath"
	"slices"
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
// (mountinfo's major:minor and root), as aliasBelow finds a host mount,
// and through the host's overlays (writesReach). Before helper-57's
// review neither was looked at: a writable bind of /data left the spec
// in /home/u/proj writable inside, and root inside appended to it
// through /data/home/u/proj/nsup.yaml.
func shownBelow(p, real string, recursive bool, mounts []cgroup.Mount) string {
	at, _ := shownVia(p, real, recursive, mounts)
	return at
}

// shownVia is shownBelow, and, where what shows there is (or is reached
// through) the image file of a filesystem mounted from one (a loop
// device's) that holds p, that image file's host path; else "".
func shownVia(p, real string, recursive bool, mounts []cgroup.Mount) (at, via string) {
	if holder(p, real) != "" {
		return "", ""
	}
	rdev, rfolder, _ := fsFolder(real, mounts)
	for _, a := range writesReach(p, mounts) {
		if rel, ok := a.under(rfolder); rdev == a.dev && ok {
			return path.Join(real, rel), a.via
		}
		if !recursive {
			continue
		}
		for _, m := range mounts {
			if m.Point != real && within(m.Point, real) && m.Dev == a.dev {
				if rel, ok := a.under(m.Root); ok {
					return path.Join(m.Point, rel), a.via
				}
			}
		}
	}
	return "", ""
}

// fsAt is a folder (or file) of a filesystem: mountinfo's major:minor
// and its path from the filesystem's root; via, the image file of a
// filesystem mounted from one (a loop device's) on the way there from
// the path it was found for (writesReach), or ""; tree, any file in the
// folder's tree, which one not known (a removed image's other names).
type fsAt struct {
	dev, folder, via string
	tree             bool
}

// under is the path of a below the folder f of its filesystem, relative
// to f ("" for f itself), and whether a is there: in f's tree, or, a
// tree, holding f (any file of f's may be the one).
func (a fsAt) under(f string) (string, bool) {
	if within(a.folder, f) {
		return strings.TrimPrefix(a.folder, strings.TrimSuffix(f, "/")), true
	}
	return "", a.tree && within(f, a.folder)
}

// writesReach are the folders (of a filesystem) where a write changes
// what nsup reads at the host path p: p's own (fsFolder), then, through
// each host overlay, and again through those found (an overlay's upper
// folder in another's merged one), the merged folder's file of one in
// its upper folder (written through the merged folder), and the upper
// and lower (data-only too) folders' files of one read through the
// merged folder (what it shows changes with them); and, through each
// filesystem's image files (cgroup.AddBacking: a loop device's), the
// image file, whose bytes are the filesystem's, and the same folder of
// another filesystem mounted from the same image (by filesystem and
// inode where the loop device says them); a removed image (sysfs says
// " (deleted)") may keep another name, made before the removal, anywhere
// on its filesystem (the loop device's word, or that of the folder its
// removed name was in), and the whole filesystem is taken as showing
// it (helper-73's review: with the image hard-linked at keep/disk.img
// and its first name removed, a writable bind of keep/ was planned, and
// root inside wrote the spec's bytes in the image through keep/disk.img;
// TestRootRemovedLoopImageKeptName). A lower folder's
// file is no merged folder's: a write there copies it up to the upper
// folder, and leaves it as it was. An overlay's folders are as its
// mountinfo line names them, where they are there (with their links
// resolved); one named relative to the mounter's working folder then
// is placed as the container engines that name them so mount them
// (relativeBase), and not otherwise; one not there (the mounter's mount
// namespace another) is not placed.
// Before helper-67's fix an overlay was not looked at (helper-65's
// review): with the spec in /x/upper/proj and a host overlay of that
// upper at /x/merged, a writable bind of /x/merged was planned, and root
// inside appended to the spec through /x/merged/proj/nsup.yaml; the
// same with the spec read through /x/merged/proj and /x/upper bound.
func writesReach(p string, mounts []cgroup.Mount) []fsAt {
	return overlayReach(p, mounts, true)
}

// overlayReach is p's own folder (fsFolder) and, through each host
// overlay, and again through those found, the same folder of its upper
// folder where one is in its merged folder; with writes, also the lower
// folders' where one is in its merged folder, and the merged folder's
// where one is in its upper folder (writesReach; renameReach without).
func overlayReach(p string, mounts []cgroup.Mount, writes bool) []fsAt {
	dev, folder, _ := fsFolder(p, mounts)
	if dev == "" {
		return nil
	}
	out := []fsAt{{dev, folder, "", false}}
	type overlay struct {
		dev                      string
		o                        *cgroup.Overlay
		base                     string // relative folders' (relativeBase)
		upper                    *fsAt  // nil: not placed
		upperHost                string
		lower, data              []fsAt
		lowerHost                []string
		upperPlaced, lowerPlaced bool
	}
	var ovs []*overlay
	seen := map[string]bool{}
	for _, m := range mounts {
		if m.Overlay != nil && !seen[m.Dev] {
			seen[m.Dev] = true
			ovs = append(ovs, &overlay{dev: m.Dev, o: m.Overlay, base: relativeBase(m.Dev, mounts)})
		}
	}
	add := func(a fsAt) {
		if !slices.ContainsFunc(out, func(o fsAt) bool { return o.dev == a.dev && o.folder == a.folder && o.tree == a.tree }) {
			out = append(out, a)
		}
	}
	backed := map[string]bool{}
	// Bounded: each overlay's folders are a few, but a loop of overlays
	// (one's upper in another's merged, and back) would add folders
	// deeper at each turn.
	for i := 0; i < len(out) && len(out) < 64; i++ {
		a := out[i]
		if k := a.dev + "\x00" + a.folder; writes && !backed[k] {
			backed[k] = true
			for _, img := range imageFiles(a.dev, mounts) {
				via := img.Name
				if img.Removed {
					via += " (removed; a name it keeps may be anywhere on its filesystem)"
				}
				if a.via != "" {
					via = a.via
				}
				if img.Removed {
					if dev := removedImageOn(img, mounts); dev != "" {
						add(fsAt{dev, "/", via, true})
					}
				} else if l, _, ok := layerAt(img.Name, "", mounts); ok {
					add(fsAt{l.dev, l.folder, via, false})
				}
				for _, m := range mounts {
					if m.Dev != a.dev && slices.ContainsFunc(m.Backing(), img.Same) {
						add(fsAt{m.Dev, a.folder, via, a.tree})
					}
				}
			}
		}
		for _, ov := range ovs {
			if !ov.upperPlaced {
				ov.upperPlaced = true
				if l, h, ok := layerAt(ov.o.Upper, ov.base, mounts); ok {
					ov.upper, ov.upperHost = &l, h
				}
			}
			if writes && ov.upper != nil && a.dev == ov.upper.dev {
				if rel, ok := a.under(ov.upper.folder); ok {
					add(fsAt{ov.dev, path.Join("/", rel), a.via, a.tree})
				}
			}
			if a.dev != ov.dev {
				continue
			}
			if writes && !ov.lowerPlaced {
				ov.lowerPlaced = true
				for _, f := range ov.o.Lower {
					if l, h, ok := layerAt(f, ov.base, mounts); ok {
						ov.lower, ov.lowerHost = append(ov.lower, l), append(ov.lowerHost, h)
					}
				}
				for _, f := range ov.o.Data {
					if l, _, ok := layerAt(f, ov.base, mounts); ok {
						ov.data = append(ov.data, l)
					}
				}
			}
			if writes {
				// The lower folders' path of it, and where a lower
				// folder's metacopy file takes its data from.
				lp := []string{a.folder}
				if r := redirected(ov.upperHost, a.folder); r != a.folder {
					lp = append(lp, r)
				}
				var dp []string
				for _, h := range ov.lowerHost {
					for _, f := range lp {
						if r := ovlRedirect(filepath.Join(h, f)); strings.HasPrefix(r, "/") {
							dp = append(dp, path.Clean(r))
						}
					}
				}
				for _, l := range ov.lower {
					for _, f := range lp {
						add(fsAt{l.dev, path.Join(l.folder, f), a.via, a.tree})
					}
				}
				for _, l := range ov.data {
					for _, f := range append(lp, dp...) {
						add(fsAt{l.dev, path.Join(l.folder, f), a.via, a.tree})
					}
				}
			}
			if ov.upper != nil {
				add(fsAt{ov.upper.dev, path.Join(ov.upper.folder, a.folder), a.via, a.tree})
			}
		}
	}
	return out
}

// layerAt is the filesystem and folder of an overlay's folder f, as its
// mountinfo line names it: where it is there, its links resolved; one
// named relative to the mounter's working folder then, from base
// (relativeBase), or not placed without one; not placed if not there.
func layerAt(f, base string, mounts []cgroup.Mount) (at fsAt, host string, ok bool) {
	if !filepath.IsAbs(f) {
		if base == "" {
			return fsAt{}, "", false
		}
		f = filepath.Join(base, f)
	}
	r, err := filepath.EvalSymlinks(f)
	if err != nil {
		return fsAt{}, "", false
	}
	dev, folder, _ := fsFolder(r, mounts)
	return fsAt{dev, folder, "", false}, r, dev != ""
}

// imageFiles are the files whose bytes are those of the filesystem dev
// (major:minor), as its mounts' Backing names them.
func imageFiles(dev string, mounts []cgroup.Mount) []cgroup.Image {
	var out []cgroup.Image
	for _, m := range mounts {
		if m.Dev == dev {
			for _, f := range m.Backing() {
				if !slices.ContainsFunc(out, f.Same) {
					out = append(out, f)
				}
			}
		}
	}
	return out
}

// removedImageOn is the filesystem (major:minor) a removed image file is
// on, which its other names, if it keeps any, are on too: the loop
// device's word where a mount shows that filesystem, else (the device
// not opened: rootless; or its filesystem's major:minor not mountinfo's:
// a btrfs subvolume's) that of the folder its removed name was in; or "".
func removedImageOn(img cgroup.Image, mounts []cgroup.Mount) string {
	if img.Dev != "" && slices.ContainsFunc(mounts, func(m cgroup.Mount) bool { return m.Dev == img.Dev }) {
		return img.Dev
	}
	dev, _, _ := fsFolder(resolvedAbove(path.Dir(img.Name)), mounts)
	return dev
}

// otherNames is the number of names (hard links) of the host file p,
// or of a file whose writes reach it (writesReach: an overlay's upper or
// lower folder's file that p is read through, an image file), when it
// has more than one and the mount of the host folder real may show
// another: real's filesystem is that file's, or, recursive, one mounted
// below real is; and that file (p, or its host path); else 0. Where the
// other names are is not known without a walk of the filesystem. Before
// helper-57's review a spec with a hard link in a subfolder of the
// writable project (proj/sub/backup.yaml) was bound read-only over
// itself at its own name only, and root inside appended to it through
// the other (by hand, with nsup apply). Before helper-70's, only p's own
// names were counted: an overlay with index=on keeps a copied-up file
// whose lower file had several names under a second name in its work
// folder's index/, and root inside, with the work folder bound
// writable, wrote the spec read through the merged folder there (by
// hand; TestRootOverlayIndexNames).
func otherNames(p, real string, recursive bool, mounts []cgroup.Mount) (uint64, string) {
	rdev, _, _ := fsFolder(real, mounts)
	for i, a := range writesReach(p, mounts) {
		q := p
		if a.tree {
			continue
		}
		if i > 0 {
			if q = fsAtHostPath(a, mounts); q == "" {
				continue
			}
		}
		var st unix.Stat_t
		if unix.Stat(q, &st) != nil || st.Nlink < 2 || st.Mode&unix.S_IFMT != unix.S_IFREG {
			continue
		}
		if rdev == a.dev {
			return uint64(st.Nlink), q
		}
		for _, m := range mounts {
			if recursive && m.Point != real && within(m.Point, real) && m.Dev == a.dev {
				return uint64(st.Nlink), q
			}
		}
	}
	return 0, ""
}

// fsAtHostPath is a host path of the file (or folder) a: by a mount that
// shows its folder, or "".
func fsAtHostPath(a fsAt, mounts []cgroup.Mount) string {
	for _, m := range mounts {
		if m.Dev == a.dev && within(a.folder, m.Root) {
			return path.Join(m.Point, strings.TrimPrefix(a.folder, strings.TrimSuffix(m.Root, "/")))
		}
	}
	return ""
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
