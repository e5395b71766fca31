package executor

import (
	"encoding/binary"
	"fmt"
	"math"
	"path"
	"runtime"
	"syscall"
	"unsafe"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// kernel is the child stage's seam to the kernel: one method per call the
// stage's switch makes. linuxKernel makes them; tests record them, so that
// every operation can go through the switch without touching the host.
type kernel interface {
	Mount(op planner.Mount) error
	MountSetattr(op planner.MountSetattr) error
	Unshare(flags int) error
	Write(path, data string) error
	Overlay(target, lower string, userxattr, nodev bool) error
	Symlink(root, target, link string) error
	Sethostname(name string) error
	Setdomainname(name string) error
	Chdir(path string) error
	PivotRoot(newRoot, putOld string) error
	Umount2(target string, flags int) error
	Prctl(option int, arg uint64) error
	SetName(name string) error
	Capset(keep []string) error
	AllThreadsPrctl(option int, arg uint64) error
	Seccomp(flags uint, program []byte) error
	Prlimit(resource int, soft, hard uint64) error
	Setctty() error
	LinkUp(name string) error
	CloseRange(first uint32) error
	Setgroups(groups []uint32) error
	Setresgid(gid uint32) error
	Setresuid(uid uint32) error
	Setsid() error
	Exec(path string, argv, env []string) error
	Spawn(attr *spawnAttr) (int, error)
}

type linuxKernel struct{}

// mount is mount(2) with NULL for an empty string, as the plan prints it:
// some filesystems refuse an empty data string where NULL is fine.
func mount(source, target, fstype string, flags uintptr, data string) error {
	var p [4]*byte
	for i, s := range [...]string{source, target, fstype, data} {
		if s == "" {
			continue
		}
		b, err := unix.BytePtrFromString(s)
		if err != nil {
			return err
		}
		p[i] = b
	}
	_, _, e := unix.Syscall6(unix.SYS_MOUNT, uintptr(unsafe.Pointer(p[0])), uintptr(unsafe.Pointer(p[1])),
		uintptr(unsafe.Pointer(p[2])), flags, uintptr(unsafe.Pointer(p[3])), 0)
	if e != 0 {
		return e
	}
	return nil
}

// Mount is mount(2) of a step. A target inside the root (InRoot) is
// resolved there (see openInRoot) and mounted through its fd; root is
// opened now, after the root's own bind or overlay: the handle is the top
// of its mount stack, the tree the environment will see. A bind's source
// is opened first, and mounted through its fd too: inside the root when
// SourceInRoot, else on the host without following any symlink, since
// the planner resolved them all (a symlink there now was put in its way
// since, by whoever can write to a folder of that path, and would lead
// the bind anywhere, the host's / included).
func (linuxKernel) Mount(op planner.Mount) error {
	source, target := op.Source, op.Target
	var rootfd = -1
	if op.InRoot || op.SourceInRoot {
		fd, err := openRoot(op.Root)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		rootfd = fd
	}
	bind := op.Flags&unix.MS_BIND != 0 && op.Flags&unix.MS_REMOUNT == 0 && source != ""
	switch {
	case bind && op.SourceInRoot:
		fd, err := openInRoot(rootfd, source, "")
		if err != nil {
			return fmt.Errorf("resolve %s inside the root: %w", source, err)
		}
		defer unix.Close(fd)
		source = fdPath(fd)
	case bind:
		fd, err := openNoSymlinks(source)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if source == target && !op.InRoot {
			target = fdPath(fd) // the root bound onto itself
		}
		source = fdPath(fd)
	}
	if op.InRoot {
		fd, err := openInRoot(rootfd, op.Target, op.Create)
		if err != nil {
			return fmt.Errorf("resolve %s inside the root: %w", op.Target, err)
		}
		defer unix.Close(fd)
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			// The mount would cover the link itself, a trap for the reader.
			return fmt.Errorf("%s is a symlink inside the root: %w", op.Target, unix.ELOOP)
		}
		target = fdPath(fd)
	}
	return mount(source, target, op.FSType, uintptr(op.Flags), op.Data)
}

