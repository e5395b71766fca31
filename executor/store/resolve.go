package store

import (
	"fmt"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// Paths inside a tree (a closure's cache entry being built here, an
// environment's root being mounted by executor's child stage, which
// resolves through these functions too) are resolved by the kernel,
// scoped to the tree, never by joining strings: a symlink in the rootfs
// (absolute, or with enough "..") must not lead a mount or a created
// directory to the host. openat2(2) RESOLVE_IN_ROOT treats the dirfd as
// "/" for every absolute symlink and ".." on the way;
// RESOLVE_NO_MAGICLINKS refuses /proc/PID/fd-style links, which would
// jump anywhere.

// ResolveScoped is how a path inside a tree is resolved (openat2(2)
// resolve flags), here and by executor's raw resolver.
const ResolveScoped = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

// OpenRoot opens dir as an O_PATH handle to scope resolutions to.
func OpenRoot(dir string) (int, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open %q: %w", dir, err)
	}
	return fd, nil
}

// OpenInRoot resolves p, an absolute path inside the root rootfd, to an
// O_PATH fd. The last component is not followed (O_NOFOLLOW): a mount on
// a symlink's path must fail, not land where the link points. Every
// earlier component is followed, inside the root.
//
// With create "dir" or "file", missing components are made: directories
// 0755, the last one an empty 0644 file for "file". Each is created with
// mkdirat(2)/openat(2) relative to its parent's resolved fd, so the name
// is looked up in the directory that was just resolved, not re-resolved
// from a string.
func OpenInRoot(rootfd int, p, create string) (int, error) {
	return resolveIn(rootfd, p, create, false)
}

// OpenDirInRoot resolves the directory p inside the root, following a last
// component that is a symlink (inside the root): p is a parent to create
// something in, as an intermediate component of a longer path would be.
func OpenDirInRoot(rootfd int, p, create string) (int, error) {
	return resolveIn(rootfd, p, create, true)
}

func resolveIn(rootfd int, p, create string, followLast bool) (int, error) {
	comps, err := Components(p)
	if err != nil {
		return -1, err
	}
	how := func(last bool) *unix.OpenHow {
		flags := uint64(unix.O_PATH | unix.O_CLOEXEC)
		if last && !followLast {
			flags |= unix.O_NOFOLLOW
		}
		return &unix.OpenHow{Flags: flags, Resolve: ResolveScoped}
	}
	if len(comps) == 0 {
		return unix.Openat2(rootfd, ".", how(false))
	}
	fd, err := unix.Openat2(rootfd, strings.Join(comps, "/"), how(true))
	if err != unix.ENOENT || create == "" {
		return fd, err
	}
	// Something is missing: walk from the root, one component at a time.
	parent, err := unix.Openat2(rootfd, ".", how(false))
	if err != nil {
		return -1, err
	}
	for i, c := range comps {
		last := i == len(comps)-1
		fd, err := unix.Openat2(rootfd, strings.Join(comps[:i+1], "/"), how(last))
		if err == unix.ENOENT {
			if last && create == "file" {
				var f int
				f, err = unix.Openat(parent, c, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
				if err == nil {
					unix.Close(f)
				}
			} else {
				err = unix.Mkdirat(parent, c, 0o755)
			}
			if err != nil && err != unix.EEXIST {
				unix.Close(parent)
				return -1, err
			}
			// The entry just made, through its parent's fd: one name, no
			// symlink, nothing to resolve.
			fd, err = unix.Openat2(parent, c, &unix.OpenHow{
				Flags:   uint64(unix.O_PATH | unix.O_CLOEXEC | unix.O_NOFOLLOW),
				Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS,
			})
			if err == nil && (!last || followLast) && isSymlink(fd) {
				// EEXIST above, and a symlink: it points (inside the root)
				// to nothing. Like mkdir -p, do not create its target.
				unix.Close(fd)
				err = fmt.Errorf("/%s is a symlink to a missing file: %w", strings.Join(comps[:i+1], "/"), unix.ENOENT)
			}
		}
		unix.Close(parent)
		if err != nil {
			return -1, err
		}
		parent = fd
	}
	return parent, nil
}

func isSymlink(fd int) bool {
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK
}

// Components splits an absolute path into its names, refusing what is not
// a plain absolute path (the plan's paths are clean: this is a guard
// against a hand-edited plan).
func Components(p string) ([]string, error) {
	if !path.IsAbs(p) {
		return nil, fmt.Errorf("%q: not an absolute path: %w", p, unix.EINVAL)
	}
	var out []string
	for _, c := range strings.Split(p, "/") {
		switch c {
		case "", ".":
			continue
		case "..":
			return nil, fmt.Errorf("%q: \"..\" in a path inside the root: %w", p, unix.EINVAL)
		}
		out = append(out, c)
	}
	return out, nil
}

// FdPath names an open fd as a path, for calls that take no dirfd
// (mount(2)): the kernel follows /proc/self/fd/N to the very file the fd
// holds, with no lookup by name.
func FdPath(fd int) string { return fmt.Sprintf("/proc/self/fd/%d", fd) }
