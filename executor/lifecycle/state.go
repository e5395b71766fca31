package lifecycle

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// A detached environment (nsup apply -d) is recorded in a directory of
// its own, STATEDIR/ENV/ (planner.DefaultStateDir: /run/nsup for root),
// mode 0700:
//
//	lock         flock(2)ed by init for its whole life: held means running;
//	             once init has ended, its exit status ("3\n"), or empty if
//	             init was killed
//	state.json   State, written atomically once the tree is started
//	output.log   fds 1 and 2 of the environment's processes
//	control.sock init's control socket, for nsup exec
//
// A directory with no state.json and a free lock is what a nsup killed
// during apply -d left: not an environment, and taken over or removed by
// the next apply -d or down of that name.

// State is a detached environment's record (state.json).
type State struct {
	Version int    `json:"version"`
	Name    string `json:"name"`
	// Spec is the spec file the environment was planned from (absolute).
	Spec string `json:"spec"`
	// Pid is init's pid on the host; StartTime its start time (clock ticks
	// after boot, proc(5) /proc/PID/stat field 22) and Namespaces the
	// inodes of its namespaces by type: a process with that pid but
	// another start time or namespaces is not the environment's init.
	Pid        int               `json:"pid"`
	StartTime  uint64            `json:"startTime"`
	Namespaces map[string]uint64 `json:"namespaces"`
	Started    time.Time         `json:"started"`
	// New are the namespace types created for the environment; Joined the
	// others it entered, by type: an environment's name or a path.
	New    []string          `json:"new"`
	Joined map[string]string `json:"joined,omitempty"`
	// Processes are the declared processes, with their pids inside.
	Processes []StateProc `json:"processes"`
	// Rootfs are the cache entries the environment runs on: nsup cache
	// prune keeps them while it runs.
	Rootfs []string `json:"rootfs,omitempty"`
	// StopTimeoutMs bounds a stop of the tree: the sum over its levels of
	// their longest stop_timeout. nsup down waits that long (and a little)
	// before killing init.
	StopTimeoutMs int64 `json:"stopTimeoutMs"`
}

// StateProc is one declared process: its pid inside the environment.
type StateProc struct {
	Name   string `json:"name"`
	Parent string `json:"parent,omitempty"`
	Pid    int    `json:"pid"`
}

// StateVersion is State.Version: the format this nsup writes and reads.
const StateVersion = 1

// ErrNotFound is returned for an environment that has no state.
var ErrNotFound = errors.New("no such environment")

// EnvStatus is a detached environment as nsup ps shows it.
type EnvStatus struct {
	State State
	// Dir is its state directory.
	Dir string
	// Running is true while its init runs (the lock is held, and the
	// process with State.Pid has State.StartTime and State.Namespaces).
	Running bool
	// Exit is the environment's exit status once it has ended, -1 if init
	// ended without recording one (killed).
	Exit int
}

// Status is "running", "exited (status N)" or "exited (killed)".
func (s EnvStatus) Status() string {
	switch {
	case s.Running:
		return "running"
	case s.Exit < 0:
		return "exited (killed)"
	}
	return fmt.Sprintf("exited (status %d)", s.Exit)
}

// Log is the environment's log file.
func (s EnvStatus) Log() string { return filepath.Join(s.Dir, planner.LogFile) }

// List returns the detached environments recorded in dir, by name.
func List(dir string) ([]EnvStatus, error) {
	if err := CheckStateDir(dir); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []EnvStatus
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		s, err := Inspect(dir, e.Name())
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].State.Name < out[j].State.Name })
	return out, nil
}

// Inspect returns one detached environment, or ErrNotFound.
func Inspect(dir, name string) (EnvStatus, error) {
	if err := CheckStateDir(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return EnvStatus{}, err
	}
	d := filepath.Join(dir, name)
	st, err := readState(d)
	if err != nil {
		return EnvStatus{}, err
	}
	s := EnvStatus{State: *st, Dir: d, Exit: -1}
	s.Running = lockHeld(filepath.Join(d, planner.LockFile)) && st.verify() == nil
	if !s.Running {
		s.Exit = exitRecorded(d)
	}
	return s, nil
}

