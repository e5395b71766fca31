package planner

// A closure's host files: a path looked up through its symlinks, a folder copied whole, a file listed with its digest.

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxSymlinks is the kernel's limit on symlinks followed in one lookup
// (path_resolution(7)); more is ELOOP.
const maxSymlinks = 40

// resolve looks p up one component at a time, as the kernel does, listing
// every folder and symlink it passes and the file it ends at. It returns
// the real path (no symlink in it) and the type of what it names.
func (c *closureBuilder) resolve(p string) (string, fs.FileMode, error) {
	return c.walk(p, true)
}

// lookup is resolve listing nothing: where p leads, to check it first.
func (c *closureBuilder) lookup(p string) (string, fs.FileMode, error) {
	return c.walk(p, false)
}

func (c *closureBuilder) walk(p string, list bool) (string, fs.FileMode, error) {
	rest := closurePathParts(p)
	cur := "/"
	mode := fs.ModeDir
	links := 0
	for len(rest) > 0 {
		name := rest[0]
		rest = rest[1:]
		if name == ".." {
			// cur has no symlink in it, so its lexical parent is the
			// physical one.
			cur = filepath.Dir(cur)
			mode = fs.ModeDir
			continue
		}
		if !mode.IsDir() {
			return "", 0, &fs.PathError{Op: "lookup", Path: cur, Err: syscall.ENOTDIR}
		}
		next := filepath.Join(cur, name)
		fi, err := os.Lstat(next)
		if err != nil {
			return "", 0, err
		}
		mode = fi.Mode()
		switch {
		case mode&fs.ModeSymlink != 0:
			links++
			if links > maxSymlinks {
				return "", 0, &fs.PathError{Op: "lookup", Path: p, Err: syscall.ELOOP}
			}
			if c.followed != nil {
				if err := c.followed(next); err != nil {
					return "", 0, err
				}
			}
			target, err := os.Readlink(next)
			if err != nil {
				return "", 0, err
			}
			if list {
				c.files[next] = File{Path: next, Type: "symlink", Mode: closureMode(mode), Link: target}
				c.mark(next)
			}
			if filepath.IsAbs(target) {
				cur = "/"
			}
			rest = append(closurePathParts(target), rest...)
			mode = fs.ModeDir // cur is a folder again
		case mode.IsDir():
			if _, ok := c.files[next]; !ok && list {
				c.files[next] = File{Path: next, Type: "dir", Mode: closureMode(mode)}
			}
			if list {
				c.mark(next)
			}
			cur = next
		case mode.IsRegular():
			if list {
				if err := c.addFile(next, fi); err != nil {
					return "", 0, err
				}
			}
			cur = next
		default:
			return "", 0, closureSpecialError(next, mode)
		}
	}
	return cur, mode, nil
}

// closurePathParts splits p into its components, without "" and ".".
func closurePathParts(p string) []string {
	var parts []string
	for _, s := range strings.Split(p, "/") {
		if s != "" && s != "." {
			parts = append(parts, s)
		}
	}
	return parts
}

func closureSpecialError(p string, mode fs.FileMode) error {
	kind := "special file"
	switch {
	case mode&fs.ModeCharDevice != 0:
		kind = "character device"
	case mode&fs.ModeDevice != 0:
		kind = "block device"
	case mode&fs.ModeSocket != 0:
		kind = "socket"
	case mode&fs.ModeNamedPipe != 0:
		kind = "fifo"
	}
	return fmt.Errorf("%s: is a %s, not a regular file, directory or symlink", p, kind)
}

// closureMode keeps the permission bits and the sticky bit; setuid and
// setgid are dropped: a tree never grants privileges.
func closureMode(m fs.FileMode) uint32 {
	v := uint32(m.Perm())
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return v
}

// addFile lists the regular file p (a real path), with its digest: the
// index's when fi (its lstat) shows the file unchanged since it was hashed,
// else read now.
func (c *closureBuilder) addFile(p string, fi fs.FileInfo) error {
	c.mark(p)
	if _, ok := c.files[p]; ok {
		return nil
	}
	if err := kernelFile(p); err != nil {
		return err
	}
	f := File{Path: p, Type: "file", Mode: closureMode(fi.Mode()), Source: p, Size: fi.Size()}
	if err := c.bound(p, f.Size); err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if e, ok := c.index.lookup(c.key, p, st); ok {
			f.Digest = e.digest
			c.files[p] = f
			c.total += f.Size
			return nil
		}
	}
	d, n, err := c.index.hashFile(c.key, p, true)
	if err != nil {
		return err
	}
	if err := c.bound(p, n); err != nil {
		return err
	}
	f.Digest, f.Size = d, n
	c.files[p] = f
	c.total += n
	return nil
}

// kernelFile refuses a file of a kernel filesystem (proc, sysfs,
// debugfs...: kernelFS): what it reads is the kernel's, for the reader,
// not a file of the host's to copy. Before helper-117's review a
// repository's link to /proc/self/environ in a closure copied the
// caller's whole environment (its tokens and keys) into the tree, where
// the plan showed /proc/PID/environ of nsup plan's own process, a size
// and a digest; /proc/kallsyms would give root inside the kernel's
// addresses.
func kernelFile(p string) error {
	var st unix.Statfs_t
	if unix.Statfs(p, &st) != nil {
		return nil // the open that follows says why
	}
	if fs, ok := kernelFS[int64(st.Type)]; ok {
		return fmt.Errorf("%s is on a %s filesystem, the host's kernel's: what it reads is the kernel's (a process's environment, kernel addresses), not a file to copy into a closure: refused", p, fs)
	}
	return nil
}

// bound refuses a closure that would copy more into the cache than a tar
// root may unpack into (TarMax*): a file of size bytes beyond the bound
// of one, or one more name or byte beyond those of all, before the file
// is read (a review: a sparse file of 10 TB in a closure's folder, 0
// bytes on disk, was hashed and copied until the host's disk was full).
func (c *closureBuilder) bound(p string, size int64) error {
	switch {
	case size > TarMaxFileSize || c.total+size > TarMaxTotalSize:
		return fmt.Errorf("%s: %d bytes, more than nsup copies into a closure (%d a file, %d in all)", p, size, int64(TarMaxFileSize), int64(TarMaxTotalSize))
	case len(c.files) >= TarMaxEntries:
		return fmt.Errorf("%s: more than %d names, more than nsup copies into a closure", p, TarMaxEntries)
	}
	return nil
}

// addDir copies the folder real (a real path) whole. Symlinks inside are
// kept as they are, not followed: they point where they point on the host.
func (c *closureBuilder) addDir(real string) error {
	return filepath.WalkDir(real, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		mode := fi.Mode()
		if err := c.bound(p, 0); err != nil {
			return err
		}
		switch {
		case mode.IsDir():
			if p != "/" {
				c.files[p] = File{Path: p, Type: "dir", Mode: closureMode(mode)}
				c.mark(p)
			}
		case mode&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			c.files[p] = File{Path: p, Type: "symlink", Mode: closureMode(mode), Link: target}
			c.mark(p)
		case mode.IsRegular():
			if err := c.addFile(p, fi); err != nil {
				return err
			}
			// A damaged ELF file inside a copied folder is data to copy,
			// not an error.
			return c.addObject(p, false)
		default:
			return closureSpecialError(p, mode)
		}
		return nil
	})
}
