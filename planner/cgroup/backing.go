package cgroup

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// AddBacking lets each mount's Backing find the files whose bytes its
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
// nsup's root): one of another mount namespace is not where the name
// says, and the planner does not place it by its name. One removed (named
// with " (deleted)") may keep another name (a hard link made before the
// removal), on the same filesystem: a loop device's says which
// (LOOP_GET_STATUS64: Image.Dev and Ino).
//
// Nothing is read here: a mount's files are found when Backing is first
// asked for them, once for all the mounts of one major:minor and source
// (a host with dozens of loop mounts, snaps', had each device opened on
// every plan, a spec with no writable bind too).
func AddBacking(fsys fs.FS, mounts []Mount) {
	b := &backings{fsys: fsys, found: map[string][]Image{}}
	for i := range mounts {
		mounts[i].backing = b
	}
}

// backings finds the mounts' backing files (AddBacking), each once.
type backings struct {
	fsys  fs.FS
	mu    sync.Mutex
	found map[string][]Image // by major:minor and source
}

// Backing is the files whose bytes the mount's filesystem's are
// (AddBacking), found on the first ask; none without AddBacking.
func (m Mount) Backing() []Image {
	b := m.backing
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	key := m.Dev + " " + m.Source
	files, ok := b.found[key]
	if !ok {
		files = mountBacking(b.fsys, m.Dev, m.Source)
		b.found[key] = files
	}
	return files
}

// mountBacking is AddBacking's files of a mount of the filesystem dev
// (major:minor) from source.
func mountBacking(fsys fs.FS, dev, source string) []Image {
	files := blockBacking(fsys, dev, 0, nil)
	if !strings.HasPrefix(source, "/") {
		return files
	}
	st, err := fs.Stat(fsys, strings.TrimPrefix(path.Clean(source), "/"))
	if err != nil {
		return files
	}
	switch t := st.Mode().Type(); {
	case t == 0:
		img := Image{Name: path.Clean(source)}
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			img.Dev, img.Ino = fmt.Sprintf("%d:%d", major(sys.Dev), minor(sys.Dev)), sys.Ino
		}
		files = append(files, img)
	case t == fs.ModeDevice:
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			rdev := fmt.Sprintf("%d:%d", major(sys.Rdev), minor(sys.Rdev))
			if rdev != dev {
				files = blockBacking(fsys, rdev, 0, files)
			}
		}
	}
	return files
}

// blockBacking adds to out the image files of the loop devices the block
// device dev (major:minor) is, or is on (a partition's whole disk; the
// slaves of a device-mapper or md device, and theirs), at most eight
// devices deep.
func blockBacking(fsys fs.FS, dev string, depth int, out []Image) []Image {
	if depth > 8 || dev == "" || strings.HasPrefix(dev, "0:") {
		return out
	}
	base := "sys/dev/block/" + dev
	if b, err := fs.ReadFile(fsys, base+"/loop/backing_file"); err == nil {
		if f := strings.TrimSuffix(string(b), "\n"); f != "" {
			img, rdev := loopImage(fsys, base, f)
			if !slices.ContainsFunc(out, img.Same) {
				out = append(out, img)
			}
			if rdev != "" && rdev != dev {
				// A loop device of a block device (losetup /dev/loop1
				// /dev/loop0): that device's bytes, and its images'.
				out = blockBacking(fsys, rdev, depth+1, out)
			}
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

// Image is a file whose bytes are a filesystem's (AddBacking): Name, as
// the kernel names it (sysfs's loop/backing_file, or the mount's
// source); Removed, that name gone (sysfs says " (deleted)", which Name
// leaves out); and the filesystem (Dev, major:minor) and inode the file
// is, or "" and 0 where not known (a loop device nsup may not open:
// rootless).
type Image struct {
	Name    string
	Removed bool
	Dev     string
	Ino     uint64
}

// Same says whether o is the file i is: by filesystem and inode where
// both are known, else by name.
func (i Image) Same(o Image) bool {
	if i.Dev != "" && o.Dev != "" {
		return i.Dev == o.Dev && i.Ino == o.Ino
	}
	return i.Name == o.Name && i.Removed == o.Removed
}

// loopImage is the image file the loop device at base (sys/dev/block/
// MAJ:MIN) holds, sysfs naming it f: its filesystem and inode as
// LOOP_GET_STATUS64 on the device (dev/ and the name in base's uevent)
// gives them; and rdev, the major:minor of the block device it is, when
// it is one (a loop device of a loop device: helper-81's review), from
// the same call, else (the device not opened: rootless) from the name.
func loopImage(fsys fs.FS, base, f string) (img Image, rdev string) {
	img = Image{Name: f}
	if n, ok := strings.CutSuffix(f, " (deleted)"); ok {
		img.Name, img.Removed = n, true
	}
	defer func() {
		if rdev != "" || img.Removed || !strings.HasPrefix(img.Name, "/") {
			return
		}
		if st, err := fs.Stat(fsys, strings.TrimPrefix(path.Clean(img.Name), "/")); err == nil && st.Mode().Type() == fs.ModeDevice {
			if sys, ok := st.Sys().(*syscall.Stat_t); ok {
				rdev = fmt.Sprintf("%d:%d", major(sys.Rdev), minor(sys.Rdev))
			}
		}
	}()
	ev, err := fs.ReadFile(fsys, base+"/uevent")
	if err != nil {
		return img, ""
	}
	for _, l := range strings.Split(string(ev), "\n") {
		name, ok := strings.CutPrefix(l, "DEVNAME=")
		if !ok || name == "" || strings.Contains(name, "..") {
			continue
		}
		d, err := fsys.Open("dev/" + name)
		if err != nil {
			return img, ""
		}
		defer d.Close()
		if fd, ok := d.(interface{ Fd() uintptr }); ok {
			if st, err := unix.IoctlLoopGetStatus64(int(fd.Fd())); err == nil {
				img.Dev, img.Ino = fmt.Sprintf("%d:%d", major(st.Device), minor(st.Device)), st.Inode
				if st.Rdevice != 0 {
					rdev = fmt.Sprintf("%d:%d", major(st.Rdevice), minor(st.Rdevice))
				}
			}
		}
		return img, rdev
	}
	return img, ""
}

// major and minor split a dev_t as stat(2) gives it (glibc's
// gnu_dev_major and gnu_dev_minor).
func major(dev uint64) uint64 { return (dev>>8)&0xfff | (dev>>32)&^uint64(0xfff) }
func minor(dev uint64) uint64 { return dev&0xff | (dev>>12)&^uint64(0xff) }
