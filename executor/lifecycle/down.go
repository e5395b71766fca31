package lifecycle

// Down: stopping a detached environment, removing its directory (nsup down).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

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
	// NotStarted is true for the record of an environment nsup apply -d
	// did not start (State.NotStarted).
	NotStarted bool
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
	if err := CheckProjectDir(dir); errors.Is(err, os.ErrNotExist) {
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
			if err := removeGroups(dir, name); err != nil {
				return res, err
			}
			err := os.RemoveAll(d)
			unix.Rmdir(dir) // the project's folder, if that was its last
			return res, err
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
	// Its helpers (pasta), which no group may hold (no unified hierarchy).
	if st, err := readState(d); err == nil {
		endHelpers(st)
		res.NotStarted = st.NotStarted != ""
	}
	// Its groups, with whatever is left in them.
	if err := removeGroups(dir, name); err != nil {
		return res, err
	}
	var pods []string
	if st, err := readState(d); err == nil {
		pods = st.Pods
	}
	// The lock is ours: nobody is using the directory.
	err = os.RemoveAll(d)
	// Its pods' holders, if it was the last in them; then the project's
	// folder, if that was its last.
	for _, rec := range pods {
		if filepath.Dir(filepath.Dir(rec)) == dir {
			ReleaseHolder(rec)
		}
	}
	unix.Rmdir(dir)
	return res, err
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

// endHelpers kills an environment's host helpers, each through a pidfd
// taken while its start time still says it is that process.
func endHelpers(st *State) {
	for _, h := range st.Helpers {
		fd, err := unix.PidfdOpen(h.Pid, 0)
		if err != nil {
			continue // gone
		}
		if t, err := procStartTime(h.Pid); err == nil && t == h.StartTime {
			unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
			// Not nsup's child (it was apply -d's): waited for by its
			// pidfd becoming readable.
			unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 1000)
		}
		unix.Close(fd)
	}
}
