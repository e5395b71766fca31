package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// The host steps of a detached environment (planner: Mkdir, Flock, Stdio,
// Listen, SaveState) and their undoing.

// mkdir makes the environment's state directory, STATEDIR/PROJECT/ENV,
// and its parents, 0700. An existing one is used if it is a directory of
// this user (not a symlink): a name taken down, or left by a killed nsup
// apply -d. The state directory and the project's folder must be this
// user's alone (lifecycle.CheckStateDir): whoever may rename either could
// put their own environment in its place.
func (r *envRun) mkdir(op planner.Mkdir) error {
	if err := absolute(op.Path); err != nil {
		return err
	}
	project := filepath.Dir(op.Path)
	top := filepath.Dir(project)
	var err error
	// Each checked before anything is made in it. An nsup down that takes
	// the project's last environment down removes the project's folder:
	// made again then.
	for try := 0; try < 3; try++ {
		if err = os.MkdirAll(top, os.FileMode(op.Mode)); err != nil {
			return err
		}
		if err = lifecycle.CheckStateDir(top); err != nil {
			return err
		}
		if err = unix.Mkdir(project, op.Mode); err != nil && err != unix.EEXIST {
			return err
		}
		if err = lifecycle.CheckStateDir(project); err != nil {
			return err
		}
		if err = unix.Mkdir(op.Path, op.Mode); err != unix.ENOENT {
			break
		}
	}
	if err != nil && err != unix.EEXIST {
		return err
	}
	if err == nil {
		r.madeDir = op.Path
	}
	var st unix.Stat_t
	if err := unix.Lstat(op.Path, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s is not a directory of uid %d: %w", op.Path, os.Geteuid(), unix.ENOTDIR)
	}
	// Root-only, whatever the umask made of it.
	return unix.Chmod(op.Path, op.Mode)
}

// flock takes the environment's lock: the first of two nsup apply -d of
// one name gets it, the second stops here. The file's content is the
// exit status of an earlier run (init writes it): emptied.
func (r *envRun) flock(op planner.Flock) error {
	if err := absolute(op.Path, op.State); err != nil {
		return err
	}
	f, err := os.OpenFile(op.Path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if err == unix.EWOULDBLOCK {
			return fmt.Errorf("environment %q is already running, or being brought up by another nsup (see nsup ps): %w", r.env.Name, unix.EBUSY)
		}
		return err
	}
	if _, err := os.Lstat(op.State); err == nil {
		// The record of an environment an earlier apply -d did not start
		// is taken over; an ended environment's is kept for its owner.
		if st, err := lifecycle.ReadState(filepath.Dir(op.Path)); err != nil || st.NotStarted == "" || os.Remove(op.State) != nil {
			f.Close()
			return fmt.Errorf("environment %q has ended but is not taken down; its state and log are kept until nsup down %s: %w", r.env.Name, r.env.Name, unix.EEXIST)
		}
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return err
	}
	r.lock, r.stateDir = f, filepath.Dir(op.Path)
	return nil
}

// openStdio opens the environment's stdin (read-only) and its log (fds 1
// and 2, appended to: several processes write to it).
func (r *envRun) openStdio(op planner.Stdio) error {
	if err := absolute(op.Stdin, op.Stdout); err != nil {
		return err
	}
	in, err := os.OpenFile(op.Stdin, os.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	if !lifecycle.PassAsIs(in) {
		// No relay outlives nsup: handed over as it is, a file could be
		// opened again for writing through /proc/self/fd/0 (PassAsIs).
		in.Close()
		return fmt.Errorf("%s: a detached environment's stdin is /dev/null, a pipe or a socket, not this: %w", op.Stdin, unix.EINVAL)
	}
	// Opened without waiting for a FIFO's writer; read blocking.
	if err := unix.SetNonblock(int(in.Fd()), false); err != nil {
		in.Close()
		return err
	}
	mode := os.O_WRONLY
	if op.Max > 0 {
		mode = os.O_RDWR // init moves the newest half back to the start (cappedLog)
	}
	out, err := os.OpenFile(op.Stdout, mode|os.O_CREATE|os.O_TRUNC|os.O_APPEND|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		in.Close()
		return err
	}
	r.stdio = []*os.File{in, out}
	r.logMax = op.Max
	return nil
}

// listen makes init's control socket. A stale socket of an earlier run
// is removed first (the lock is held: it is nobody's).
func (r *envRun) listen(op planner.Listen) error {
	if err := absolute(op.Path); err != nil {
		return err
	}
	if len(op.Path) >= len(unix.RawSockaddrUnix{}.Path) {
		return fmt.Errorf("socket path %s is longer than %d bytes (unix(7)): %w", op.Path, len(unix.RawSockaddrUnix{}.Path)-1, unix.ENAMETOOLONG)
	}
	if err := os.Remove(op.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: op.Path}); err != nil {
		unix.Close(fd)
		return err
	}
	if err := unix.Chmod(op.Path, 0o600); err != nil {
		unix.Close(fd)
		return err
	}
	if err := unix.Listen(fd, 16); err != nil {
		unix.Close(fd)
		return err
	}
	r.control = os.NewFile(uintptr(fd), "nsup-control")
	return nil
}