func readState(d string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(d, planner.StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", filepath.Base(d), ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(d, planner.StateFile), err)
	}
	if st.Version != StateVersion {
		return nil, fmt.Errorf("%s: state version %d, this nsup reads %d", filepath.Join(d, planner.StateFile), st.Version, StateVersion)
	}
	return &st, nil
}

// WriteState writes st to path (STATEDIR/ENV/state.json) atomically:
// beside it, then renamed. It is the writer of what Inspect reads: the
// version is this nsup's (StateVersion).
func WriteState(path string, st *State) error {
	st.Version = StateVersion
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// exitRecorded reads the exit status init wrote into the lock file, or -1.
func exitRecorded(d string) int {
	b, err := os.ReadFile(filepath.Join(d, planner.LockFile))
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return -1
	}
	return n
}

// verify checks that the process with st.Pid is still the environment's
// init: same start time, same namespaces. A pid is reused once its
// process is gone; the pair never is.
func (st *State) verify() error {
	t, err := procStartTime(st.Pid)
	if err != nil {
		return err
	}
	if t != st.StartTime {
		return fmt.Errorf("pid %d started at %d, not %d: another process: %w", st.Pid, t, st.StartTime, unix.ESRCH)
	}
	for typ, ino := range st.Namespaces {
		got := nsInode(st.Pid, typ)
		if got == 0 {
			// The process of that start time is exiting: its namespaces
			// are gone (exit_task_namespaces) before its files are
			// closed, which lets its lock go, and before it is a zombie.
			return errExiting
		}
		if got != ino {
			return fmt.Errorf("pid %d is in %s namespace %d, not %d: another process: %w", st.Pid, typ, got, ino, unix.ESRCH)
		}
	}
	return nil
}

// errExiting is verify's answer for the recorded init while it exits.
var errExiting = fmt.Errorf("init is exiting: %w", unix.ESRCH)

// procStat reads /proc/PID/stat: the fields after the command name (the
// first is field 3, the state), and the name.
func procStat(pid int) ([]string, string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, "", err
	}
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return nil, "", fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return strings.Fields(s[end+1:]), s[open+1 : end], nil
}

// procStartTime is field 22 of /proc/PID/stat, starttime (proc(5)).
func procStartTime(pid int) (uint64, error) {
	f, _, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// nsTypes are the namespace types as /proc/PID/ns names them.
var nsTypes = []string{"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"}

func nsInode(pid int, typ string) uint64 {
	var st unix.Stat_t
	if unix.Stat(fmt.Sprintf("/proc/%d/ns/%s", pid, typ), &st) != nil {
		return 0
	}
	return st.Ino
}

// Identify returns what tells the process pid apart from any later one
// of that pid: its start time and the inodes of its namespaces, by type.
// The writer of a state (executor's state step) records them for init;
// verify compares them.
func Identify(pid int) (startTime uint64, namespaces map[string]uint64, err error) {
	startTime, err = procStartTime(pid)
	if err != nil {
		return 0, nil, err
	}
	return startTime, nsInodes(pid), nil
}

func nsInodes(pid int) map[string]uint64 {
	m := map[string]uint64{}
	for _, t := range nsTypes {
		if ino := nsInode(pid, t); ino != 0 {
			m[t] = ino
		}
	}
	return m
}

// lockHeld reports whether someone holds a flock(2) on path, from
// /proc/locks, without taking the lock even for a moment (which could
// make a concurrent nsup apply -d fail).
func lockHeld(path string) bool {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return false
	}
	id := fmt.Sprintf(" %02x:%02x:%d ", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	f, err := os.Open("/proc/locks")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		// "->" marks a waiter, not a holder.
		if strings.Contains(l, "FLOCK") && !strings.Contains(l, "->") && strings.Contains(l+" ", id) {
			return true
		}
	}
	return false
}

// Proc is one process of a running environment's tree (nsup ps --tree).
type Proc struct {
	// Pid is the pid on the host, PidInside inside the environment.
	Pid, PidInside int
	// Name is the declared process's name, or "" for another process
	// (one the tree forked, or nsup exec's).
	Name string
	// Comm is the kernel's name of the program (proc(5) comm).
	Comm     string
	Children []*Proc
}