// openNoSymlinks opens a host path the planner resolved (O_PATH),
// refusing any symlink on the way (openat2(2) RESOLVE_NO_SYMLINKS).
func openNoSymlinks(p string) (int, error) {
	fd, err := unix.Openat2(unix.AT_FDCWD, p, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err == unix.ELOOP {
		return -1, explained{fmt.Sprintf("%s: a symlink is in this path now, which the plan resolved without one (changed since it was planned?): refused, it could lead anywhere", p), unix.ELOOP}
	}
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", p, err)
	}
	return fd, nil
}

// MountSetattr is mount_setattr(2) of the mount at a step's path: inside
// the root, through the resolved fd, or a host path.
func (linuxKernel) MountSetattr(op planner.MountSetattr) error {
	flags := uint(0)
	if op.Recursive {
		flags |= unix.AT_RECURSIVE
	}
	attr := &unix.MountAttr{Attr_set: uint64(op.Set), Attr_clr: uint64(op.Clear)}
	if !op.InRoot {
		return unix.MountSetattr(unix.AT_FDCWD, op.Path, flags, attr)
	}
	rootfd, err := openRoot(op.Root)
	if err != nil {
		return err
	}
	defer unix.Close(rootfd)
	fd, err := openInRoot(rootfd, op.Path, "")
	if err != nil {
		return fmt.Errorf("resolve %s inside the root: %w", op.Path, err)
	}
	defer unix.Close(fd)
	return unix.MountSetattr(fd, "", flags|unix.AT_EMPTY_PATH, attr)
}

// Overlay lays a writable overlay on target: a tmpfs on target holds the
// upper and work directories (overlayfs wants both on one filesystem), and
// the lower layer is the tree that was at target, held by an fd opened
// before the tmpfs hid it. All three are passed as /proc/self/fd paths, so
// no path needs escaping in the option string.
func (linuxKernel) Overlay(target, lower string, userxattr, nodev bool) error {
	var flags uintptr
	if nodev {
		flags = unix.MS_NODEV
	}
	lfd, err := unix.Open(lower, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %q: %w", lower, err)
	}
	defer unix.Close(lfd)
	var st unix.Stat_t
	if err := unix.Fstat(lfd, &st); err != nil {
		return err
	}
	if err := mount("tmpfs", target, "tmpfs", flags, "mode=0700"); err != nil {
		return err
	}
	tfd, err := unix.Open(target, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(tfd)
	var fds [2]int
	for i, name := range [...]string{"upper", "work"} {
		if err := unix.Mkdirat(tfd, name, 0o700); err != nil {
			return err
		}
		fd, err := unix.Openat(tfd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		fds[i] = fd
	}
	// The merged root shows the upper directory's owner and mode: make
	// them the lower root's.
	if err := unix.Fchownat(fds[0], "", int(st.Uid), int(st.Gid), unix.AT_EMPTY_PATH); err != nil {
		return err
	}
	if err := unix.Fchmodat(unix.AT_FDCWD, fdPath(fds[0]), st.Mode&0o7777, 0); err != nil {
		return err
	}
	data := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", fdPath(lfd), fdPath(fds[0]), fdPath(fds[1]))
	if userxattr {
		data += ",userxattr"
	}
	return mount("overlay", target, "overlay", flags, data)
}

// Symlink makes link (a path inside root) point to target. The link's
// folder is resolved inside the root, and the link made in it by name.
func (linuxKernel) Symlink(root, target, link string) error {
	rootfd, err := openRoot(root)
	if err != nil {
		return err
	}
	defer unix.Close(rootfd)
	dir, name := path.Split(path.Clean(link))
	pfd, err := openDirInRoot(rootfd, dir, "")
	if err != nil {
		return fmt.Errorf("resolve %s inside the root: %w", dir, err)
	}
	defer unix.Close(pfd)
	return unix.Symlinkat(target, pfd, name)
}

func (linuxKernel) Unshare(flags int) error         { return unix.Unshare(flags) }
func (linuxKernel) Write(p, data string) error      { return writeOnce(p, data) }
func (linuxKernel) Sethostname(name string) error   { return unix.Sethostname([]byte(name)) }
func (linuxKernel) Setdomainname(name string) error { return unix.Setdomainname([]byte(name)) }
func (linuxKernel) Chdir(p string) error            { return unix.Chdir(p) }
func (linuxKernel) PivotRoot(n, o string) error     { return unix.PivotRoot(n, o) }
func (linuxKernel) Umount2(t string, f int) error   { return unix.Unmount(t, f) }

// SetName is prctl(PR_SET_NAME): the thread's comm. The stage's main
// thread is the process's: ps and /proc/PID/comm show it.
func (linuxKernel) SetName(name string) error {
	b, err := unix.BytePtrFromString(name)
	if err != nil {
		return err
	}
	return unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(b)), 0, 0, 0)
}

