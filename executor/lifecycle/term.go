package lifecycle

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// The terminal helpers of nsup exec -t, which the foreground relay of an
// environment's own terminal (executor/pty.go, the Openpty step) uses
// too.

// OpenPty opens a new pseudo-terminal pair (pty(7)): the master, non
// blocking so that reads can be bounded (its fd number too: File.Fd would
// make it blocking again), and the slave by TIOCGPTPEER, without looking
// its name up in /dev/pts.
func OpenPty() (*os.File, int, int, error) {
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, -1, -1, err
	}
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(m)
		return nil, -1, -1, fmt.Errorf("unlockpt: %w", err)
	}
	s, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(m), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		unix.Close(m)
		return nil, -1, -1, fmt.Errorf("TIOCGPTPEER: %w", errno)
	}
	return os.NewFile(uintptr(m), "ptmx"), m, int(s), nil
}

// Resize gives the pty the window size of the caller's terminal (stdin,
// else stdout); the kernel tells the command's foreground process group
// (SIGWINCH).
func Resize(master int, from ...*os.File) {
	for _, f := range from {
		if f == nil {
			continue
		}
		ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
		if err == nil {
			unix.IoctlSetWinsize(master, unix.TIOCSWINSZ, ws)
			return
		}
	}
}

// RawMode puts a terminal in raw mode, as cfmakeraw(3) does, so that
// every key (^C, ^Z included) reaches the command's terminal, whose own
// line discipline interprets them; restore puts it back.
func RawMode(f *os.File) (restore func(), err error) {
	if f == nil {
		return nil, errors.New("no terminal")
	}
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	t := *old
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &t); err != nil {
		return nil, err
	}
	return func() { unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil
}

// PassAsIs says whether f may be handed to an environment as it is, as
// its fd 0, 1 or 2: a pipe, a socket or the null device. Anything else
// is bridged through a pipe instead, as a reader that is not a file is:
//   - a regular file or a folder: root inside could open it again through
//     /proc/self/fd/N, for writing too (a file nsup's caller gave it to
//     read), or walk a folder out of the tree;
//   - a terminal: root inside could read what the caller types there and
//     send it ioctls (its settings, its window size), even with no
//     controlling terminal inside; an environment gets a terminal only
//     as a pty of its own (the Openpty step, nsup exec -t);
//   - any other device: opened again, it could be read or written the
//     other way (a log device given to write, read back);
//   - a named FIFO (or an O_PATH fd of a socket's node): a node of the
//     caller's filesystem, which root inside, its owner, chmod'ed and
//     chown'ed through /proc/self/fd/N; a pipe or socket is handed over
//     only on pipefs or sockfs, where nobody else opens it by a path.
func PassAsIs(f *os.File) bool {
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil {
		return false
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFIFO, unix.S_IFSOCK:
		var fs unix.Statfs_t
		return unix.Fstatfs(int(f.Fd()), &fs) == nil && (fs.Type == unix.PIPEFS_MAGIC || fs.Type == unix.SOCKFS_MAGIC)
	case unix.S_IFCHR:
		return isNull(&st)
	}
	return false
}

