package executor

// A pod's holder (planner.Hold): a small process of nsup's own that holds
// the namespaces environments share by name, so that one of them can be
// restarted and find the others' still there (podman's infra container,
// Kubernetes' pause container).

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// podFDs are a pod's namespaces, opened from its holder, by type.
type podFDs map[planner.CloneFlags]int

// hold finds the holder Record names, if it runs, or starts one, and opens
// its namespaces for the Setns steps of the pod (once per apply).
func (r *envRun) hold(op planner.Hold) error {
	a := r.a
	if a.pods == nil {
		a.pods = map[string]podFDs{}
	}
	if _, ok := a.pods[op.Pod]; ok {
		return nil
	}
	if err := absolute(op.Record); err != nil {
		return err
	}
	dir := filepath.Dir(op.Record)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := lifecycle.CheckProjectDir(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := lifecycle.CheckStateDir(dir); err != nil {
		return err
	}
	// One holder per pod, however many nsup start (or holders end) at
	// once.
	lock, err := lifecycle.LockPod(op.Record, false)
	if err != nil {
		return err
	}
	defer lock.Close()
	pid := 0
	if h := lifecycle.Running(op.Record); h != nil {
		pid = h.Pid
		switch {
		case strings.Join(op.Types.Types(), ",") != strings.Join(h.Types, ","):
			// Started for another set of joins (the spec changed, or
			// another spec of the project has an environment of that
			// name): its other namespaces are the host's, never to be
			// entered for new ones.
			return fmt.Errorf("pod %s's holder (pid %d) holds %s, and this plan wants %s: take the pod's environments down first (nsup down), then apply: %w",
				op.Pod, pid, strings.Join(h.Types, ","), strings.Join(op.Types.Types(), ","), unix.EEXIST)
		case h.Maps != holdMaps(op):
			// Its user namespace is mapped otherwise than planned.
			return fmt.Errorf("pod %s's holder (pid %d) has a user namespace mapped %q, and this plan maps %q: take the pod's environments down first (nsup down), then apply: %w",
				op.Pod, pid, h.Maps, holdMaps(op), unix.EEXIST)
		case op.Types&unix.CLONE_NEWNET != 0 && h.Network == nil:
			// An older nsup's record: its network is not known.
			return fmt.Errorf("pod %s's holder (pid %d) does not say which network it was started for (an older nsup's): take the pod's environments down first (nsup down), then apply: %w",
				op.Pod, pid, unix.EEXIST)
		case h.Network != nil && *h.Network != op.Network:
			// Its network is another's than planned: the plan's
			// joiners were checked against this one (a capability that
			// reaches the host's loopback through pasta).
			return fmt.Errorf("pod %s's holder (pid %d) was started for network %q, and this plan has %q: take the pod's environments down first (nsup down), then apply: %w",
				op.Pod, pid, *h.Network, op.Network, unix.EEXIST)
		}
	}
	if pid == 0 {
		if pid, err = startHolder(op); err != nil {
			return err
		}
		a.startedPods = append(a.startedPods, op.Record)
	}
	fds := podFDs{}
	fail := func(err error) error {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return fmt.Errorf("pod %s's holder (pid %d): %w", op.Pod, pid, err)
	}
	for _, n := range nsTypes(op.Types) {
		p := fmt.Sprintf("/proc/%d/ns/%s", pid, nsNames[n])
		fd, err := openNS(p, n)
		if err != nil {
			return fail(err)
		}
		fds[n] = fd
		// Never the host's: what it holds is new (this thread, before any
		// join, is in the host's).
		var mine, host unix.Stat_t
		if unix.Fstat(fd, &mine) != nil || unix.Stat("/proc/thread-self/ns/"+nsNames[n], &host) != nil || mine.Ino == host.Ino && mine.Dev == host.Dev {
			return fail(fmt.Errorf("its %s namespace is the host's: %w", nsNames[n], unix.EPERM))
		}
	}
	h := lifecycle.Running(op.Record)
	if h == nil || h.Pid != pid {
		return fail(fmt.Errorf("its record %s names it no more: %w", op.Record, unix.ESRCH))
	}
	if a.holders == nil {
		a.holders = map[string][2]uint64{}
	}
	a.pods[op.Pod], a.holders[op.Pod] = fds, [2]uint64{uint64(pid), h.StartTime}
	return nil
}

// stillHeld checks, once the environment's child is in the pod's
// namespaces (its state step), that the holder whose namespaces hold
// opened still runs and is the record's, under the record's lock. The
// lock is let go between the Hold step and the clone, and meanwhile
// nsup down of the pod's last environment (or the holder itself, idle)
// ended the holder, which saw no process in its namespaces, and removed
// its record: the environment ran on in namespaces no holder kept, and
// the next apply of the pod started another holder, so the pod was split
// in two while ps said both were in it (helper-92's review). Checked
// under the lock after the child is in, the holder either ended before
// (the step fails: the apply is taken back) or sees the child from now
// on and stays.
func (r *envRun) stillHeld(op planner.Hold) error {
	want, ok := r.a.holders[op.Pod]
	if !ok {
		return fmt.Errorf("pod %s: no holder opened (no hold step before): %w", op.Pod, unix.EINVAL)
	}
	lock, err := lifecycle.LockPod(op.Record, true)
	if err != nil {
		return err
	}
	if lock != nil {
		defer lock.Close()
	}
	if h := lifecycle.Running(op.Record); lock == nil || h == nil || uint64(h.Pid) != want[0] || h.StartTime != want[1] {
		return fmt.Errorf("pod %s's holder (pid %d) ended while this environment was set up (nsup down of the pod's last environment, or the holder idle), and its namespaces are no pod's any more: apply again: %w", op.Pod, want[0], unix.ESRCH)
	}
	return nil
}

// holdMaps are a Hold's maps as a holder's record keeps them ("" without
// a user namespace).
func holdMaps(op planner.Hold) string {
	if op.UIDMap == nil && op.GIDMap == nil {
		return ""
	}
	deny := ""
	if op.DenySetgroups {
		deny = "setgroups deny\n"
	}
	return "uid_map\n" + planner.MapText(op.UIDMap) + deny + "gid_map\n" + planner.MapText(op.GIDMap)
}

// nsTypes are the single namespace flags of flags.
func nsTypes(flags planner.CloneFlags) []planner.CloneFlags {
	var out []planner.CloneFlags
	for f := range nsNames {
		if flags&f != 0 {
			out = append(out, f)
		}
	}
	return out
}

// startHolder starts a pod's holder in new namespaces of op.Types and
// records it. It runs nsup's binary in a session of its own, with no
// parent-death signal (it outlives nsup), and nothing open but /dev/null.
func startHolder(op planner.Hold) (int, error) {
	cmd := &exec.Cmd{Path: "/proc/self/exe", Args: append(append([]string{}, planner.HoldArgv...), op.Pod, strings.Join(op.Types.Types(), ","), op.Record), Env: []string{}, Dir: "/"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Cloneflags: uintptr(op.Types)}
	if op.Types&unix.CLONE_NEWUSER != 0 {
		// Written by Go's exec before the holder's execve, which then
		// runs as root in it (rootless: the caller's ids, setgroups
		// denied, as user_namespaces(7) requires of an unprivileged
		// writer of gid_map; root writes any map).
		for _, l := range op.UIDMap {
			cmd.SysProcAttr.UidMappings = append(cmd.SysProcAttr.UidMappings, syscall.SysProcIDMap{ContainerID: int(l.Inside), HostID: int(l.Outside), Size: int(l.Count)})
		}
		for _, l := range op.GIDMap {
			cmd.SysProcAttr.GidMappings = append(cmd.SysProcAttr.GidMappings, syscall.SysProcIDMap{ContainerID: int(l.Inside), HostID: int(l.Outside), Size: int(l.Count)})
		}
		if len(op.UIDMap) == 0 || len(op.GIDMap) == 0 {
			return 0, fmt.Errorf("pod %s's holder: a user namespace without maps: %w", op.Pod, unix.EINVAL)
		}
		cmd.SysProcAttr.GidMappingsEnableSetgroups = !op.DenySetgroups
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("pod %s's holder: %w", op.Pod, err)
	}
	pid := cmd.Process.Pid
	go cmd.Wait() // reaped if it ends while nsup runs; else by init
	start, _, err := lifecycle.Identify(pid)
	if err == nil {
		err = lifecycle.WriteHolder(op.Record, lifecycle.Holder{Pod: op.Pod, Pid: pid, StartTime: start, Types: strings.Split(strings.Join(op.Types.Types(), ","), ","), Maps: holdMaps(op), Network: &op.Network})
	}
	if err != nil {
		unix.Kill(pid, unix.SIGKILL)
		return 0, err
	}
	return pid, nil
}

// IsHolder reports whether this process is nsup started as a pod's holder.
func IsHolder() bool {
	return len(os.Args) == len(planner.HoldArgv)+3 && os.Args[1] == planner.HoldArgv[1]
}

// Holder timing: how long a holder waits for its first environment, how
// long it stays once none is left (an environment being restarted comes
// back within it), and how often it looks.
const (
	holderStartGrace = 10 * time.Second
	holderIdle       = 2 * time.Second
	holderTick       = 250 * time.Millisecond
)

// RunHolder is a pod's holder: it holds its namespaces by being in them,
// and ends on SIGTERM, or once no other process has been in them for
// holderIdle (holderStartGrace after it started). It returns the exit
// status.
func RunHolder() int {
	linuxKernel{}.SetName("nsup-pod")
	// Not dumpable: a process of the pod that could ptrace it would be
	// outside its own pid namespace, with nsup's binary.
	unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, unix.SIGTERM)
	signal.Ignore(unix.SIGINT, unix.SIGHUP, unix.SIGPIPE)
	self := os.Getpid()
	mine := map[string]string{} // the links of the namespaces it holds, by type
	for _, t := range strings.Split(os.Args[len(planner.HoldArgv)+1], ",") {
		if l, err := os.Readlink("/proc/self/ns/" + t); err == nil {
			mine[t] = l
		}
	}
	if len(mine) == 0 {
		return 2
	}
	record := os.Args[len(planner.HoldArgv)+2]
	if err := dropPrivileges(); err != nil {
		return 2
	}
	deadline := time.Now().Add(holderStartGrace)
	tick := time.NewTicker(holderTick)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return 0
		case <-tick.C:
		}
		if lifecycle.InNamespaces(mine, self) {
			deadline = time.Now().Add(holderIdle)
			continue
		}
		if time.Now().Before(deadline) {
			continue
		}
		// Idle: under the pod's lock (an nsup may be about to enter it),
		// looked at once more, then gone with its record.
		lock, err := lifecycle.LockPod(record, true)
		if err != nil {
			continue
		}
		if lifecycle.InNamespaces(mine, self) {
			if lock != nil {
				lock.Close()
			}
			deadline = time.Now().Add(holderIdle)
			continue
		}
		if pid, _ := lifecycle.RunningHolder(record); pid == self {
			lifecycle.RemovePod(record)
		}
		return 0 // the lock goes with the process
	}
}

// dropPrivileges leaves a holder only what it uses, and no way to gain
// more: it sleeps in its namespaces and reads which processes are in them
// (/proc/PID/ns links: CAP_SYS_PTRACE for the inits nsup made, which are
// not dumpable). Without it, the holder sees none of them and ends early.
// On every thread: capabilities, the bounding set and no_new_privs are a
// thread's, and a Go program runs its goroutines on several.
func dropPrivileges() error {
	k := linuxKernel{}
	if err := k.AllThreadsPrctl(unix.PR_SET_NO_NEW_PRIVS, 1); err != nil {
		return err
	}
	for c := 0; c <= unix.CAP_LAST_CAP; c++ {
		if c == unix.CAP_SYS_PTRACE {
			continue
		}
		if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c), 0); e != 0 && e != unix.EINVAL {
			return e
		}
	}
	return k.Capset([]string{"CAP_SYS_PTRACE"})
}

// releaseStartedPods ends the holders this apply started that no process
// is in, when it is taken back.
func (a *applier) releaseStartedPods() {
	for _, rec := range a.startedPods {
		lifecycle.ReleaseHolder(rec)
	}
	a.startedPods = nil
}
