package lifecycle

// Identifying: whether a recorded init is still that process, its lock held.

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

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

// errExiting is verify's answer for the recorded init while it exits: an
// ESRCH, as for an init that is gone. A type of its own, not a
// fmt.Errorf: that would run fmt at every start of nsup, for an error
// that down alone may need.
var errExiting error = exitingError{}

type exitingError struct{}

func (exitingError) Error() string { return "init is exiting: " + unix.ESRCH.Error() }
func (exitingError) Unwrap() error { return unix.ESRCH }

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

// Parent is field 4 of /proc/PID/stat, the parent's pid.
func Parent(pid int) (int, error) {
	f, _, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	if len(f) < 2 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	return strconv.Atoi(f[1])
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
func lockHeld(path string) bool { return len(LockHolders(path)) > 0 }

// LockHolders is the pids that hold a flock(2) on path, from /proc/locks
// (a waiter's line, "N: -> FLOCK ...", holds nothing), each once.
func LockHolders(path string) []string {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return nil
	}
	id := fmt.Sprintf("%02x:%02x:%d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	f, err := os.Open("/proc/locks")
	if err != nil {
		return nil
	}
	defer f.Close()
	var pids []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.Fields(sc.Text())
		if len(l) >= 6 && l[1] == "FLOCK" && l[5] == id && !slices.Contains(pids, l[4]) {
			pids = append(pids, l[4])
		}
	}
	return pids
}
