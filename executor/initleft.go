package executor

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// killLeft kills what is left of the environment when init is not PID 1
// of its own pid namespace (and is the tree's child subreaper, a planned
// step): each child, until none is left, since the children of one killed
// become init's own. Its children are read from /proc/PID/task/*/children
// of a procfs that is init's own (ownChildren): without one in the
// environment, what is left stays.
func killLeft() {
	for {
		pids, err := ownChildren()
		if err != nil {
			return
		}
		var ws unix.WaitStatus
		if len(pids) == 0 {
			for {
				if pid, _ := unix.Wait4(-1, &ws, unix.WNOHANG, nil); pid <= 0 {
					return
				}
			}
		}
		for _, pid := range pids {
			unix.Kill(pid, unix.SIGKILL) // a child, reaped by nobody else: not reused
		}
		if _, err := unix.Wait4(-1, &ws, 0, nil); err == unix.ECHILD {
			return
		}
	}
}

// ownChildren reads init's children from /proc/PID/task/*/children, only
// where /proc is a procfs's root (fstatfs, inode 1) of init's own pid
// namespace (its self is init), and nothing on the way is another mount
// or a link (RESOLVE_NO_XDEV, RESOLVE_NO_SYMLINKS), as libpathrs checks a
// procfs. /proc is the environment's: a folder of its tree, or, in a
// joined mount namespace, the joined environment's, where root there
// could write a children file naming the host's processes, which init,
// in the host's pid namespace, would then have killed (found by a
// review: TestRootJoinedMntPlantedProc).
func ownChildren() ([]int, error) {
	proc, err := unix.Open("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(proc)
	var fs unix.Statfs_t
	var st unix.Stat_t
	if unix.Fstatfs(proc, &fs) != nil || fs.Type != unix.PROC_SUPER_MAGIC || unix.Fstat(proc, &st) != nil || st.Ino != 1 {
		return nil, fmt.Errorf("/proc is not a procfs's root: %w", unix.EXDEV)
	}
	self := strconv.Itoa(os.Getpid())
	var b [32]byte
	if n, err := unix.Readlinkat(proc, "self", b[:]); err != nil || string(b[:n]) != self {
		return nil, fmt.Errorf("/proc is not of init's pid namespace: %w", unix.EXDEV)
	}
	const beneath = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_XDEV | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS
	tfd, err := unix.Openat2(proc, self+"/task", &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: beneath})
	if err != nil {
		return nil, err
	}
	tasks := os.NewFile(uintptr(tfd), "task")
	defer tasks.Close()
	names, err := tasks.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, task := range names {
		fd, err := unix.Openat2(tfd, task+"/children", &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC, Resolve: beneath})
		if err != nil {
			continue
		}
		f := os.NewFile(uintptr(fd), "children")
		c, _ := io.ReadAll(io.LimitReader(f, 1<<20))
		f.Close()
		for _, w := range strings.Fields(string(c)) {
			if pid, err := strconv.Atoi(w); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids, nil
}
