package executor

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// The environment's cgroups (planner/limits.go): made by the host before
// the clone (CgroupMkdir, CgroupWrite), the child born in the unified one
// (launch.go, CLONE_INTO_CGROUP) and put in each v1 one while it waits
// (CgroupJoin); removed once the environment has ended, whatever is left
// in them killed first (cgroupsDone).

// cgroupMkdir makes a group, and its nsup/ folder if missing (cgroup
// folders take no mode but their own). A group there already is an
// earlier environment's of the same name: reused if nothing is in it.
func (r *envRun) cgroupMkdir(op planner.CgroupMkdir) error {
	if err := os.Mkdir(filepath.Dir(op.Path), 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	err := os.Mkdir(op.Path, 0o755)
	if errors.Is(err, os.ErrExist) {
		if pids, perr := groupPids(op.Path); perr != nil || len(pids) > 0 {
			return fmt.Errorf("%s has processes already (is %s running?): %w", op.Path, r.env.Name, unix.EBUSY)
		}
		err = nil
	}
	if err == nil {
		r.cgroups = append(r.cgroups, op.Path)
	}
	return err
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

// groupPids are the pids in a group (cgroup.procs).
func groupPids(dir string) ([]int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// cgroupsDone removes the environment's groups once it has ended: what
// is left in them (a process that left the environment's pid namespace,
// or one of an environment without one) is killed, then each group and
// its nsup/ folder, if empty, removed. A group still busy after a second
// is left (the next apply reuses it when empty) and said.
func (r *envRun) cgroupsDone() error {
	var errs []error
	for i := len(r.cgroups) - 1; i >= 0; i-- {
		dir := r.cgroups[i]
		deadline := time.Now().Add(time.Second)
		for {
			err := unix.Rmdir(dir)
			if err == nil || err == unix.ENOENT {
				break
			}
			if err != unix.EBUSY || time.Now().After(deadline) {
				errs = append(errs, fmt.Errorf("remove %s: %w", dir, err))
				break
			}
			if os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0) != nil {
				pids, _ := groupPids(dir)
				for _, pid := range pids {
					unix.Kill(pid, unix.SIGKILL)
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
		unix.Rmdir(filepath.Dir(dir)) // nsup/, unless another environment's group is in it
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
				return fmt.Sprintf("killed by the kernel: out of memory (%s %s, %s)", filepath.Base(w.Path), w.Value, st.Origin)
			}
		}
	}
	return "killed by the kernel: out of memory"
}