func (linuxKernel) Prctl(option int, arg uint64) error {
	return unix.Prctl(option, uintptr(arg), 0, 0, 0)
}

// closeRangeCloexec is CLOSE_RANGE_CLOEXEC (linux/close_range.h): mark the
// range close-on-exec instead of closing it now, so that the stage keeps
// what it still needs until its own execve.
const closeRangeCloexec = 1 << 2

// LinkUp sets IFF_UP on an interface of this network namespace
// (netdevice(7): SIOCGIFFLAGS, then SIOCSIFFLAGS on any socket).
func (linuxKernel) LinkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// capNames are the capabilities nsup knows by name (capabilities(7)).
var capNames = map[string]uint{
	"CAP_CHOWN": unix.CAP_CHOWN, "CAP_DAC_OVERRIDE": unix.CAP_DAC_OVERRIDE,
	"CAP_DAC_READ_SEARCH": unix.CAP_DAC_READ_SEARCH, "CAP_FOWNER": unix.CAP_FOWNER,
	"CAP_FSETID": unix.CAP_FSETID, "CAP_KILL": unix.CAP_KILL, "CAP_SETGID": unix.CAP_SETGID,
	"CAP_SETUID": unix.CAP_SETUID, "CAP_SETPCAP": unix.CAP_SETPCAP,
	"CAP_LINUX_IMMUTABLE": unix.CAP_LINUX_IMMUTABLE, "CAP_NET_BIND_SERVICE": unix.CAP_NET_BIND_SERVICE,
	"CAP_NET_BROADCAST": unix.CAP_NET_BROADCAST, "CAP_NET_ADMIN": unix.CAP_NET_ADMIN,
	"CAP_NET_RAW": unix.CAP_NET_RAW, "CAP_IPC_LOCK": unix.CAP_IPC_LOCK, "CAP_IPC_OWNER": unix.CAP_IPC_OWNER,
	"CAP_SYS_MODULE": unix.CAP_SYS_MODULE, "CAP_SYS_RAWIO": unix.CAP_SYS_RAWIO,
	"CAP_SYS_CHROOT": unix.CAP_SYS_CHROOT, "CAP_SYS_PTRACE": unix.CAP_SYS_PTRACE,
	"CAP_SYS_PACCT": unix.CAP_SYS_PACCT, "CAP_SYS_ADMIN": unix.CAP_SYS_ADMIN,
	"CAP_SYS_BOOT": unix.CAP_SYS_BOOT, "CAP_SYS_NICE": unix.CAP_SYS_NICE,
	"CAP_SYS_RESOURCE": unix.CAP_SYS_RESOURCE, "CAP_SYS_TIME": unix.CAP_SYS_TIME,
	"CAP_SYS_TTY_CONFIG": unix.CAP_SYS_TTY_CONFIG, "CAP_MKNOD": unix.CAP_MKNOD,
	"CAP_LEASE": unix.CAP_LEASE, "CAP_AUDIT_WRITE": unix.CAP_AUDIT_WRITE,
	"CAP_AUDIT_CONTROL": unix.CAP_AUDIT_CONTROL, "CAP_SETFCAP": unix.CAP_SETFCAP,
	"CAP_MAC_OVERRIDE": unix.CAP_MAC_OVERRIDE, "CAP_MAC_ADMIN": unix.CAP_MAC_ADMIN,
	"CAP_SYSLOG": unix.CAP_SYSLOG, "CAP_WAKE_ALARM": unix.CAP_WAKE_ALARM,
	"CAP_BLOCK_SUSPEND": unix.CAP_BLOCK_SUSPEND, "CAP_AUDIT_READ": unix.CAP_AUDIT_READ,
	"CAP_PERFMON": unix.CAP_PERFMON, "CAP_BPF": unix.CAP_BPF, "CAP_CHECKPOINT_RESTORE": unix.CAP_CHECKPOINT_RESTORE,
}

