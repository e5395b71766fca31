package main

import (
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// The strace test's matchers of the confinement calls, prctl(2),
// capset(2) and prlimit64(2), as strace -v prints them: each Prctl,
// CapbsetDrop (one prctl per capability dropped, in order), InheritCaps,
// Capset and Prlimit step; and the calls nsup's own processes make that
// are theirs, not the plan's (ownCalls), each identified exactly.

// capNames are the capabilities by number, as strace names them.
var capNames = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"}

// capName is capability c as strace prints it.
func capName(c int) string {
	if c < len(capNames) {
		return capNames[c]
	}
	return fmt.Sprintf("%#x /* CAP_??? */", c)
}

// capLast is the kernel's last capability, which the executor's
// bounding set drop goes up to (executor's lastCap).
func capLast() int {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return unix.CAP_LAST_CAP
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return unix.CAP_LAST_CAP
	}
	return n
}

// capsIn is a set of capabilities as strace prints it
// ("1<<CAP_CHOWN|1<<CAP_KILL", or "0"), sorted; false if it is not one.
func capsIn(s string) ([]string, bool) {
	if s == "0" {
		return nil, true
	}
	var out []string
	for _, c := range strings.Split(s, "|") {
		n, ok := strings.CutPrefix(c, "1<<")
		if !ok || !strings.HasPrefix(n, "CAP_") {
			return nil, false
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out, true
}

// capsetSets are capset's effective, permitted and inheritable sets, of
// the caller (pid=0), version 3.
func capsetSets(e event) (eff, perm, inh []string, ok bool) {
	a := splitArgs(e.args)
	if e.name != "capset" || !succeeded(e) || len(a) != 2 || a[0] != "{version=_LINUX_CAPABILITY_VERSION_3, pid=0}" ||
		!strings.HasPrefix(a[1], "{") || !strings.HasSuffix(a[1], "}") {
		return nil, nil, nil, false
	}
	f := splitArgs(a[1][1 : len(a[1])-1])
	if len(f) != 3 {
		return nil, nil, nil, false
	}
	var sets [3][]string
	for i, k := range []string{"effective=", "permitted=", "inheritable="} {
		v, found := strings.CutPrefix(f[i], k)
		s, good := capsIn(v)
		if !found || !good {
			return nil, nil, nil, false
		}
		sets[i] = s
	}
	return sets[0], sets[1], sets[2], true
}

// capsetStep is a Capset step: Keep effective and permitted, nothing
// inheritable.
func capsetStep(keep []string) func(event) bool {
	want := slices.Sorted(slices.Values(keep))
	return func(e event) bool {
		eff, perm, inh, ok := capsetSets(e)
		return ok && slices.Equal(eff, want) && slices.Equal(perm, want) && len(inh) == 0
	}
}

// inheritStep is an InheritCaps step: the inheritable set raised to the
// permitted one, the effective one as it is (the child's: all of them).
func inheritStep(e event) bool {
	eff, perm, inh, ok := capsetSets(e)
	return ok && len(perm) > 0 && slices.Equal(eff, perm) && slices.Equal(inh, perm)
}

// prctlArgs are a Prctl step's arguments as strace prints them.
func prctlArgs(op planner.Prctl) string {
	arg := strconv.FormatUint(op.Arg, 10)
	switch op.Option {
	case unix.PR_SET_NO_NEW_PRIVS:
		arg += ", 0, 0, 0"
	case unix.PR_SET_DUMPABLE:
		arg = map[uint64]string{0: "SUID_DUMP_DISABLE", 1: "SUID_DUMP_USER", 2: "SUID_DUMP_ROOT"}[op.Arg]
	case unix.PR_SET_PDEATHSIG:
		if op.Arg != 0 {
			arg = unix.SignalName(syscall.Signal(op.Arg))
		}
	case unix.PR_SET_NAME:
		arg = q(op.Name)
	}
	return op.Option.String() + ", " + arg
}

// prctlStep is a Prctl step, which succeeded.
func prctlStep(op planner.Prctl) func(event) bool {
	want := prctlArgs(op)
	return func(e event) bool { return e.name == "prctl" && succeeded(e) && e.args == want }
}

// capbsetDrops are a CapbsetDrop step's calls: prctl(PR_CAPBSET_DROP, C)
// of every capability up to the kernel's last (last) but Keep, in order.
func capbsetDrops(op planner.CapbsetDrop, last int) []func(event) bool {
	var out []func(event) bool
	for c := 0; c <= last; c++ {
		if slices.Contains(op.Keep, capName(c)) {
			continue
		}
		want := "PR_CAPBSET_DROP, " + capName(c)
		out = append(out, func(e event) bool { return e.name == "prctl" && succeeded(e) && e.args == want })
	}
	return out
}

// rlimValue is a limit as strace prints it: "1024", "8192*1024",
// "RLIM64_INFINITY".
func rlimValue(s string) (uint64, bool) {
	if s == "RLIM64_INFINITY" {
		return planner.RlimInfinity, true
	}
	n, k, scaled := strings.Cut(s, "*")
	v, err := strconv.ParseUint(n, 10, 64)
	if err != nil {
		return 0, false
	}
	if scaled {
		m, err := strconv.ParseUint(k, 10, 64)
		if err != nil {
			return 0, false
		}
		v *= m
	}
	return v, true
}

// rlimit is "{rlim_cur=S, rlim_max=H}" read back.
func rlimit(s string) (soft, hard uint64, ok bool) {
	if !strings.HasPrefix(s, "{rlim_cur=") || !strings.HasSuffix(s, "}") {
		return 0, 0, false
	}
	f := splitArgs(s[1 : len(s)-1])
	if len(f) != 2 || !strings.HasPrefix(f[1], "rlim_max=") {
		return 0, 0, false
	}
	soft, ok1 := rlimValue(strings.TrimPrefix(f[0], "rlim_cur="))
	hard, ok2 := rlimValue(strings.TrimPrefix(f[1], "rlim_max="))
	return soft, hard, ok1 && ok2
}

// prlimitCall reads prlimit64(0, RESOURCE, NEW, OLD) of the caller: the
// limit set (set), or the one read (old), of resource.
func prlimitCall(e event) (resource string, set bool, soft, hard uint64, ok bool) {
	a := splitArgs(e.args)
	if e.name != "prlimit64" || !succeeded(e) || len(a) != 4 || a[0] != "0" {
		return "", false, 0, 0, false
	}
	switch {
	case a[2] != "NULL" && a[3] == "NULL":
		soft, hard, ok = rlimit(a[2])
		return a[1], true, soft, hard, ok
	case a[2] == "NULL" && a[3] != "NULL":
		soft, hard, ok = rlimit(a[3])
		return a[1], false, soft, hard, ok
	}
	return "", false, 0, 0, false
}

// prlimitStep is a Prlimit step: its resource set to {Soft, Hard}.
func prlimitStep(op planner.Prlimit) func(event) bool {
	return func(e event) bool {
		r, set, soft, hard, ok := prlimitCall(e)
		return ok && set && r == op.Resource.String() && soft == op.Soft && hard == op.Hard
	}
}

// cloneChildSteps are what the launcher's child does before the child
// stage (the Clone step's "; child: ..."): its parent-death signal; root
// of its user namespace, setgroups(0, NULL) (in a joined one EPERM says
// it is denied there), setresgid and setresuid to 0, and the signal
// again.
func cloneChildSteps(op planner.Clone) []func(event) bool {
	pdeath := prctlStep(planner.Prctl{Option: unix.PR_SET_PDEATHSIG, Arg: uint64(unix.SIGKILL)})
	out := []func(event) bool{pdeath}
	if !op.UserRoot {
		return out
	}
	if op.DropGroups {
		joined := op.Flags&unix.CLONE_NEWUSER == 0
		out = append(out, func(e event) bool {
			return e.name == "setgroups" && e.args == "0, NULL" && (succeeded(e) || joined && strings.HasPrefix(e.ret, "-1 EPERM"))
		})
	}
	return append(out, idStep("setresgid", 0), idStep("setresuid", 0), pdeath)
}

// holderConfines are what a pod's holder does once nsup's binary runs in
// it (executor's RunHolder): its name, not dumpable, then on every
// thread (each) no_new_privs, the bounding set but CAP_SYS_PTRACE (up to
// x/sys's last capability: EINVAL past the kernel's), and capset of
// CAP_SYS_PTRACE alone.
func holderConfines() (steps []func(event) bool, each []bool) {
	add := func(m func(event) bool, all bool) {
		steps, each = append(steps, m), append(each, all)
	}
	add(prctlStep(planner.Prctl{Option: unix.PR_SET_NAME, Name: "nsup-pod"}), false)
	add(prctlStep(planner.Prctl{Option: unix.PR_SET_DUMPABLE, Arg: 0}), false)
	add(prctlStep(planner.Prctl{Option: unix.PR_SET_NO_NEW_PRIVS, Arg: 1}), true)
	for c := 0; c <= unix.CAP_LAST_CAP; c++ {
		if c == unix.CAP_SYS_PTRACE {
			continue
		}
		want := "PR_CAPBSET_DROP, " + capName(c)
		add(func(e event) bool {
			return e.name == "prctl" && e.args == want && (succeeded(e) || strings.HasPrefix(e.ret, "-1 EINVAL"))
		}, true)
	}
	add(capsetStep([]string{"CAP_SYS_PTRACE"}), true)
	return steps, each
}

// straceCapLast is the kernel's last capability, read when first asked:
// not when the package starts, since the test binary serves as nsup's
// helpers too (a keeper, whose runtime must open no fd before it closes
// every fd above pasta's).
var straceCapLast = sync.OnceValue(capLast)

// controlFile says whether p is a file whose writes change what an
// environment gets: a cgroup's, or a process's id maps, setgroups, time
// namespace offsets or timer slack.
func controlFile(p string) bool {
	if strings.HasPrefix(p, "/sys/fs/cgroup/") {
		return true
	}
	// /proc/PID/NAME, and a task's (/proc/PID/task/TID/NAME).
	return strings.HasPrefix(p, "/proc/") && slices.Contains([]string{"uid_map", "gid_map", "setgroups", "timens_offsets", "timerslack_ns"}, path.Base(p))
}

// written is the file a write(2) of pid went to, opened on the host by
// its path (as every file a step writes is), and what it wrote, whole;
// ok false for any other write.
func written(fds *fdState, e event) (file, data string, ok bool) {
	o, d, ok := writeOf(fds, e)
	if !ok || o.kind != fdHost {
		return "", "", false
	}
	return o.where, d, true
}

// writeOf is the object of the fd a write(2) of pid's went to, and what
// it wrote, whole; ok false for a write in part or to an fd the trace
// does not show made.
func writeOf(fds *fdState, e event) (o *fdObj, data string, ok bool) {
	a := splitArgs(e.args)
	if e.name != "write" || len(a) != 3 || a[2] != strings.Fields(e.ret + " x")[0] {
		return nil, "", false
	}
	o = fds.fd(e.pid, a[0])
	if o == nil {
		return nil, "", false
	}
	d, err := strconv.Unquote(a[1])
	if err != nil || strconv.Itoa(len(d)) != a[2] {
		return nil, "", false
	}
	return o, d, true
}

// controlWrite says whether e is a write to a control file (controlFile),
// which must be a step's, or nsup's own (ownCalls): opened by its path,
// or from a folder's fd (an id map's helper opens its map from
// /proc/PID's).
func controlWrite(fds *fdState, e event) bool {
	if e.name != "write" {
		return false
	}
	o := fds.fd(e.pid, splitArgs(e.args)[0])
	return o != nil && (o.kind == fdHost || o.kind == fdPath) && controlFile(o.at())
}

// writeStep is a step's write of data, whole, to the file at a path
// file accepts.
func writeStep(fds *fdState, file func(pid int, p string) bool, data string) func(event) bool {
	return func(e event) bool {
		f, d, ok := written(fds, e)
		return ok && d == data && file(e.pid, f)
	}
}
