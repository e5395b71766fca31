package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/nsup/nsup/planner"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/executor/store"
	"golang.org/x/sys/unix"
)

// do performs one host step: one case per operation the host stage
// performs (planner's stage table, checked when the plan was loaded).
// The fork and the clone are the launcher's (setupEnv calls it).
func (r *envRun) do(ctx context.Context, i int, st planner.Step) error {
	switch op := st.Op.(type) {
	case planner.Rootfs:
		f, err := store.Rootfs(ctx, op, r.a.opts.Index)
		if f != nil {
			r.held = append(r.held, f)
		}
		if err == nil {
			r.root = op.Path
		}
		return err
	case planner.OpenTree:
		return r.openTree(op)
	case planner.IdmapTree:
		return r.idmapTree(op)
	case planner.Openpty:
		return r.openpty(op)
	case planner.NullDevice:
		f, err := lifecycle.OpenNull()
		r.null = f
		return err
	case planner.UIDMap:
		return r.idMap("uid_map", op.Helper, op.Lines)
	case planner.GIDMap:
		return r.idMap("gid_map", op.Helper, op.Lines)
	case planner.DenySetgroups:
		return r.childWrite("setgroups", "deny")
	case planner.TimeOffsets:
		return writeOnce("/proc/$TID/timens_offsets", op.Text())
	case planner.Unshare:
		if r.child > 0 {
			return fmt.Errorf("unshare after clone: the child is already born: %w", unix.EINVAL)
		}
		// This thread only: its next child is created in the namespace
		// (for time namespaces: time_for_children, time_namespaces(7)).
		return unix.Unshare(int(op.Flags))
	case planner.Setns:
		return r.setns(i, op)
	case planner.CgroupMkdir:
		return r.cgroupMkdir(op)
	case planner.CgroupWrite:
		return cgroupWrite(nsupPath(op.Path), op.Value)
	case planner.CgroupJoin:
		return r.cgroupJoin(nsupPath(op.Path))
	case planner.Fork, planner.Clone:
		return fmt.Errorf("%s is the launcher's: %w", op.Syscall(), unix.EINVAL)
	case planner.Mkdir:
		return r.mkdir(op)
	case planner.Volume:
		return r.volume(op)
	case planner.Hold:
		return r.hold(op)
	case planner.MkdirAll:
		return r.mkdirAll(op)
	case planner.Flock:
		return r.flock(op)
	case planner.Stdio:
		return r.openStdio(op)
	case planner.Listen:
		return r.listen(op)
	case planner.SaveState:
		return r.saveState(op)
	case planner.Pasta:
		return r.startPasta(op)
	case planner.WaitHealthy:
		return r.waitHealthy(ctx, i, op)
	default:
		return fmt.Errorf("%s is not a host step: %w", planner.FormatOp(op), unix.EINVAL)
	}
}

// nsNames are the /proc/PID/ns/ names of the namespace types.
var nsNames = map[planner.CloneFlags]string{
	unix.CLONE_NEWNS: "mnt", unix.CLONE_NEWPID: "pid", unix.CLONE_NEWNET: "net",
	unix.CLONE_NEWIPC: "ipc", unix.CLONE_NEWUTS: "uts", unix.CLONE_NEWCGROUP: "cgroup",
	unix.CLONE_NEWUSER: "user", unix.CLONE_NEWTIME: "time",
}

// setns joins a namespace on this thread, before the clone: the child is
// born in it. (A user, mount, pid or time namespace is joined by a forked
// copy instead: launch.go.)
func (r *envRun) setns(i int, op planner.Setns) error {
	if r.child > 0 {
		return fmt.Errorf("setns after clone: the child is already born: %w", unix.EINVAL)
	}
	fd, err := r.nsFD(i, op)
	if err != nil {
		return err
	}
	return unix.Setns(fd, int(op.NSType))
}

