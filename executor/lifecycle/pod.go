package lifecycle

// Pods' holders (planner.Hold): their records, in a project's folder of
// the state directory (.pods/POD.json), and their end.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Holder is a pod's holder's record.
type Holder struct {
	Pod       string `json:"pod"`
	Pid       int    `json:"pid"`
	StartTime uint64 `json:"startTime"`
	// Types are the namespace types it holds: "net", "ipc", "uts".
	Types []string `json:"types"`
	// Maps are the uid_map and gid_map of its user namespace, as
	// planner.MapText writes them, if it holds one.
	Maps string `json:"maps,omitempty"`
	// Network is the pod's network it was started for (planner.Hold),
	// always written; nil in a record of an nsup that did not say it.
	Network *string `json:"network"`
}

// PodLock is the lock file of a holder's record: held while one is looked
// for, started or ended.
func PodLock(record string) string { return strings.TrimSuffix(record, ".json") + ".lock" }

// LockPod takes the lock of a holder's record (made if missing unless
// existing), waiting for it. A lock file removed by whoever held it before
// (ReleaseHolder removes it with the record) is not the lock any more:
// taken again, from the file now there. It returns nil and no error if
// existing and there is no lock file.
func LockPod(record string, existing bool) (*os.File, error) {
	flags := os.O_RDWR | unix.O_NOFOLLOW | unix.O_CLOEXEC
	if !existing {
		flags |= os.O_CREATE
	}
	for {
		f, err := os.OpenFile(PodLock(record), flags, 0o600)
		if existing && os.IsNotExist(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			f.Close()
			return nil, err
		}
		var held, now unix.Stat_t
		if unix.Fstat(int(f.Fd()), &held) == nil && unix.Lstat(PodLock(record), &now) == nil && held.Ino == now.Ino && held.Dev == now.Dev {
			return f, nil
		}
		f.Close()
	}
}

// RemovePod removes a holder's record and its lock file (held by the
// caller), and the pods folder and the project's folder if that leaves
// them empty.
func RemovePod(record string) {
	os.Remove(record)
	os.Remove(PodLock(record))
	pods := filepath.Dir(record)
	unix.Rmdir(pods)
	unix.Rmdir(filepath.Dir(pods))
}

// WriteHolder writes a holder's record, atomically.
func WriteHolder(record string, h Holder) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	tmp := record + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, record)
}

// readHolder reads a record; nil if there is none, or it is damaged.
func readHolder(record string) *Holder {
	b, err := os.ReadFile(record)
	if err != nil {
		return nil
	}
	var h Holder
	if json.Unmarshal(b, &h) != nil || h.Pid <= 0 {
		return nil
	}
	return &h
}

// RunningHolder is the pid of the holder record names, if that process
// still runs (its start time is the record's: a reused pid is not it);
// else 0.
func RunningHolder(record string) (pid int, types []string) {
	h := Running(record)
	if h == nil {
		return 0, nil
	}
	return h.Pid, h.Types
}

// Running is the record of the holder record names, if that process
// still runs; else nil.
func Running(record string) *Holder {
	h := readHolder(record)
	if h == nil {
		return nil
	}
	if st, err := procStartTime(h.Pid); err != nil || st != h.StartTime {
		return nil
	}
	return h
}

// InNamespaces says whether a process other than self is in one of the
// namespaces whose /proc/PID/ns links are mine (by type): a pod's
// environments, in its holder's.
func InNamespaces(mine map[string]string, self int) bool {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return true // cannot tell: kept
	}
	for _, e := range ents {
		pid := 0
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil || pid == self || pid <= 0 {
			continue
		}
		for t, l := range mine {
			if x, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, t)); err == nil && x == l && !zombie(pid) {
				return true
			}
		}
	}
	return false
}

// zombie: pid has ended and is not yet reaped. It still has its
// credentials, so its user namespace link reads, though it is in no
// namespace any longer (and a parent that never reaps, as some PID 1s
// do not, would keep a pod's holder forever).
func zombie(pid int) bool {
	f, _, err := procStat(pid)
	return err == nil && len(f) > 0 && f[0] == "Z"
}

// ReleaseHolder ends the holder record names once no other process is in
// its namespaces (the pod's last environment has gone), and removes its
// record (and the pods folder, and the project's, if that leaves them
// empty). A holder still in use is left.
func ReleaseHolder(record string) {
	lock, err := LockPod(record, true)
	if err != nil || lock == nil {
		return
	}
	defer lock.Close()
	if pid, _ := RunningHolder(record); pid > 0 {
		mine := map[string]string{}
		for _, t := range readHolder(record).Types {
			l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, t))
			if err != nil {
				return // cannot tell: left to end by itself
			}
			mine[t] = l
		}
		if len(mine) == 0 || InNamespaces(mine, pid) {
			return
		}
		// Through a pidfd: the process checked is the one signalled.
		if fd, err := unix.PidfdOpen(pid, 0); err == nil {
			if st, err := procStartTime(pid); err == nil && st == readHolder(record).StartTime {
				unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
				var pfd = []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
				unix.Poll(pfd, 2000)
			}
			unix.Close(fd)
		}
	}
	RemovePod(record)
}
