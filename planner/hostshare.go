package planner

// What an environment that shares the host's network, pid or IPC
// namespace is kept from of the host's own: abstract unix sockets and
// signals (Landlock), IPC objects, and other processes' limits and
// scheduling (its syscall filter).

import (
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/nsup/nsup/spec"
)

// Landlock scopes (landlock_create_ruleset(2), ABI 6 on).
const (
	scopeAbstractUnix = unix.LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
	scopeSignal       = unix.LANDLOCK_SCOPE_SIGNAL
)

var landlockScopeNames = []flagName{
	{scopeAbstractUnix, "LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET"},
	{scopeSignal, "LANDLOCK_SCOPE_SIGNAL"},
}

func landlockScopes(v uint64) string { return formatFlags(v, landlockScopeNames) }

// LandlockScopeText says in words what scoped keeps an environment from.
func LandlockScopeText(scoped uint64) string {
	var what []string
	if scoped&scopeAbstractUnix != 0 {
		what = append(what, "the host's abstract unix sockets")
	}
	if scoped&scopeSignal != 0 {
		what = append(what, "signalling the host's processes")
	}
	return strings.Join(what, " and ")
}

// hostScopes plans a Landlock domain for an environment that shares the
// host's network or pid namespace, so that what it shares does not reach
// the host's own:
//   - in the host's network namespace, abstract unix sockets (@name: no
//     file, no permission but what their server checks) are the host's;
//     root inside, the host's uid 0 outside a user namespace (any uid,
//     with SETUID), would pass every check of a server's that trusts its
//     peer's credentials (SO_PEERCRED): containerd's shim API was reached
//     from host-network containers so (CVE-2020-15257), and a session bus
//     listening on an abstract socket takes any process of its user's
//     uid. Scoped, the environment connects only to the abstract sockets
//     its own processes made.
//   - in the host's pid namespace (allowed only in a user namespace that
//     maps root elsewhere), its processes could signal every host process
//     of the uids it maps, other environments' of the same range too.
//     Scoped, only its own.
//
// An environment that keeps CAP_SYS_PTRACE outside a user namespace that
// maps root elsewhere is a domain too (see below): a domain, whatever it
// scopes, confines ptrace to its own processes.
//
// Scoping needs Landlock's ABI 6 (Linux 6.12): on an older kernel the
// plan says what stays open.
func (ec *envCompiler) hostScopes(pos spec.Pos) {
	ec.hostShareNotes()
	var scoped uint64
	var what []string
	ptrace := false
	if ec.inHostNS(spec.NSNet) {
		scoped |= scopeAbstractUnix
		what = append(what, "the host's network namespace: its abstract unix sockets, whose servers may trust the uid of root inside")
	}
	if ec.inHostPIDNS() {
		scoped |= scopeSignal
		what = append(what, "the host's pid namespace: signals to the host's processes of the uids it maps")
	}
	if slices.Contains(ec.capabilities(), "CAP_SYS_PTRACE") && !ec.confiningUserNS() {
		// Not for its scope: the domain confines ptrace, whatever it
		// scopes. CAP_SYS_PTRACE of the host's user namespace passes the
		// ptrace access check on every process of the host's root that
		// root inside sees, not dumpable or not: nsup's child stage of an
		// environment that joins its pid namespace is born there, with
		// the host's root as its root and host folders as fds until its
		// root switch (helper-140's review wrote a host file through its
		// /proc/PID/root). In a domain, it passes the check only on the
		// processes of its own domain (landlock(7), "Ptrace
		// restrictions"), which nsup's child stage of a joiner is not in.
		if scoped == 0 {
			pos = ec.capPos(pos)
		}
		scoped |= scopeSignal
		ptrace = true
	}
	if scoped == 0 {
		return
	}
	if abi := ec.opts.LandlockABI(); abi < 6 {
		if len(what) > 0 {
			ec.notes = append(ec.notes, fmt.Sprintf("%s: this kernel's Landlock (ABI %d; 6, Linux 6.12, is needed) cannot keep the environment out of %s", ec.field, abi, strings.Join(what, "; and ")))
		}
		if ptrace {
			ec.notes = append(ec.notes, fmt.Sprintf("%s: this kernel's Landlock (ABI %d; 6, Linux 6.12, is needed) cannot keep CAP_SYS_PTRACE, kept in the host's user namespace, to the environment's own processes: nsup's child stage of an environment that joins its pid namespace, whose root is the host's until its root switch, is within its reach", ec.field, abi))
		}
		return
	}
	ec.add(Child, pos, Landlock{Scoped: scoped})
	if !ptrace {
		return
	}
	if with := ec.pidSharers(); with != "" {
		// helper-143's survey: a debug box that joins an app's pid
		// namespace to strace it worked before the domain, and got
		// EPERM after, with nothing in the plan to say why.
		ec.notes = append(ec.notes, fmt.Sprintf("%s.security.capabilities.add: CAP_SYS_PTRACE, kept in the host's user namespace, reaches the environment's own processes only (its Landlock domain), not the others of its pid namespace, %s (strace -p or gdb -p of one gets EPERM); trace those from within their own environment (nsup exec, SYS_PTRACE kept there)", ec.field, with))
	}
}