// nsFD is the namespace file step i joins: opened before anything was
// created (by path), or when the joined environment was set up (by name).
func (r *envRun) nsFD(i int, op planner.Setns) (int, error) {
	if op.Pod != "" {
		fd, ok := r.a.pods[op.Pod][op.NSType]
		if !ok {
			return -1, fmt.Errorf("pod %s's %s namespace was not opened (no hold step before): %w", op.Pod, nsNames[op.NSType], unix.EINVAL)
		}
		return fd, nil
	}
	if op.Env == "" {
		if fd, ok := r.a.pathFDs[stepKey{r.env.Name, i}]; ok {
			return fd, nil
		}
		return openNS(op.Path, op.NSType) // a step run on its own (tests)
	}
	o, ok := r.a.runs[op.Env]
	switch {
	case !ok || o.child == 0:
		return -1, fmt.Errorf("environment %s is not running: %w", op.Env, unix.ESRCH)
	case o.nsErr != nil:
		return -1, o.nsErr
	}
	select {
	case <-o.reaped:
		return -1, fmt.Errorf("%s has ended (exit status %d): its namespaces are not to be joined: %w", op.Env, o.waitStatus(), unix.ESRCH)
	default:
	}
	fd, ok := o.nsFDs[op.NSType]
	if !ok {
		return -1, fmt.Errorf("%s's %s namespace was not opened for joining: %w", op.Env, nsNames[op.NSType], unix.EINVAL)
	}
	return fd, nil
}

// The fds of the child stage beyond stdio: the setup channel, then, for
// a detached environment, its lock and its control socket.
const (
	lockFD    = stageFD + 1
	controlFD = stageFD + 2
)

// childFiles are the child stage's fds, 0 up: stdin, stdout, stderr,
// and, when it executes nsup's init (initExec), its end of the setup
// channel and, detached, its lock and control socket. host is nsup's end
// of the channel (nil without init); done closes what nsup holds only for
// the child, once it is started.
func (r *envRun) childFiles(initExec bool) (host *os.File, files []*os.File, done func(), err error) {
	if (r.lock == nil) != (r.control == nil) {
		return nil, nil, nil, fmt.Errorf("a detached environment needs both its lock and its control socket before the clone: %w", unix.EINVAL)
	}
	var closers []*os.File
	done = func() {
		for _, f := range closers {
			f.Close()
		}
	}
	files = []*os.File{r.a.std.Files[0], r.a.std.Files[1], r.a.std.Files[2]}
	if initExec {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, nil, nil, err
		}
		var child *os.File
		host, child = os.NewFile(uintptr(fds[0]), "nsup-setup"), os.NewFile(uintptr(fds[1]), "nsup-setup")
		closers = append(closers, child)
		files = append(files, child)
	}
	if r.stdio != nil {
		files[0], files[1], files[2] = r.stdio[0], r.stdio[1], r.stdio[1]
	} else if r.pty != nil {
		files[0], files[1], files[2] = r.pty.slave, r.pty.slave, r.pty.slave
	} else if label := r.mainOutput(); label != "" {
		// init: false: no init to prefix the main process's lines; nsup
		// does, as init would.
		out, errw, err := r.a.std.prefixed(label, r.a.opts.Color, r.colorBase)
		if err != nil {
			if host != nil {
				host.Close()
			}
			done()
			return nil, nil, nil, err
		}
		closers = append(closers, out, errw)
		files[1], files[2] = out, errw
	}
	if r.null != nil {
		// The host's /dev/null (nsup's caller's, a detached
		// environment's stdin) as the NullDevice step opened it.
		lifecycle.SwapNull(files[:3], func() (*os.File, error) { return r.null, nil })
	}
	if r.lock != nil {
		if !initExec {
			done()
			return nil, nil, nil, fmt.Errorf("a detached environment without nsup's init: %w", unix.EINVAL)
		}
		files = append(files, r.lock, r.control)
	}
	return host, files, done, nil
}

// mainOutput is the output label of an init: false environment's main
// process, or "".
func (r *envRun) mainOutput() string {
	for _, st := range r.env.Steps {
		if e, ok := st.Op.(planner.Execve); ok && st.Stage == planner.Proc {
			return e.Output
		}
	}
	return ""
}

// writeOnce writes data to p in one write(2), as uid_map and
// timens_offsets require. "$TID" in p is this thread's id.
func writeOnce(p, data string) error {
	// /proc/thread-self/ lacks timens_offsets (it is not among a thread's
	// entries, fs/proc/base.c tid_base_stuff), but /proc/TID/ of a thread
	// has it, for that very thread: the one that unshared the time
	// namespace, whose time_for_children it sets (time_namespaces(7)).
	// /proc/self/ would be the main thread's. TID as /proc counts: in a
	// new pid namespace, with the host's /proc still mounted, gettid(2)
	// is not it; /proc/thread-self names it ("PID/task/TID").
	if strings.Contains(p, "$TID") {
		ts, err := os.Readlink("/proc/thread-self")
		if err != nil {
			return err
		}
		p = strings.ReplaceAll(p, "$TID", ts[strings.LastIndexByte(ts, '/')+1:])
	}
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	n, err := unix.Write(fd, []byte(data))
	if err == nil && n != len(data) {
		err = fmt.Errorf("short write (%d of %d bytes): %w", n, len(data), unix.EIO)
	}
	return err
}

