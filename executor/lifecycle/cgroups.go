package lifecycle

// The groups nsup made for environments (planner/cgroup): a detached
// environment's removed by down, and what ended environments left (nsup
// killed, an init that died) removed by the next apply, down or ps.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/planner/cgroup"
	"golang.org/x/sys/unix"
)

// hostLayout is the host's cgroup layout, read once per process (ps
// asks for each environment's usage), the one the planner read: only its
// mounts and nsup's own groups are used here, which SetParent does not
// change.
var hostLayout = cgroup.Host

// nsupDirs are the nsup/ folders of the host's hierarchies, those that
// exist: each under nsup's own group there, and under the configured
// parent (NSUP_CGROUP_PARENT).
func nsupDirs() []string {
	l, err := hostLayout()
	if err != nil {
		return nil
	}
	parent := os.Getenv(cgroup.ParentEnv)
	if cgroup.CheckParent(parent) != nil {
		parent = ""
	}
	seen := map[string]bool{}
	var out []string
	add := func(h *cgroup.Hierarchy) {
		for _, g := range []string{h.Group, parent} {
			if g == "" {
				continue
			}
			d := filepath.Join(h.Dir(g), "nsup")
			if !seen[d] {
				seen[d] = true
				if fi, err := os.Stat(d); err == nil && fi.IsDir() {
					out = append(out, d)
				}
			}
		}
	}
	if l.Unified != nil {
		add(l.Unified)
	}
	for _, h := range l.V1 {
		add(h)
	}
	return out
}

// RemoveGroup empties a group nsup made (SIGKILL to what is in it, by
// cgroup.kill where the unified hierarchy has it), removes it with any
// group made inside it, and its nsup/ folder if that is empty now. A
// group still busy after a second is an error.
func RemoveGroup(dir string) error {
	if err := removeTree(dir, time.Now().Add(time.Second)); err != nil {
		return err
	}
	unix.Rmdir(filepath.Dir(dir)) // nsup/, unless another environment's group is in it
	return nil
}

// removeTree removes group dir, the groups inside it first (a process of
// the environment may have made some, where its cgroups are writable to
// it), killing what is in each.
func removeTree(dir string, deadline time.Time) error {
	waited := false
	for {
		err := unix.Rmdir(dir)
		if err == nil || err == unix.ENOENT {
			return nil
		}
		if err != unix.EBUSY || time.Now().After(deadline) {
			return fmt.Errorf("remove %s: %w", dir, err)
		}
		// What is in it is killed before the groups inside it go (all
		// of the tree at once, by cgroup.kill): a process left there ran
		// on while they were removed, and could make new ones as fast
		// (helper-81's review, TestRootGroupKilledFirst).
		killed := os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0) == nil
		if !killed {
			killGroup(dir)
		}
		if ents, _ := os.ReadDir(dir); len(ents) > 0 {
			for _, e := range ents {
				if e.IsDir() {
					if err := removeTree(filepath.Join(dir, e.Name()), deadline); err != nil {
						return err
					}
				}
			}
		}
		if !killed {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		if waited {
			// Empty, and yet busy (a process on its way out of it): the
			// kernel is given a moment.
			time.Sleep(time.Millisecond)
		}
		if err := WaitEmpty(dir, time.Until(deadline)); err != nil {
			return fmt.Errorf("remove %s: %w", dir, err)
		}
		waited = true
	}
}

// killGroup sends SIGKILL to each process in a v1 group, never nsup
// itself: through a pidfd, taken before the group is read again, so that
// a pid that ended and was reused by a process outside the group is
// never signalled.
func killGroup(dir string) {
	for _, pid := range GroupPids(dir) {
		if pid == os.Getpid() {
			continue
		}
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue // gone
		}
		if slices.Contains(GroupPids(dir), pid) {
			// The process the pidfd holds has that pid now, and the
			// group has it.
			unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
		}
		unix.Close(fd)
	}
}

// WaitEmpty waits until a unified group and its children have no
// process left ("populated 0" in its cgroup.events, which the kernel
// announces as a change of the file), for at most d.
func WaitEmpty(dir string, d time.Duration) error {
	events := filepath.Join(dir, "cgroup.events")
	in, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return err
	}
	defer unix.Close(in)
	if _, err := unix.InotifyAddWatch(in, events, unix.IN_MODIFY); err != nil {
		return err
	}
	deadline := time.Now().Add(d)
	buf := make([]byte, 4096)
	for {
		// Read after the watch is set: a change between the two is not
		// missed.
		b, err := os.ReadFile(events)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte("populated 0\n")) {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("%s still has processes after %v: %w", dir, d, unix.EBUSY)
		}
		fds := []unix.PollFd{{Fd: int32(in), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, int(left/time.Millisecond)+1); err != nil && err != unix.EINTR {
			return err
		}
		for {
			if _, err := unix.Read(in, buf); err != nil {
				break // drained (EAGAIN)
			}
		}
	}
}

// inHierarchy says whether path g is below the mount point of one of the
// host's cgroup hierarchies (as nsup finds them: visible mounts only; a
// cgroup file system has no symlinks to lead elsewhere).
func inHierarchy(g string) bool {
	l, err := hostLayout()
	if err != nil {
		return false
	}
	hs := []*cgroup.Hierarchy{l.Unified}
	for _, h := range l.V1 {
		hs = append(hs, h)
	}
	for _, h := range hs {
		if h != nil && strings.HasPrefix(g, h.Mount+"/") {
			return true
		}
	}
	return false
}