// Tree returns the process tree of a running environment, rooted at its
// init, read from /proc.
func Tree(st State) (*Proc, error) {
	if err := st.verify(); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	byPid := map[int]*Proc{}
	parent := map[int]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, comm, err := procStat(pid)
		if err != nil || len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		byPid[pid] = &Proc{Pid: pid, Comm: comm}
		parent[pid] = ppid
	}
	root, ok := byPid[st.Pid]
	if !ok {
		return nil, fmt.Errorf("init (pid %d) is gone: %w", st.Pid, unix.ESRCH)
	}
	pids := make([]int, 0, len(byPid))
	for pid := range byPid {
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	for _, pid := range pids {
		if p, ok := byPid[parent[pid]]; ok && pid != st.Pid {
			p.Children = append(p.Children, byPid[pid])
		}
	}
	names := map[int]string{}
	for _, p := range st.Processes {
		names[p.Pid] = p.Name
	}
	var fill func(p *Proc)
	fill = func(p *Proc) {
		p.PidInside = pidInside(p.Pid)
		if p != root {
			p.Name = names[p.PidInside]
		}
		for _, c := range p.Children {
			fill(c)
		}
	}
	fill(root)
	return root, nil
}

// pidInside is the innermost pid of a process (NSpid, proc(5)).
func pidInside(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "NSpid:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.Atoi(f[len(f)-1])
				return n
			}
		}
	}
	return pid
}

// DownResult says what Down did.
type DownResult struct {
	// Found is false when there was nothing of that name (down is
	// idempotent: that is no error).
	Found bool
	// Stopped is true when the environment was running and was stopped;
	// Killed when it had to be killed after the grace period.
	Stopped, Killed bool
	// Exit is the environment's exit status, -1 if unknown.
	Exit int
}

// downMargin is what nsup down waits beyond the tree's own stop time
// before it kills init, and then for init to be gone.
const downMargin = 5 * time.Second

// Down takes a detached environment down: its init gets SIGTERM (it stops
// the tree, deepest first, SIGKILL after each level's grace period), then
// SIGKILL if it is still there once the tree's stop time is over; Down
// waits until init and with it every process of the environment is gone,
// and removes the state directory. An environment that ended on its own,
// or what a killed nsup apply -d left, is only removed; a name with no
// state is no error (Found is false).
func Down(ctx context.Context, dir, name string) (DownResult, error) {
	res := DownResult{Exit: -1}
	if err := CheckStateDir(dir); errors.Is(err, os.ErrNotExist) {
		return res, nil
	} else if err != nil {
		return res, err
	}
	d := filepath.Join(dir, name)
	fi, err := os.Lstat(d)
	if errors.Is(err, os.ErrNotExist) {
		return res, nil
	}
	if err != nil {
		return res, err
	}
	if !fi.IsDir() {
		return res, fmt.Errorf("%s is not a directory", d)
	}
	res.Found = true
	lock, err := os.OpenFile(filepath.Join(d, planner.LockFile), os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return res, err
	}
	defer lock.Close()
	if unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		// Held: by a running init, or by an nsup apply -d under way (or a
		// child stage dying with the nsup that was killed during it),
		// which records the environment or lets the lock go shortly.
		st, err := readState(d)
		for deadline := time.Now().Add(downMargin); errors.Is(err, ErrNotFound); st, err = readState(d) {
			if lockWithin(ctx, lock, 50*time.Millisecond) == nil {
				break
			}
			if time.Now().After(deadline) {
				return res, fmt.Errorf("environment %q is being brought up by another nsup (its lock is held and it has no state yet): try again: %w", name, unix.EBUSY)
			}
		}
		if errors.Is(err, ErrNotFound) {
			// The lock is ours now: leftovers of a killed nsup apply -d.
			return res, os.RemoveAll(d)
		}
		if err != nil {
			return res, err
		}
		if err := stop(ctx, st, &res); err != nil {
			return res, err
		}
		if err := lockWithin(ctx, lock, downMargin); err != nil {
			return res, fmt.Errorf("environment %q: init (pid %d) is gone but its lock is still held: %w", name, st.Pid, err)
		}
	}
	res.Exit = exitRecorded(d)
	// The lock is ours: nobody is using the directory.
	return res, os.RemoveAll(d)
}