// lookPathInRoot finds argv[0] in the PATH of env inside the
// environment's root tree (a tar root, unknown when planned, unpacked by
// its rootfs step; or, for a mount namespace joined by name, the root
// tree of the environment that made it), as the planner does in a tree it
// knows: by the same planner.LookPath, each candidate resolved inside the
// root.
func (r *envRun) lookPathInRoot(argv, env []string) (string, error) {
	if len(argv) == 0 || argv[0] == "" {
		return "", fmt.Errorf("empty argv: %w", unix.ENOENT)
	}
	root := r.treeRoot()
	if root == "" {
		return "", fmt.Errorf("%s: no root tree to look it up in: %w", argv[0], unix.ENOENT)
	}
	rootfd, err := store.OpenRoot(root)
	if err != nil {
		return "", err
	}
	defer unix.Close(rootfd)
	p, ok := planner.LookPath(argv[0], env, "/", func(p string) bool {
		fd, err := unix.Openat2(rootfd, p, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: store.ResolveScoped})
		if err != nil {
			return false
		}
		defer unix.Close(fd)
		var st unix.Stat_t
		return unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Mode&0o111 != 0
	})
	if !ok {
		return "", fmt.Errorf("%s not found in PATH=%s: %w", argv[0], planner.EnvPath(env), unix.ENOENT)
	}
	return p, nil
}

// treeRoot is the host's path of the tree the environment's root is: its
// rootfs step's, or, when it joins a mount namespace by name (no rootfs
// step: it mounts nothing), that of the environment whose namespace it
// is, followed along joins. Before helper-116's stop a tar root joined so,
// with init: false and a command to look up in PATH, planned and failed
// at apply: no root tree to look it up in.
func (r *envRun) treeRoot() string {
	for o, n := r, 0; o != nil && n < 64; n++ {
		if o.root != "" {
			return o.root
		}
		next := ""
		for _, st := range o.env.Steps {
			if op, ok := st.Op.(planner.Setns); ok && op.NSType == unix.CLONE_NEWNS {
				next = op.Env
			}
		}
		if next == "" {
			return ""
		}
		o = o.a.runs[next]
	}
	return ""
}

// closeNS lets go of the namespaces later environments join by name.
func (r *envRun) closeNS() {
	for _, fd := range r.nsFDs {
		unix.Close(fd)
	}
	r.nsFDs = nil
}

// openWanted opens the namespaces later environments join by name.
func (r *envRun) openWanted() {
	if len(r.wanted) == 0 || r.nsFDs != nil {
		return
	}
	r.nsFDs = map[planner.CloneFlags]int{}
	for _, t := range r.wanted {
		p := fmt.Sprintf("/proc/%d/ns/%s", r.child, nsFile(t))
		fd, err := openNS(p, t)
		if err != nil {
			// Its main process has exited already: a zombie has no
			// namespaces left.
			r.nsErr = fmt.Errorf("%s ended before its namespaces could be joined (%v): %w", r.env.Name, err, unix.ESRCH)
			return
		}
		r.nsFDs[t] = fd
	}
}

// nsFile is the /proc/PID/ns/ entry to join a type by: for time, the
// namespace the environment's processes are in, which its child stage
// may only have for its children (a time namespace made in a user
// namespace, time_namespaces(7)).
func nsFile(t planner.CloneFlags) string {
	if t == unix.CLONE_NEWTIME {
		return "time_for_children"
	}
	return nsNames[t]
}

// nsFD opens the namespace file p for reading (planner.OpenNS: a FIFO or
// a device named by a spec's join is never opened), as an fd of its own
// (close-on-exec), or says p is not one.
func nsFD(p string) (int, error) {
	f, err := planner.OpenNS(p)
	if errors.Is(err, planner.ErrNotNS) {
		return -1, explained{fmt.Sprintf("%s is not a namespace file", p), unix.EINVAL}
	}
	if err != nil {
		return -1, err
	}
	defer f.Close()
	return unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
}
