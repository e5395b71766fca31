package executor

import (
	"fmt"
	"math"
	"path"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// kernel is the child stage's seam to the kernel: one method per call the
// stage's switch makes. linuxKernel makes them; tests record them, so that
// every operation can go through the switch without touching the host.
type kernel interface {
	Mount(source, target, fstype string, flags uintptr, data string) error
	MountInRoot(root, target, create, source, fstype string, flags uintptr, data string) error
	Overlay(target, lower string) error
	Symlink(root, target, link string) error
	Sethostname(name string) error
	Setdomainname(name string) error
	Chdir(path string) error
	PivotRoot(newRoot, putOld string) error
	Umount2(target string, flags int) error
	Prctl(option int, arg uint64) error
	CloseRange(first uint32) error
	Setgroups(groups []uint32) error
	Setresgid(gid uint32) error
	Setresuid(uid uint32) error
	Exec(path string, argv, env []string) error
	ForkExec(path string, argv, env []string, dir string, uid, gid uint32) (int, error)
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
func (linuxKernel) Overlay(target, lower string) error {
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

func (linuxKernel) Sethostname(name string) error   { return unix.Sethostname([]byte(name)) }
func (linuxKernel) Setdomainname(name string) error { return unix.Setdomainname([]byte(name)) }
func (linuxKernel) Chdir(p string) error            { return unix.Chdir(p) }
func (linuxKernel) PivotRoot(n, o string) error     { return unix.PivotRoot(n, o) }
func (linuxKernel) Umount2(t string, f int) error   { return unix.Unmount(t, f) }

func (linuxKernel) Prctl(option int, arg uint64) error {
	return unix.Prctl(option, uintptr(arg), 0, 0, 0)
}

// closeRangeCloexec is CLOSE_RANGE_CLOEXEC (linux/close_range.h): mark the
// range close-on-exec instead of closing it now, so that the stage keeps
// what it still needs until its own execve.
const closeRangeCloexec = 1 << 2

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

// ForkExec starts one process of the tree: fork, then (in the new process)
// setgroups(0, []), setresgid, setresuid, chdir, execve, with only fds
// 0, 1 and 2 and nothing of init's environment. Pdeathsig makes it die
// with init (set after the credential change, which would clear it,
// prctl(2)); the thread that forks is init's only locked thread.
func (linuxKernel) ForkExec(p string, argv, env []string, dir string, uid, gid uint32) (int, error) {
	return syscall.ForkExec(p, argv, &syscall.ProcAttr{
		Dir:   dir,
		Env:   env,
		Files: []uintptr{0, 1, 2},
		Sys: &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}},
			Pdeathsig:  syscall.SIGKILL,
		},
	})
}