// stop signals a running init and waits until it is gone.
func stop(ctx context.Context, st *State, res *DownResult) error {
	pidfd, err := unix.PidfdOpen(st.Pid, 0)
	if err != nil {
		return fmt.Errorf("environment %q: init (pid %d): %w", st.Name, st.Pid, err)
	}
	defer unix.Close(pidfd)
	// Checked after pidfd_open: the pidfd now names that process, whatever
	// happens to the pid.
	if err := st.verify(); errors.Is(err, errExiting) {
		// Ending on its own (its main process exited, or it was killed):
		// wait for it, as for one that was told to stop.
		gone, err := waitPidfd(ctx, pidfd, downMargin)
		if err == nil && !gone {
			err = fmt.Errorf("environment %q: init (pid %d) does not finish exiting: %w", st.Name, st.Pid, unix.ETIMEDOUT)
		}
		reap(st.Pid)
		return err
	} else if err != nil {
		return fmt.Errorf("environment %q: its lock is held, but %w", st.Name, err)
	}
	res.Stopped = true
	if err := unix.PidfdSendSignal(pidfd, unix.SIGTERM, nil, 0); err != nil && err != unix.ESRCH {
		return err
	}
	grace := time.Duration(st.StopTimeoutMs)*time.Millisecond + downMargin
	if gone, err := waitPidfd(ctx, pidfd, grace); err != nil || gone {
		reap(st.Pid)
		return err
	}
	res.Killed = true
	if err := unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0); err != nil && err != unix.ESRCH {
		return err
	}
	gone, err := waitPidfd(ctx, pidfd, downMargin)
	if err == nil && !gone {
		err = fmt.Errorf("environment %q: init (pid %d) survives SIGKILL: %w", st.Name, st.Pid, unix.ETIMEDOUT)
	}
	reap(st.Pid)
	return err
}

// waitPidfd waits until the process has exited (a pidfd is readable
// then: for a pid namespace's init, once every process of the namespace
// is gone), at most d.
func waitPidfd(ctx context.Context, pidfd int, d time.Duration) (bool, error) {
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false, nil
		}
		if err := ctx.Err(); err != nil {
			return false, err
		}
		ms := int(min(left, 100*time.Millisecond) / time.Millisecond)
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, max(ms, 1))
		if err != nil && err != unix.EINTR {
			return false, err
		}
		if n > 0 {
			return true, nil
		}
	}
}

// reap collects init's exit if it is a child of this process (nsup apply
// -d and down in one process, as tests do); otherwise its parent does.
func reap(pid int) {
	var ws unix.WaitStatus
	unix.Wait4(pid, &ws, unix.WNOHANG, nil)
}

// lockWithin takes the lock, waiting at most d.
func lockWithin(ctx context.Context, f *os.File, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return nil
		}
		if err != unix.EWOULDBLOCK || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Logs copies a detached environment's log to w; with follow, it goes on
// copying what is written until the environment has ended (or ctx is
// done).
func Logs(ctx context.Context, dir, name string, follow bool, w io.Writer) error {
	if err := CheckStateDir(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	d := filepath.Join(dir, name)
	f, err := os.Open(filepath.Join(d, planner.LogFile))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	for {
		// Whether it still runs is read before the copy, so that what it
		// wrote last is copied before following stops.
		running := follow && lockHeld(filepath.Join(d, planner.LockFile))
		if _, err := io.Copy(w, f); err != nil {
			return err
		}
		if !running {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// CheckStateDir checks that the state directory d (all environments') is
// this user's alone: a directory, not a symlink, of this uid, that no
// group or other may write to. Another user who made it first (an
// unprivileged user's default, /tmp/nsup-run-UID, is in a shared
// directory) could otherwise rename an environment's directory away and
// plant a control socket that nsup exec hands the caller's stdio to, or a
// state that nsup down signals a pid of. nsup apply -d checks it too
// before it makes an environment's directory in it.
func CheckStateDir(d string) error {
	var st unix.Stat_t
	if err := unix.Lstat(d, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Geteuid() || st.Mode&0o022 != 0 {
		return fmt.Errorf("state directory %s is not a directory of uid %d that only it can write to (mode %#o, uid %d): %w",
			d, os.Geteuid(), st.Mode&0o7777, st.Uid, unix.EPERM)
	}
	return nil
}