// IsNull reports whether f is the null device: what nsup exec hands over
// as it is (a pipe or a socket of the caller's it copies too).
func IsNull(f *os.File) bool {
	var st unix.Stat_t
	return unix.Fstat(int(f.Fd()), &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFCHR && isNull(&st)
}

// OpenNull opens the null device through a read-only clone of the
// host's /dev/null alone (planner.NullDevice): it reads and writes as the
// host's does, but a chmod, chown or utimes through it (or through
// /proc/PID/fd/N, which reopens it on the same mount) fails with EROFS.
// The node is taken without following a link, and refused unless it is
// the null device (1:3), as the child stage checks the nodes it binds.
// Root only (open_tree's clone needs CAP_SYS_ADMIN).
func OpenNull() (*os.File, error) {
	t, err := unix.OpenTree(unix.AT_FDCWD, "/dev/null", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_SYMLINK_NOFOLLOW)
	if err != nil {
		return nil, fmt.Errorf("open_tree /dev/null: %w", err)
	}
	defer unix.Close(t)
	var st unix.Stat_t
	if err := unix.Fstat(t, &st); err != nil {
		return nil, fmt.Errorf("fstat /dev/null: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || !isNull(&st) {
		return nil, fmt.Errorf("/dev/null on the host is not the device it names (something replaced it there; handed in, it would be what root inside reads and writes): %w", unix.ENODEV)
	}
	fd, err := openReadOnly(t, unix.O_RDWR|unix.O_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("/dev/null's clone: %w", err)
	}
	return os.NewFile(uintptr(fd), os.DevNull), nil
}

// ReadOnlyPty opens the pty slave s again through a read-only clone of it
// alone, as OpenNull does /dev/null: nsup exec -t's command gets that one,
// so that root inside cannot chmod or chown the host's /dev/pts/N (a
// chmod 666 gave every host user the command's terminal: what the caller
// types, and a way to type into it). The clone is of s's name in this
// mount namespace (the link /proc/self/fd/s, /dev/pts/N), opened
// following no link and checked to be s's very node (device, inode,
// rdev), as the child's ReadOnlyTerminal step does: s itself cannot be
// cloned in a mount namespace other than the one it was opened in
// (EINVAL), which is how a rootless nsup makes it (ReadOnlyPtyRootless:
// a helper in a user and mount namespace of its own). Needs
// CAP_SYS_ADMIN over this mount namespace.
func ReadOnlyPty(s int) (int, error) {
	name, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", s))
	if err != nil {
		return -1, fmt.Errorf("the terminal's name: %w", err)
	}
	if !strings.HasPrefix(name, "/dev/pts/") {
		return -1, fmt.Errorf("the terminal %q is no /dev/pts/N: %w", name, unix.ENOTTY)
	}
	src, err := unix.Openat2(unix.AT_FDCWD, name, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC | unix.O_NOFOLLOW, Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", name, err)
	}
	defer unix.Close(src)
	if !sameNode(s, src) {
		return -1, fmt.Errorf("%s is not the terminal (something is mounted over it): %w", name, unix.ENOTTY)
	}
	t, err := unix.OpenTree(src, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	if err != nil {
		return -1, fmt.Errorf("open_tree the terminal: %w", err)
	}
	defer unix.Close(t)
	fd, err := openReadOnly(t, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("the terminal's clone: %w", err)
	}
	if !sameNode(s, fd) {
		unix.Close(fd)
		return -1, fmt.Errorf("the terminal's clone is not the terminal: %w", unix.ENOTTY)
	}
	return fd, nil
}

// sameNode says whether fds a and b are one device node: the same inode
// of the same filesystem, the same device.
func sameNode(a, b int) bool {
	var x, y unix.Stat_t
	return unix.Fstat(a, &x) == nil && unix.Fstat(b, &y) == nil && x.Mode&unix.S_IFMT == unix.S_IFCHR &&
		x.Mode&unix.S_IFMT == y.Mode&unix.S_IFMT && x.Dev == y.Dev && x.Ino == y.Ino && x.Rdev == y.Rdev
}

// openReadOnly makes the detached clone t read-only (nosuid, noexec) and
// opens its file with flags, through /proc/self/fd.
func openReadOnly(t, flags int) (int, error) {
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NOEXEC}
	if err := unix.MountSetattr(t, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		return -1, fmt.Errorf("mount_setattr read-only: %w", err)
	}
	fd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", t), flags, 0)
	if err != nil {
		return -1, fmt.Errorf("open: %w", err)
	}
	return fd, nil
}

// SwapNull puts, in place of each of files that is the null device
// (IsNull), the file null gives, asked once, at the first one.
func SwapNull(files []*os.File, null func() (*os.File, error)) error {
	var n *os.File
	for i, f := range files {
		if f == nil || f == n || !IsNull(f) {
			continue
		}
		if n == nil {
			var err error
			if n, err = null(); err != nil {
				return err
			}
		}
		files[i] = n
	}
	return nil
}

func isNull(st *unix.Stat_t) bool {
	return unix.Major(uint64(st.Rdev)) == 1 && unix.Minor(uint64(st.Rdev)) == 3
}

// SameFile reports whether a and b are one file (nsup's stdout and
// stderr, usually: one terminal, or a file given as 2>&1): one pipe then
// bridges both, which keeps the order of the two streams' lines as the
// file would have had it.
func SameFile(a, b *os.File) bool {
	if a == nil || b == nil {
		return false
	}
	if a == b {
		return true
	}
	var sa, sb unix.Stat_t
	if unix.Fstat(int(a.Fd()), &sa) != nil || unix.Fstat(int(b.Fd()), &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino && sa.Rdev == sb.Rdev
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// envMaster checks the fd init sent as the master of nsup exec -t's
// command's terminal: a pty master (TIOCGPTN) of a devpts that is not
// the host's (/dev/pts here): one of the host's, handed in, would be a
// node root inside could chmod for every host user.
func envMaster(fd int) error {
	if fd < 0 {
		return fmt.Errorf("no master received: %w", unix.EBADMSG)
	}
	// What the fd is, before any ioctl on it: an ioctl's number means
	// something else to another driver, and init (root inside) chose
	// the fd.
	var fs unix.Statfs_t
	var st, host unix.Stat_t
	if unix.Fstatfs(fd, &fs) != nil || fs.Type != unix.DEVPTS_SUPER_MAGIC || unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return fmt.Errorf("not the ptmx of a devpts: %w", unix.ENOTTY)
	}
	if _, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN); err != nil {
		return fmt.Errorf("not a pty master: %w", unix.ENOTTY)
	}
	if err := unix.Stat("/dev/pts", &host); err != nil {
		return fmt.Errorf("the host's /dev/pts: %w", err)
	}
	if st.Dev == host.Dev {
		return fmt.Errorf("a pty of the host's devpts, refused: %w", unix.EPERM)
	}
	return nil
}

// winsize is the window size of the first of from that is a terminal,
// else 0, 0.
func winsize(from ...*os.File) (rows, cols uint16) {
	for _, f := range from {
		if f == nil {
			continue
		}
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil {
			return ws.Row, ws.Col
		}
	}
	return 0, 0
}
