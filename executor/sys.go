package executor

import (
	"fmt"
	"math"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// kernel is the child stage's seam to the kernel: one method per call the
// stage's switch makes. linuxKernel makes them; tests record them, so that
// every operation can go through the switch without touching the host.
type kernel interface {
	Mount(source, target, fstype string, flags uintptr, data string) error
	Unshare(flags int) error
	Write(path, data string) error
	MountInRoot(root, target, create, source, fstype string, flags uintptr, data string) error
	Overlay(target, lower string, userxattr bool) error
	Symlink(root, target, link string) error
	Sethostname(name string) error
	Setdomainname(name string) error
	Chdir(path string) error
	PivotRoot(newRoot, putOld string) error
	Umount2(target string, flags int) error
	Prctl(option int, arg uint64) error
	SetName(name string) error
	Capset(keep []string) error
	LinkUp(name string) error
	CloseRange(first uint32) error
	Setgroups(groups []uint32) error
	Setresgid(gid uint32) error
	Setresuid(uid uint32) error
	Setsid() error
	Setpgid() error
	Exec(path string, argv, env []string) error
	ForkExec(path string, argv, env []string, dir string, uid, gid uint32, stdio [3]int, noSetgroups bool) (int, error)
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

func (linuxKernel) Mount(source, target, fstype string, flags uintptr, data string) error {
	return mount(source, target, fstype, flags, data)
}

// MountInRoot mounts on target resolved inside root (see openInRoot). root
// is opened now, after the root's own bind or overlay: the handle is the
// top of its mount stack, the tree the environment will see.
func (linuxKernel) MountInRoot(root, target, create, source, fstype string, flags uintptr, data string) error {
	rootfd, err := openRoot(root)
	if err != nil {
		return err
	}
	defer unix.Close(rootfd)
	fd, err := openInRoot(rootfd, target, create)
	if err != nil {
		return fmt.Errorf("resolve %s inside the root: %w", target, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		// The mount would cover the link itself, a trap for the reader.
		return fmt.Errorf("%s is a symlink inside the root: %w", target, unix.ELOOP)
	}
	return mount(source, fdPath(fd), fstype, flags, data)
}

// Overlay lays a writable overlay on target: a tmpfs on target holds the
// upper and work directories (overlayfs wants both on one filesystem), and
// the lower layer is the tree that was at target, held by an fd opened
// before the tmpfs hid it. All three are passed as /proc/self/fd paths, so
// no path needs escaping in the option string.
func (linuxKernel) Overlay(target, lower string, userxattr bool) error {
	lfd, err := unix.Open(lower, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %q: %w", lower, err)
	}
	defer unix.Close(lfd)
	var st unix.Stat_t
	if err := unix.Fstat(lfd, &st); err != nil {
		return err
	}
	if err := mount("tmpfs", target, "tmpfs", 0, "mode=0700"); err != nil {
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
	return mount("overlay", target, "overlay", 0, data)
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

// Capset keeps only the named capabilities. The bounding set goes first
// (PR_CAPBSET_DROP needs CAP_SETPCAP, which capset may then drop), every
// capability the kernel has, up to /proc/sys/kernel/cap_last_cap, so one
// newer than this list is dropped too; then the ambient set, then
// capset(2) for permitted and effective (inheritable empty).
func (linuxKernel) Capset(keep []string) error {
	var mask [2]uint32
	kept := map[uint]bool{}
	for _, n := range keep {
		c, ok := capNames[n]
		if !ok {
			return fmt.Errorf("unknown capability %s: %w", n, unix.EINVAL)
		}
		kept[c] = true
		mask[c/32] |= 1 << (c % 32)
	}
	last := uint(unix.CAP_LAST_CAP)
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			last = uint(n)
		}
	}
	for c := uint(0); c <= last; c++ {
		if kept[c] {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && err != unix.EINVAL {
			return fmt.Errorf("prctl(PR_CAPBSET_DROP, %d): %w", c, err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_CAP_AMBIENT_CLEAR_ALL): %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: mask[0], Permitted: mask[0]},
		{Effective: mask[1], Permitted: mask[1]},
	}
	return unix.Capset(&hdr, &data[0])
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

func (linuxKernel) Setpgid() error { return unix.Setpgid(0, 0) }

// ForkExec starts one process of the tree: fork, then (in the new process)
// setgroups(0, []), setresgid, setresuid, chdir, execve, with only fds
// 0, 1 and 2 (init's stdio fds given, which are init's own 0, 1, 2 unless
// the output is prefixed) and nothing of init's environment. Pdeathsig
// makes it die with init (set after the credential change, which would
// clear it, prctl(2)); the thread that forks is init's only locked thread.
// With noSetgroups, setgroups(2) is not called: it is denied in a
// rootless user namespace (user_namespaces(7)).
func (linuxKernel) ForkExec(p string, argv, env []string, dir string, uid, gid uint32, stdio [3]int, noSetgroups bool) (int, error) {
	return syscall.ForkExec(p, argv, &syscall.ProcAttr{
		Dir:   dir,
		Env:   env,
		Files: []uintptr{uintptr(stdio[0]), uintptr(stdio[1]), uintptr(stdio[2])},
		Sys: &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}, NoSetGroups: noSetgroups},
			Pdeathsig:  syscall.SIGKILL,
		},
	})
}