// saveState records the environment, atomically, in the format
// lifecycle reads (lifecycle.State, lifecycle.WriteState): from here on
// nsup ps lists it.
func (r *envRun) saveState(op planner.SaveState) error {
	if err := absolute(op.Path); err != nil {
		return err
	}
	if r.child == 0 {
		return fmt.Errorf("no child to record: %w", unix.EINVAL)
	}
	pid := r.child
	for _, s := range r.env.Steps {
		if op, ok := s.Op.(planner.Hold); ok {
			if err := r.stillHeld(op); err != nil {
				return err
			}
		}
	}
	start, ns, err := lifecycle.Identify(pid)
	if err != nil {
		return err
	}
	st := &lifecycle.State{
		Name:       r.env.Name,
		Spec:       r.a.plan.SpecPath,
		Pid:        pid,
		StartTime:  start,
		Namespaces: ns,
		Started:    time.Now().UTC().Truncate(time.Second),
		Processes:  r.procs,
		Cgroups:    slices.Clone(r.cgroups),
	}
	for _, d := range r.env.DependsOn {
		st.DependsOn = append(st.DependsOn, d.Env)
	}
	depth := map[string]int{}
	var levels []int64 // the longest stop_timeout of each depth
	for _, s := range r.env.Steps {
		switch op := s.Op.(type) {
		case planner.Volume:
			st.Volumes = append(st.Volumes, op.Path)
		case planner.Hold:
			st.Pods = append(st.Pods, op.Record)
		case planner.Rootfs:
			if op.Type != "dir" {
				st.Rootfs = append(st.Rootfs, op.Path)
			}
		case planner.Clone:
			st.New = append(st.New, op.Flags.Types()...)
		case planner.Unshare:
			st.New = append(st.New, op.Flags.Types()...)
		case planner.Setns:
			if st.Joined == nil {
				st.Joined = map[string]string{}
			}
			ref := op.Env
			switch {
			case op.Pod != "":
				ref = "pod:" + op.Pod
			case ref == "":
				ref = op.Path
			}
			st.Joined[nsNames[op.NSType]] = ref
		case planner.Pasta:
			st.Ports = op.Ports
			if r.pasta != nil {
				for _, h := range []struct {
					name string
					pid  int
				}{{"nsup-keeper", r.pasta.Process.Pid}, {"pasta", r.pastaPid}} {
					if t, _, err := lifecycle.Identify(h.pid); err == nil {
						st.Helpers = append(st.Helpers, lifecycle.StateHelper{Name: h.name, Pid: h.pid, StartTime: t})
					}
				}
			}
		case planner.Spawn:
			d := 0
			if op.Parent != "" {
				d = depth[op.Parent] + 1
			}
			depth[op.Process] = d
			for len(levels) <= d {
				levels = append(levels, 0)
			}
			levels[d] = max(levels[d], op.StopTimeout)
		}
	}
	for _, l := range levels {
		st.StopTimeoutMs += l
	}
	return lifecycle.WriteState(op.Path, st)
}

// absolute refuses a path that is not absolute: the plan's are.
func absolute(paths ...string) error {
	for _, p := range paths {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("path %q is not absolute: %w", p, unix.EINVAL)
		}
	}
	return nil
}

// writeNotStarted records the environment, whose lock this nsup holds,
// as not started, saying why (nsup ps shows it). The lock is let go when
// Apply ends (closeFiles), or the record removed with the rest if Apply
// takes everything back (removeState).
func (r *envRun) writeNotStarted(why string) {
	if r.stateDir == "" {
		return
	}
	st := &lifecycle.State{Name: r.env.Name, Spec: r.a.plan.SpecPath, Started: time.Now().UTC().Truncate(time.Second), NotStarted: why}
	if err := lifecycle.WriteState(filepath.Join(r.stateDir, planner.StateFile), st); err != nil {
		r.removeState()
		return
	}
	r.a.notUp = append(r.a.notUp, r)
}

// recordNotStarted records e, which is not started since it needs an
// environment that was not, as not started: its state directory and
// lock (its plan's first steps), then its record. Those steps fail as
// they would if e were started: one that is running (its lock is held),
// or ended and not taken down, fails the apply, as it would then; it
// is not recorded as not started, nor touched.
func (a *applier) recordNotStarted(ctx context.Context, e *planner.Env, why string) error {
	r := &envRun{a: a, env: e}
	for i, st := range e.Steps {
		switch st.Op.(type) {
		case planner.Mkdir:
		case planner.Flock:
		default:
			continue
		}
		if err := r.do(ctx, i, st); err != nil {
			r.removeState()
			return stepError(e, i, err)
		}
		if r.lock != nil {
			r.writeNotStarted(why)
			return nil
		}
	}
	return nil
}

// closeFiles closes nsup's copies of what it handed to a released child.
func (r *envRun) closeFiles() {
	for _, f := range append([]*os.File{r.lock, r.control}, r.stdio...) {
		if f != nil {
			f.Close()
		}
	}
	r.lock, r.control, r.stdio = nil, nil, nil
	r.closeVolLocks() // detached: its record says it uses them
}

// removeState undoes what an environment that is taken back made: the
// folders of its volumes and binds made by this apply (if still empty),
// and the state of a detached environment, once its child is gone: only
// if its lock was ours, so that a concurrent nsup's environment is never
// touched.
func (r *envRun) removeState() {
	r.removeMadeDirs()
	if r.stateDir != "" {
		os.RemoveAll(r.stateDir)             // the lock still held: nobody else's yet
		unix.Rmdir(filepath.Dir(r.stateDir)) // the project's folder, if that was its last
	} else if r.madeDir != "" {
		os.Remove(r.madeDir) // made by this nsup, not locked: removed if still empty
		unix.Rmdir(filepath.Dir(r.madeDir))
	}
	r.closeFiles()
}
