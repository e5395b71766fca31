package cgroup

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"syscall"
)

// AddBacking sets each mount's Backing: the files whose bytes its
// filesystem's are, as sysfs in fsys names them (fsys is the host's
// root, or a test's tree with proc/ and sys/). A write to such a file
// changes the filesystem under its mount, and what is read there once
// the page cache lets go of it (helper-70: root inside, with the image's
// folder bound writable, wrote the spec's bytes in the image file of the
// loop-mounted filesystem that held it). They are:
//   - a loop device's image file (sysfs's loop/backing_file), for the
//     mount's own major:minor, through a partition of a loop device (its
//     whole disk's) and through the devices stacked on one (device-mapper
//     and md: their slaves/);
//   - the same for the block device the mount's source names, where it
//     is one (btrfs shows a major:minor of its own, 0:NN, and its first
//     device as the source);
//   - the source itself where it is a regular file (a filesystem mounted
//     from its image without a loop device: erofs since Linux 6.12,
//     squashfuse).
//
// A backing file is named as the kernel names it to nsup (d_path from
// nsup's root): one of another mount namespace, or one removed (named
// with " (deleted)"), is not where the name says, and the planner does
// not place it.
func AddBacking(fsys fs.FS, mounts []Mount) {
	byDev := map[string][]string{}
	for i, m := range mounts {
		key := m.Dev + " " + m.Source
		files, ok := byDev[key]
		if !ok {
			files = blockBacking(fsys, m.Dev, 0, nil)
			if strings.HasPrefix(m.Source, "/") {
				if st, err := fs.Stat(fsys, strings.TrimPrefix(path.Clean(m.Source), "/")); err == nil {
					switch t := st.Mode().Type(); {
					case t == 0:
						files = append(files, path.Clean(m.Source))
					case t == fs.ModeDevice:
						if sys, ok := st.Sys().(*syscall.Stat_t); ok {
							rdev := fmt.Sprintf("%d:%d", major(sys.Rdev), minor(sys.Rdev))
							if rdev != m.Dev {
								files = blockBacking(fsys, rdev, 0, files)
							}
						}
					}
				}
			}
			byDev[key] = files
		}
		mounts[i].Backing = files
	}
}

// blockBacking adds to out the image files of the loop devices the block
// device dev (major:minor) is, or is on (a partition's whole disk; the
// slaves of a device-mapper or md device, and theirs), at most eight
// devices deep.
func blockBacking(fsys fs.FS, dev string, depth int, out []string) []string {
	if depth > 8 || dev == "" || strings.HasPrefix(dev, "0:") {
		return out
	}
	base := "sys/dev/block/" + dev
	if b, err := fs.ReadFile(fsys, base+"/loop/backing_file"); err == nil {
		if f := strings.TrimSuffix(string(b), "\n"); f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
		return out
	}
	var lower []string
	if _, err := fs.Stat(fsys, base+"/partition"); err == nil {
		// sys/dev/block/259:0 -> ../../devices/virtual/block/loop0/loop0p1:
		// the whole disk is the folder above the partition's.
		if link, err := fs.ReadLink(fsys, base); err == nil {
			disk := path.Dir(path.Join(path.Dir(base), link))
			if b, err := fs.ReadFile(fsys, disk+"/dev"); err == nil {
				lower = append(lower, strings.TrimSpace(string(b)))
			}
		}
	}
	if ents, err := fs.ReadDir(fsys, base+"/slaves"); err == nil {
		for _, e := range ents {
			if b, err := fs.ReadFile(fsys, base+"/slaves/"+e.Name()+"/dev"); err == nil {
				lower = append(lower, strings.TrimSpace(string(b)))
			}
		}
	}
	for _, l := range lower {
		out = blockBacking(fsys, l, depth+1, out)
	}
	return out
}

// major and minor split a dev_t as stat(2) gives it (glibc's
// gnu_dev_major and gnu_dev_minor).
func major(dev uint64) uint64 { return (dev>>8)&0xfff | (dev>>32)&^uint64(0xfff) }
func minor(dev uint64) uint64 { return dev&0xff | (dev>>12)&^uint64(0xff) }
