package executor

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// The environment's cgroups (planner/limits.go): made by the host before
// the clone (CgroupMkdir, CgroupWrite), the child born in the unified one
// (launch.go, CLONE_INTO_CGROUP) and put in each v1 one while it waits
// (CgroupJoin); removed once the environment has ended, whatever is left
// in them killed first (cgroupsDone).

// nsupPath is a plan's cgroup path with $NSUP, the pid of the nsup that
// applies it, put in.
func nsupPath(p string) string {
	return strings.ReplaceAll(p, planner.NsupPid, strconv.Itoa(os.Getpid()))
}

// cgroupMkdir makes a group, and its nsup/ folder if missing (cgroup
// folders take no mode but their own). A group there already is an
// ended environment's of the same name: made anew if nothing is in it.
func (r *envRun) cgroupMkdir(op planner.CgroupMkdir) error {
	op.Path = nsupPath(op.Path)
	var err error
	for try := 0; ; try++ {
		if err = os.Mkdir(filepath.Dir(op.Path), 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		// Another nsup that removed its last group may remove nsup/
		// between the two: made again.
		if err = os.Mkdir(op.Path, 0o755); !errors.Is(err, os.ErrNotExist) || try == 10 {
			break
		}
	}
	if errors.Is(err, os.ErrExist) {
		// An ended environment's of the same name that nothing removed
		// yet (its limits may be other ones): made anew, if empty.
		if len(lifecycle.GroupPids(op.Path)) > 0 {
			return fmt.Errorf("%s has processes already (is %s running?): %w", op.Path, r.env.Name, unix.EBUSY)
		}
		if err = unix.Rmdir(op.Path); err == nil {
			err = os.Mkdir(op.Path, 0o755)
		}
	}
	if err == nil {
		r.cgroups = append(r.cgroups, op.Path)
	}
	return err
}

// cgroupJoin moves this thread (0: a thread moves without the kernel's
// lock of every process's moves) into group dir: one of the environment's
// (remembered until it goes back: homeOf), or nsup's own.
func (r *envRun) cgroupJoin(dir string) error {
	if err := cgroupWrite(filepath.Join(dir, "tasks"), "0"); err != nil {
		return err
	}
	r.noteJoin(dir)
	return nil
}

// noteJoin records the thread's move into dir: away from nsup's own group
// of that hierarchy, or back to it.
func (r *envRun) noteJoin(dir string) {
	if slices.Contains(r.cgroups, dir) {
		home := r.homeOf(dir)
		if home == "" {
			// A plan that does not say (written by hand): HOME of
			// HOME/nsup/NAME, and the thread is not to be used again.
			home, r.strayThread = filepath.Dir(filepath.Dir(dir)), true
		}
		r.away = append(r.away, home)
	} else {
		r.away = slices.DeleteFunc(r.away, func(h string) bool { return h == dir })
	}
}

// homeOf returns the group of nsup's the thread goes back to from dir,
// one of the environment's v1 groups: the planner pairs them, the k-th
// join into one of its groups with the k-th join back (nsup's own group
// in that hierarchy, which is not the parent of nsup/ under
// NSUP_CGROUP_PARENT, nor where nsup's is not the hierarchy's root).
func (r *envRun) homeOf(dir string) string {
	var joins, backs []string
	for _, st := range r.env.Steps {
		if j, ok := st.Op.(planner.CgroupJoin); ok && st.Stage == planner.Host {
			p := nsupPath(j.Path)
			if slices.Contains(r.cgroups, p) {
				joins = append(joins, p)
			} else {
				backs = append(backs, p)
			}
		}
	}
	if k := slices.Index(joins, dir); k >= 0 && k < len(backs) {
		return backs[k]
	}
	return ""
}

// cgroupWrite writes one file of a group nsup made.
func cgroupWrite(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// cgroupsDone removes the environment's groups once it has ended, what
// is left in them (a process that left the environment's pid namespace,
// or one of an environment without one) killed first.
func (r *envRun) cgroupsDone() error {
	// This thread back in nsup's own groups first, if a failure came
	// between its join and its return.
	for _, home := range r.away {
		if cgroupWrite(filepath.Join(home, "tasks"), "0") != nil {
			r.strayThread = true
		}
	}
	r.away = nil
	var errs []error
	for i := len(r.cgroups) - 1; i >= 0; i-- {
		if err := lifecycle.RemoveGroup(r.cgroups[i]); err != nil {
			errs = append(errs, err)
		}
	}
	r.cgroups = nil
	return errors.Join(errs...)
}

// oomKilled reports whether the kernel killed a process of the
// environment for want of memory under its limit: memory.events'
// oom_kill (v2) or memory.oom_control's (v1) of its memory group.
func (r *envRun) oomKilled() bool {
	for _, dir := range r.cgroups {
		for _, f := range []string{"memory.events", "memory.oom_control"} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				continue
			}
			for _, line := range bytes.Split(b, []byte("\n")) {
				if k, v, ok := bytes.Cut(line, []byte(" ")); ok && string(k) == "oom_kill" && string(v) != "0" {
					return true
				}
			}
		}
	}
	return false
}

// oomWhy says the kernel killed the environment for want of memory, and
// under which limit (its step's origin).
func (r *envRun) oomWhy() string {
	for _, st := range r.env.Steps {
		if w, ok := st.Op.(planner.CgroupWrite); ok {
			switch filepath.Base(w.Path) {
			case "memory.max", "memory.limit_in_bytes":
				limit := w.Limit
				if limit == "" {
					limit = filepath.Base(w.Path) + " " + w.Value
				}
				return fmt.Sprintf("killed by the kernel: out of memory (%s, %s)", limit, st.Origin)
			}
		}
	}
	return "killed by the kernel: out of memory"
}
