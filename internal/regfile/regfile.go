// Package regfile opens regular files only: what a spec, a repository or
// an ELF file names (a spec, a lock, a library, an archive, a profile, a
// bundle's config.json) may be a FIFO, whose open blocks for good, or a
// device, whose open is an act of its own (a watchdog arms, a tape
// rewinds). The path is opened O_PATH, checked with fstat(2), and opened
// again through /proc/self/fd, as libpathrs reopens a handle: nothing but
// a regular file is ever opened for reading.
package regfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// ErrNotRegular is Open's refusal of anything but a regular file.
var ErrNotRegular = errors.New("not a regular file (a FIFO, a device, a folder or a socket is never opened)")

// Open opens the regular file at p (following symlinks) for reading.
func Open(p string) (*os.File, error) {
	return open(p, 0)
}

// OpenNoSymlinks is Open with no symlink anywhere in p
// (RESOLVE_NO_SYMLINKS): p is a real path, every link on the way resolved
// when it was planned; one there now is refused.
func OpenNoSymlinks(p string) (*os.File, error) {
	return open(p, unix.RESOLVE_NO_SYMLINKS|unix.RESOLVE_NO_MAGICLINKS)
}

// OpenNoFollow is Open of p whose last component is not followed if it
// is a symlink (O_NOFOLLOW): a link there is refused as not a regular
// file.
func OpenNoFollow(p string) (*os.File, error) {
	return openFlags(unix.AT_FDCWD, p, unix.O_NOFOLLOW, 0)
}

// OpenBeneath is Open of rel below the folder open as dirfd, never out
// of it (RESOLVE_BENEATH: no "..", absolute path or symlink that leads
// out, as os.Root opens): a file of a tree nsup reads, whoever filled it.
func OpenBeneath(dirfd int, rel string) (*os.File, error) {
	return openAt(dirfd, rel, unix.RESOLVE_BENEATH|unix.RESOLVE_NO_MAGICLINKS)
}

// OpenIn is Open of the file name in the folder dir, name's symlinks
// followed below dir only (OpenBeneath); dir's own path is followed as
// given.
func OpenIn(dir, name string) (*os.File, error) {
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(dfd)
	return OpenBeneath(dfd, name)
}

func open(p string, resolve uint64) (*os.File, error) {
	return openAt(unix.AT_FDCWD, p, resolve)
}

func openAt(dirfd int, p string, resolve uint64) (*os.File, error) {
	return openFlags(dirfd, p, 0, resolve)
}

func openFlags(dirfd int, p string, flags int, resolve uint64) (*os.File, error) {
	return openChecked(dirfd, p, flags, resolve, func(fd int) error {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return &os.PathError{Op: "stat", Path: p, Err: err}
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			return &os.PathError{Op: "open", Path: p, Err: ErrNotRegular}
		}
		return nil
	})
}

// ErrNotNS is OpenNS's refusal of anything but a namespace file.
var ErrNotNS = errors.New("not a namespace file (a FIFO, a device or any other file is never opened)")

// OpenNS opens the namespace file at p (on nsfs: /proc/PID/ns/TYPE, or a
// bind of one as /run/netns/NAME) for reading, and nothing else: what a
// spec's join names may be a FIFO (its open blocks for good) or a device
// (whose open is an act of its own).
func OpenNS(p string) (*os.File, error) {
	return openChecked(unix.AT_FDCWD, p, 0, 0, func(fd int) error {
		var st unix.Statfs_t
		if err := unix.Fstatfs(fd, &st); err != nil {
			return &os.PathError{Op: "statfs", Path: p, Err: err}
		}
		if st.Type != unix.NSFS_MAGIC {
			return &os.PathError{Op: "open", Path: p, Err: ErrNotNS}
		}
		return nil
	})
}

// openChecked opens p O_PATH, has check look at that fd, and only then
// opens it for reading, through /proc/self/fd.
func openChecked(dirfd int, p string, flags int, resolve uint64, check func(fd int) error) (*os.File, error) {
	fd, err := unix.Openat2(dirfd, p, &unix.OpenHow{Flags: uint64(unix.O_PATH | unix.O_CLOEXEC | flags), Resolve: resolve})
	if err != nil {
		if err == unix.ELOOP && resolve&unix.RESOLVE_NO_SYMLINKS != 0 {
			return nil, fmt.Errorf("%s: a symlink is in this path now, which the plan resolved without one (changed since it was planned?): refused, it could lead anywhere: %w", p, err)
		}
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	defer unix.Close(fd)
	if err := check(fd); err != nil {
		return nil, err
	}
	rfd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(fd), unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	return os.NewFile(uintptr(rfd), p), nil
}

// ReadBounded reads the regular file at p, refusing one of more than max
// bytes (it may grow while read: at most max+1 are read).
func ReadBounded(p string, max int64) ([]byte, error) {
	f, err := Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readMax(f, p, max)
}

// ReadBeneath is ReadBounded of rel below dir (OpenBeneath).
func ReadBeneath(dir, rel string, max int64) ([]byte, error) {
	f, err := OpenIn(dir, rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readMax(f, rel, max)
}

func readMax(f *os.File, name string, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, max)
	}
	return b, nil
}