// Capset makes keep the permitted and effective capabilities of every
// thread, with nothing inheritable: capabilities are a thread's, and the
// stage (init, after it) starts processes from any of its threads, nsup
// exec's commands among them. The bounding set was reduced by the
// launcher, before the execve every thread inherits it from.
func (linuxKernel) Capset(keep []string) error {
	var mask [2]uint32
	for _, n := range keep {
		c, ok := capNames[n]
		if !ok {
			return fmt.Errorf("unknown capability %s: %w", n, unix.EINVAL)
		}
		mask[c/32] |= 1 << (c % 32)
	}
	hdr := &unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := &[2]unix.CapUserData{
		{Effective: mask[0], Permitted: mask[0]},
		{Effective: mask[1], Permitted: mask[1]},
	}
	_, _, e := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(hdr)), uintptr(unsafe.Pointer(data)), 0)
	runtime.KeepAlive(hdr)
	runtime.KeepAlive(data)
	if e != 0 {
		return e
	}
	return nil
}

// AllThreadsPrctl is prctl(2) on every thread, for a thread's attribute
// (no_new_privs).
func (linuxKernel) AllThreadsPrctl(option int, arg uint64) error {
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, uintptr(option), uintptr(arg), 0); e != 0 {
		return e
	}
	return nil
}

// Seccomp installs the program on every thread (the flags have
// SECCOMP_FILTER_FLAG_TSYNC): seccomp(2) SECCOMP_SET_MODE_FILTER. With
// TSYNC, a thread that cannot take the filter makes it return that
// thread's id.
func (linuxKernel) Seccomp(flags uint, program []byte) error {
	if len(program) == 0 || len(program)%8 != 0 || len(program)/8 > 4096 {
		return fmt.Errorf("a seccomp program of %d bytes: %w", len(program), unix.EINVAL)
	}
	filter := make([]unix.SockFilter, len(program)/8)
	for i := range filter {
		b := program[i*8:]
		filter[i] = unix.SockFilter{Code: binary.NativeEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.NativeEndian.Uint32(b[4:])}
	}
	prog := &unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	r, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(flags), uintptr(unsafe.Pointer(prog)))
	runtime.KeepAlive(filter)
	switch {
	case e != 0:
		return e
	case r != 0:
		return fmt.Errorf("thread %d could not take the filter: %w", r, unix.ESRCH)
	}
	return nil
}

// Prlimit is prlimit64(0, resource, {soft, hard}, NULL).
func (linuxKernel) Prlimit(resource int, soft, hard uint64) error {
	return unix.Prlimit(0, resource, &unix.Rlimit{Cur: soft, Max: hard}, nil)
}

// Setctty is ioctl(0, TIOCSCTTY, 0): fd 0 becomes the controlling
// terminal of the session this process leads.
func (linuxKernel) Setctty() error {
	return unix.IoctlSetInt(0, unix.TIOCSCTTY, 0)
}

func (linuxKernel) CloseRange(first uint32) error {
	return unix.CloseRange(uint(first), math.MaxUint32, closeRangeCloexec)
}

// Credentials change on every thread of the stage (syscall's versions do
// that in Go), although the calls that follow run on this locked thread
// anyway.
func (linuxKernel) Setgroups(groups []uint32) error {
	g := make([]int, len(groups))
	for i, x := range groups {
		g[i] = int(x)
	}
	return syscall.Setgroups(g)
}

func (linuxKernel) Setresgid(gid uint32) error {
	return syscall.Setresgid(int(gid), int(gid), int(gid))
}

func (linuxKernel) Setresuid(uid uint32) error {
	return syscall.Setresuid(int(uid), int(uid), int(uid))
}

func (linuxKernel) Exec(p string, argv, env []string) error { return unix.Exec(p, argv, env) }

func (linuxKernel) Setsid() error {
	_, err := unix.Setsid()
	return err
}

// Spawn starts one process inside the environment (spawn.go).
func (linuxKernel) Spawn(attr *spawnAttr) (int, error) { return spawn(attr) }
