package planner

import (
	"os"
	"path/filepath"
	"slices"

	"github.com/nsup/nsup/planner/cgroup"
)

// relativeBase is the folder the overlay dev's folders named relative
// to its mounter's working folder are named from, as the container
// engines that name them so mount it, or "" (none so named, or none of
// these ways places them: the folders looked at there). mount(2)
// takes an overlay's options in one page, so with many layers:
//   - Docker's overlay2 and containers/storage's overlay (podman) name
//     the lower folders by their short links (l/ABC), the upper and work
//     folders as <id>/diff and <id>/work, and mount from the driver's
//     folder (mountFrom: a child that changes to it first), on
//     <id>/merged there: the folder two above the overlay's point;
//   - containerd's overlayfs snapshotter names the lower folders from
//     its snapshots folder (12/fs), the upper one (snapshots/<n>/fs)
//     in full: the folder two above the upper folder.
//
// The point is the overlay's mount whose root is the overlay's own.
// Before helper-70's change such folders were not placed at all: with
// the spec in a Docker container's upper folder (<id>/diff), its merged
// folder bound writable was planned. Folders named so by another
// mounter, from another folder, stay not placed (docs/design.md).
func relativeBase(dev string, mounts []cgroup.Mount) string {
	var o *cgroup.Overlay
	point := ""
	for _, m := range mounts {
		if m.Dev == dev && m.Overlay != nil && (o == nil || point == "" && m.Root == "/") {
			o = m.Overlay
			if m.Root == "/" {
				point = m.Point
			}
		}
	}
	if o == nil {
		return ""
	}
	// The upper and work folders, the first and the last lower and data
	// folders: a few looks per overlay, and each plan looks at every
	// overlay of the host (a Docker host's are many, of many layers).
	var rel []string
	some := []string{o.Upper, o.Work}
	for _, l := range [][]string{o.Lower, o.Data} {
		if len(l) > 0 {
			some = append(some, l[0], l[len(l)-1])
		}
	}
	for _, f := range append(some, append(append([]string{}, o.Lower...), o.Data...)...) {
		if f != "" && !filepath.IsAbs(f) && (len(rel) == 0 || slices.Contains(some, f)) {
			rel = append(rel, f)
		}
	}
	if len(rel) == 0 {
		return ""
	}
	var bases []string
	if point != "" {
		bases = append(bases, filepath.Dir(filepath.Dir(point)))
	}
	if filepath.IsAbs(o.Upper) {
		bases = append(bases, filepath.Dir(filepath.Dir(o.Upper)))
	}
next:
	for _, b := range bases {
		for _, f := range rel {
			if _, err := os.Stat(filepath.Join(b, f)); err != nil {
				continue next
			}
		}
		return b
	}
	return ""
}