// pidSharers names what shares the environment's pid namespace (""
// when nothing does): the namespace it joins by path, or the other
// environments of the spec in the one it makes or joins by name.
func (ec *envCompiler) pidSharers() string {
	if j := ec.joined(spec.NSPID); j != nil && j.isPath() {
		return "those of " + j.ref + ", joined by path"
	}
	owner := ec.s.NamespaceOwner(ec.e.Name, spec.NSPID)
	if owner == nil || !owner.HasNamespace(spec.NSPID) {
		return ""
	}
	var names []string
	for _, o := range ec.s.Environments {
		if o.Name != ec.e.Name && ec.s.NamespaceOwner(o.Name, spec.NSPID) == owner {
			names = append(names, o.Name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	if len(names) == 1 {
		return "those of environment " + names[0]
	}
	return "those of environments " + strings.Join(names, ", ")
}

// hostShareNotes says in the plan what an environment shares of the
// host's network and pid namespaces, which a reviewer would otherwise
// read only from a flag missing in the clone's: a spec's namespaces that
// lack net give the environment every service the host listens on, its
// loopback's too, and the host's ports to listen on.
func (ec *envCompiler) hostShareNotes() {
	if ec.inHostNS(spec.NSNet) {
		ec.notes = append(ec.notes, ec.field+".namespaces: no net (nor a network namespace of its own joined): the environment is in the host's network namespace: it connects to every port the host listens on, 127.0.0.1's included, and listens on the host's addresses; list net for loopback only")
	}
	if ec.inHostPIDNS() {
		ec.notes = append(ec.notes, ec.field+".namespaces: no pid (nor a pid namespace of its own joined): the environment is in the host's pid namespace: it sees the host's processes; list pid for its own")
	}
}

// landlockABI is the default Options.LandlockABI: the kernel's answer to
// landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION),
// which creates nothing; 0 without Landlock.
func landlockABI() int {
	v, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if e != 0 {
		return 0
	}
	return int(v)
}

// hostIPCSyscalls are the calls that reach an IPC namespace's objects:
// SysV shared memory, queues and semaphores (and i386's ipc(2), which
// multiplexes them), and POSIX message queues (each IPC namespace has its
// own mqueue filesystem, reached by mq_open(2) without any mount).
var hostIPCSyscalls = []string{"shmget", "shmat", "shmctl", "shmdt", "msgget", "msgsnd", "msgrcv", "msgctl",
	"semget", "semop", "semtimedop", "semtimedop_time64", "semctl", "ipc",
	"mq_open", "mq_unlink", "mq_timedsend", "mq_timedsend_time64", "mq_timedreceive", "mq_timedreceive_time64", "mq_notify", "mq_getsetattr"}

// refuseHostIPC is rules with hostIPCSyscalls refused (EPERM): taken out
// of every rule, and given one of their own. An environment in the
// host's IPC namespace outside a user namespace that maps root elsewhere
// would reach every SysV segment, queue and semaphore of the host's, and
// its message queues: root inside is uid 0 (their owner, for root's),
// and takes any owner's uid with SETUID (a database's shared buffers, an
// X server's MIT-SHM images of the user's windows). In a user namespace
// that maps root elsewhere the kernel still checks them by uid only: a
// review of the twelfth stop's fixes attached a 0600 segment and opened
// a 0600 queue of uid 100000 (another environment's of the same range;
// a rootless environment's are its user's own) from inside, so the
// refusal holds there too. Kubernetes' baseline forbids hostIPC; the
// spec's namespaces say to share it, so nsup keeps the namespace and
// refuses what reaches into it: list ipc in namespaces for an
// environment's own.
func refuseHostIPC(rules *specs.LinuxSeccomp) *specs.LinuxSeccomp {
	out := *rules
	out.Syscalls = nil
	for _, r := range rules.Syscalls {
		var names []string
		for _, n := range r.Names {
			if !slices.Contains(hostIPCSyscalls, n) {
				names = append(names, n)
			}
		}
		if len(names) > 0 {
			r.Names = names
			out.Syscalls = append(out.Syscalls, r)
		}
	}
	eperm := uint(unix.EPERM)
	out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{Names: hostIPCSyscalls, Action: specs.ActErrno, ErrnoRet: &eperm})
	listX32(&out)
	return &out
}

// HostRefusals is rules with what nsup adds to an environment's filter
// where it shares the host's IPC namespace (noHostIPC: refuseHostIPC) or
// pid namespace (selfOnly: limitsOfSelfOnly); an OCI bundle's import
// reads them back as the profile they were added to.
func HostRefusals(rules *specs.LinuxSeccomp, noHostIPC, selfOnly bool) *specs.LinuxSeccomp {
	if noHostIPC {
		rules = refuseHostIPC(rules)
	}
	if selfOnly {
		rules = limitsOfSelfOnly(rules)
	}
	return rules
}

// listX32 lists x32 in rules whose default lets calls run. An ABI the
// profile does not list gets its default action for every call (x32's,
// under x86_64's audit arch; an unlisted audit arch, i386's, is killed).
// Under a default that lets calls run, x32's shmget (nr
// 29|__X32_SYSCALL_BIT) reached the host's segments on a kernel with x32
// (a review of the twelfth stop), past refuseHostIPC: listed, x32 gets
// the rules too, which under such a default only refuse more.
func listX32(rules *specs.LinuxSeccomp) {
	if !slices.Contains(rules.Architectures, specs.ArchX32) && !denies(rules.DefaultAction) {
		rules.Architectures = append(slices.Clip(rules.Architectures), specs.ArchX32)
	}
}

// denies: the action keeps a call from running (an unlisted ABI's calls
// get the default action).
func denies(a specs.LinuxSeccompAction) bool {
	switch a {
	case specs.ActErrno, specs.ActKill, specs.ActKillThread, specs.ActKillProcess, specs.ActTrap:
		return true
	}
	return false
}

// limitsOfSelfOnly is rules with the calls that change another process's
// resource limits, priority or I/O priority refused (EPERM): rules put
// first, which refuse prlimit64 with a pid, and setpriority and
// ioprio_set with a target other than the caller; the calling process
// itself still gets what the profile gives. In the host's pid namespace
// (planned only in a user namespace that maps root elsewhere), the
// kernel lets a process change those of every process of its uid, and
// Landlock has no scope for them: a review set a CPU limit of 1 s on a
// host process of the uid root inside maps to (another environment's of
// the same range), and the kernel killed it past the limit (SIGKILL),
// which Landlock's signal scope keeps the environment from sending; and
// setpriority(PRIO_USER, 0, 19) renices every process of that uid on the
// host. sched_setscheduler, sched_setattr and sched_setparam with a pid
// are refused too: a review of the twelfth stop's fixes put a host
// process of that uid in SCHED_IDLE, which its owner cannot undo without
// CAP_SYS_NICE, as setpriority's nice 19 but lower; a program passes its
// own threads' ids there only to change their policy
// (pthread_setschedparam), rarer than setpriority's per-thread nice,
// refused already. (sched_setaffinity takes a thread's id, which a
// program passes for its own threads (pthread_setaffinity_np): it stays
// open, and may pin host processes of the uid to one CPU.)
func limitsOfSelfOnly(rules *specs.LinuxSeccomp) *specs.LinuxSeccomp {
	out := *rules
	eperm := uint(unix.EPERM)
	refuse := func(name string, arg uint, value uint64) specs.LinuxSyscall {
		return specs.LinuxSyscall{Names: []string{name}, Action: specs.ActErrno, ErrnoRet: &eperm,
			Args: []specs.LinuxSeccompArg{{Index: arg, Value: value, Op: specs.OpNotEqual}}}
	}
	first := []specs.LinuxSyscall{
		refuse("prlimit64", 0, 0), // pid: 0 is the caller
		refuse("setpriority", 0, unix.PRIO_PROCESS),
		refuse("setpriority", 1, 0), // who: 0 is the caller
		refuse("ioprio_set", 0, ioprioWhoProcess),
		refuse("ioprio_set", 1, 0),
		// A policy for another thread: SCHED_IDLE is below nice 19, and
		// its owner cannot leave it without CAP_SYS_NICE or RLIMIT_NICE
		// (sched(7)); pid 0 is the caller.
		refuse("sched_setscheduler", 0, 0),
		refuse("sched_setattr", 0, 0),
		refuse("sched_setparam", 0, 0),
	}
	out.Syscalls = first
	for _, r := range rules.Syscalls {
		out.Syscalls = append(out.Syscalls, callerOnly(r)...)
	}
	listX32(&out) // as refuseHostIPC does
	return &out
}

// selfArgs are the conditions under which each call limitsOfSelfOnly
// refuses acts on the caller only.
var selfArgs = map[string][]specs.LinuxSeccompArg{
	"prlimit64":          {{Index: 0, Value: 0, Op: specs.OpEqualTo}},
	"setpriority":        {{Index: 0, Value: unix.PRIO_PROCESS, Op: specs.OpEqualTo}, {Index: 1, Value: 0, Op: specs.OpEqualTo}},
	"ioprio_set":         {{Index: 0, Value: ioprioWhoProcess, Op: specs.OpEqualTo}, {Index: 1, Value: 0, Op: specs.OpEqualTo}},
	"sched_setscheduler": {{Index: 0, Value: 0, Op: specs.OpEqualTo}},
	"sched_setattr":      {{Index: 0, Value: 0, Op: specs.OpEqualTo}},
	"sched_setparam":     {{Index: 0, Value: 0, Op: specs.OpEqualTo}},
}

// callerOnly is the profile's rule r with the calls of selfArgs split
// out, each in a copy of r that says the caller only. nsup's filter
// tries rules in order, so limitsOfSelfOnly's refusals first would do,
// but libseccomp (runc, crun: an exported bundle) drops a call's
// conditional rules when an unconditional one follows, and runc drops a
// rule whose action is the default's: Docker's profile allows those
// calls unconditionally, and the exported filter allowed prlimit64 on
// any pid (a review of the twelfth stop's fixes). Disjoint, the rules
// read the same both ways. A rule that already tests one of those
// arguments loses the call (runc would split the two tests into rules
// of their own, either of which would let it run).
func callerOnly(r specs.LinuxSyscall) []specs.LinuxSyscall {
	if !slices.ContainsFunc(r.Names, func(n string) bool { _, ok := selfArgs[n]; return ok }) {
		return []specs.LinuxSyscall{r}
	}
	var out []specs.LinuxSyscall
	var names []string
	for _, n := range r.Names {
		self, ok := selfArgs[n]
		if !ok {
			names = append(names, n)
			continue
		}
		if slices.ContainsFunc(r.Args, func(a specs.LinuxSeccompArg) bool {
			return slices.ContainsFunc(self, func(s specs.LinuxSeccompArg) bool { return s.Index == a.Index })
		}) {
			continue
		}
		c := r
		c.Names = []string{n}
		c.Args = append(slices.Clip(r.Args), self...)
		out = append(out, c)
	}
	if len(names) > 0 {
		r.Names = names
		out = append([]specs.LinuxSyscall{r}, out...)
	}
	return out
}

// ioprioWhoProcess is IOPRIO_WHO_PROCESS (linux/ioprio.h).
const ioprioWhoProcess = 1