// GroupPids are the pids in a group (cgroup.procs).
func GroupPids(dir string) []int {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// removeGroups removes the groups of detached environment name of state
// directory dir (down, once its init is gone and its lock is held).
func removeGroups(dir, name string) error {
	var errs []error
	for _, g := range groupsOf(dir, name) {
		if err := RemoveGroup(g); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// groupsOf are the groups detached environment name of state directory
// dir may have: those its state records, and those of its name in each
// nsup/ folder nsupDirs knows (an nsup apply -d killed before it saved
// the state leaves groups).
func groupsOf(dir, name string) []string {
	var out []string
	if st, err := readState(filepath.Join(dir, name)); err == nil {
		group := planner.GroupName(name, dir)
		for _, g := range st.Cgroups {
			// Only what nsup makes, in a hierarchy of this host's: a
			// state file names no other folder.
			if filepath.Clean(g) == g && filepath.Base(g) == group && filepath.Base(filepath.Dir(g)) == "nsup" && inHierarchy(g) {
				out = append(out, g)
			}
		}
	}
	for _, d := range nsupDirs() {
		if g := filepath.Join(d, planner.GroupName(name, dir)); !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// CleanCgroups removes the groups of environments that have ended, what
// is left in them killed: a foreground environment's (ENV.PID) once the
// nsup with that pid is gone; a detached one's of state directory
// stateDir (ENV.sHASH, HASH naming stateDir) once its lock can be taken
// (its init has ended and no nsup apply -d is bringing it up), held
// while the group goes. Another state directory's groups are not
// touched; with stateDir "", only foreground ones. It returns what it
// removed.
func CleanCgroups(stateDir string) ([]string, error) {
	var removed []string
	var errs []error
	dirs := nsupDirs()
	if len(dirs) == 0 {
		return nil, nil // no group of nsup's anywhere: the usual case
	}
	// A detached environment's group is ENV.TAG, TAG its project folder's
	// (planner.GroupName).
	projects := map[string]string{} // tag → project folder
	if stateDir != "" {
		names, _ := Projects(stateDir)
		for _, p := range names {
			d := filepath.Join(stateDir, p)
			projects[planner.StateTag(d)] = d
		}
	}
	// A group with a process this nsup cannot see (cgroup v2 lists it as
	// pid 0) is of an nsup in another pid namespace sharing the folder:
	// neither its pid nor its lock says anything here. Its groups, by
	// name, are left alone in every hierarchy.
	foreign := map[string]bool{}
	for _, d := range dirs {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			if e.IsDir() && slices.Contains(GroupPids(filepath.Join(d, e.Name())), 0) {
				foreign[e.Name()] = true
			}
		}
	}
	for _, d := range dirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if !e.IsDir() || foreign[e.Name()] {
				continue
			}
			env, suffix, ok := strings.Cut(e.Name(), ".")
			if !ok || env == "" {
				continue // not nsup's naming: not touched
			}
			g := filepath.Join(d, e.Name())
			if n, err := strconv.Atoi(suffix); err == nil {
				if _, err := os.Stat(fmt.Sprintf("/proc/%d", n)); err == nil {
					continue // that nsup may still run it
				}
			} else if projects[suffix] == "" {
				// Another state directory's: removed only if empty and
				// untouched for a minute (its nsup apply -d would have
				// put its child in by then), killing nothing; a state
				// directory removed without down leaves such groups.
				if fi, err := os.Stat(g); err != nil || time.Since(fi.ModTime()) < time.Minute || len(GroupPids(g)) > 0 {
					continue
				}
				if unix.Rmdir(g) == nil {
					removed = append(removed, g)
					unix.Rmdir(d) // nsup/, if that was the last
				}
				continue
			} else {
				unlock, ok := takeLock(filepath.Join(projects[suffix], env, planner.LockFile))
				if !ok {
					continue // running, or being brought up
				}
				err := RemoveGroup(g)
				unlock()
				if err != nil {
					errs = append(errs, err)
				} else {
					removed = append(removed, g)
				}
				continue
			}
			if err := RemoveGroup(g); err != nil {
				errs = append(errs, err)
				continue
			}
			removed = append(removed, g)
		}
	}
	return removed, errors.Join(errs...)
}

// takeLock takes an environment's lock without waiting, unless someone
// holds it (read from /proc/locks first: taking a lock even for a moment
// could make a concurrent nsup apply -d fail); a missing lock file is a
// lock nobody holds.
func takeLock(path string) (unlock func(), ok bool) {
	if lockHeld(path) {
		return nil, false
	}
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, os.ErrNotExist) {
		return func() {}, true
	}
	if err != nil {
		return nil, false
	}
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		f.Close()
		return nil, false
	}
	return func() { f.Close() }, true
}

// Usage is what an environment's groups say it uses, against its limits:
// -1 where a number is unknown, or a limit is none.
type Usage struct {
	MemoryBytes, MemoryLimit int64
	Pids, PidsLimit          int64
}

// GroupUsage reads the memory and pids in use by detached environment
// name of state directory dir, and their limits, from whichever
// hierarchy has each.
func GroupUsage(dir, name string) Usage {
	u := Usage{-1, -1, -1, -1}
	for _, g := range groupsOf(dir, name) {
		if v, ok := readInt(g, "memory.current", "memory.usage_in_bytes"); ok {
			u.MemoryBytes = v
			u.MemoryLimit, _ = readInt(g, "memory.max", "memory.limit_in_bytes")
		}
		if v, ok := readInt(g, "pids.current"); ok {
			u.Pids = v
			u.PidsLimit, _ = readInt(g, "pids.max")
		}
	}
	return u
}

// readInt is the first of the files in dir that holds a number: -1 for
// "max" or a v1 "no limit" (above 2^62).
func readInt(dir string, files ...string) (int64, bool) {
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return -1, true
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			continue
		}
		if n >= 1<<62 {
			n = -1
		}
		return n, true
	}
	return -1, false
}
