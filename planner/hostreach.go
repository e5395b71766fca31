package planner

// What reaches the host itself outside a user namespace: the host's pid
// namespace, capabilities that act on the host, and what an environment
// shares with the host (its network, pid and IPC namespaces' abstract
// sockets, processes and objects).

import (
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/nsup/nsup/spec"
)

// inHostPIDNS: the environment's processes may be in the host's pid
// namespace: it has none of its own and joins none, joins by name one of
// an environment in the host's, or joins by path the host's (the same
// namespace as nsup's own, now) or one nsup cannot look at.
func (ec *envCompiler) inHostPIDNS() bool { return ec.inHostNS(spec.NSPID) }

// inHostNS: the environment's namespace of type t may be the host's (as
// inHostPIDNS says of pid).
func (ec *envCompiler) inHostNS(t string) bool {
	if ec.isNew(t) {
		return false
	}
	j := ec.joined(t)
	if j == nil {
		return true
	}
	if !j.isPath() {
		// Another environment's: its own, its pod's, or the one it is in.
		if ec.inPod(*j) {
			return false
		}
		o := ec.doneEnv(j.ref)
		return o == nil || o.inHostNS(t)
	}
	same, known := ec.nsupsOwnNS(j.ref, t)
	return same || !known
}

// nsupsOwnNS says whether the namespace file path is nsup's own namespace
// of type t (the host's), as the plan's one look at it found (nsFile);
// known is false where the file cannot be opened (nor, then, joined).
func (ec *envCompiler) nsupsOwnNS(path, t string) (same, known bool) {
	f := ec.nsFile(path)
	self := selfNS(t)
	if !f.opened || self == 0 {
		return false, false
	}
	return f.known() && f.id.NS == self, true
}

// hostPID refuses an environment in the host's pid
// namespace outside a user namespace that maps root elsewhere. Root
// inside sees the host's processes by pid (kill(pid, 0)) without /proc;
// it may signal every process of its uid (kill -1 stops every process of
// the host's root), and ptrace(2) those whose capabilities are a subset
// of its own, after taking their uid with CAP_SETUID: a review ran code
// in a host user's shell, outside everything the spec binds, and in other
// environments' processes (every capability of the user namespaces the
// host's root made is root's, by the owner rule, so those too, with no
// capability at all). Its proc, the host's /proc, gave the host's root
// through /proc/PID/root (the first review). Kubernetes' baseline policy
// forbids hostPID; Docker gives it with --pid=host, under AppArmor.
func (ec *envCompiler) hostPID() {
	// Rootless as well: a caller of uid 0 without CAP_SYS_ADMIN is
	// planned rootless, and its user namespace maps root onto the host's
	// (a review signalled host pid 1 so); a user's maps it elsewhere.
	if ec.confiningUserNS() || !ec.inHostPIDNS() {
		return
	}
	pos, field := ec.nsPos(spec.NSPID), ec.field+".namespaces"
	if j := ec.joined(spec.NSPID); j != nil {
		pos, field = j.pos, ec.field+".join.pid"
	}
	ec.errorf(pos, field, "the host's pid namespace: root inside could signal (kill -1) and trace (ptrace) the host's processes and other environments', and run code in them: add pid to namespaces (or join an environment's that has one), or give the environment a user namespace that maps root elsewhere (idmap)")
}

// hostCapEffects are the capabilities nsup does not keep by default that
// act on the host itself when root inside is the host's root (no user
// namespace, or one mapping root onto the host's): what each gives.
var hostCapEffects = map[string]string{
	"CAP_DAC_READ_SEARCH": "opens any file of a filesystem it reaches by its inode number (open_by_handle_at)",
	"CAP_SYS_ADMIN":       "mounts, and most of what the host's root may do",
	"CAP_SYS_MODULE":      "loads modules into the host's kernel",
	"CAP_SYS_RAWIO":       "raw I/O: ports, /dev/mem, disks' commands",
	"CAP_SYS_TIME":        "sets the host's clock",
	"CAP_SYS_BOOT":        "reboots the host from its pid namespace",
	"CAP_NET_ADMIN":       "configures the network it is in (the host's, without net in namespaces)",
	"CAP_BPF":             "loads BPF programs into the host's kernel",
	"CAP_PERFMON":         "reads the host's performance events",
	"CAP_SYSLOG":          "reads and clears the host's kernel log",
	"CAP_SYS_RESOURCE":    "overrides the host's resource limits and quotas",
	"CAP_MAC_ADMIN":       "changes the host's security policy",
	"CAP_MAC_OVERRIDE":    "overrides the host's security policy",
	"CAP_AUDIT_CONTROL":   "changes the host's audit rules",
	"CAP_LINUX_IMMUTABLE": "clears the immutable flag of the host's files it reaches",
}

// hostCapabilities refuses CAP_DAC_READ_SEARCH outside a confining user
// namespace, and notes every other capability of hostCapEffects the
// environment adds there. CAP_DAC_READ_SEARCH allows open_by_handle_at(2),
// which opens any file of a filesystem by its inode number through any
// fd on it: a review read the host's /etc/shadow through the
// environment's own root and wrote the host's files through a volume
// (the "shocker" exploit; Docker took the capability out of its default
// set for it, CVE-2014-9357, and its filter allows the call only with
// it). Its name says nothing of that, so it is refused; the others say
// what they are and are noted.
func (ec *envCompiler) hostCapabilities() {
	s := ec.e.Security
	if s == nil || len(s.CapAdd) == 0 {
		return
	}
	ec.ptraceNote()
	if ec.confiningUserNS() {
		return
	}
	for _, a := range s.CapAdd {
		if a.Value == "CAP_DAC_READ_SEARCH" {
			ec.errorf(a.Pos, ec.field+".security.capabilities.add", "CAP_DAC_READ_SEARCH lets root inside open any file of a filesystem it reaches by its inode number (open_by_handle_at), the host's /etc/shadow through the environment's own root: give the environment a user namespace (add user to namespaces), or leave it out")
		}
	}
	var noted []string
	for _, c := range ec.capabilities() { // CAP_SYS_PTRACE: ptraceNote
		if e, ok := hostCapEffects[c]; ok {
			noted = append(noted, c+" ("+e+")")
		}
	}
	if len(noted) > 0 {
		slices.Sort(noted)
		ec.notes = append(ec.notes, fmt.Sprintf("%s.security.capabilities.add: outside a user namespace, root inside is the host's root to the kernel, and keeps %s", ec.field, strings.Join(noted, ", ")))
	}
}

// ptraceNote says what CAP_SYS_PTRACE gives over nsup's PID 1, in a user
// namespace or not: nsup's init is executed inside, so root inside with
// the capability passes the ptrace check on it, and takes its fds, which
// are the environment's files on the host (its log, its lock, its control
// socket): a review wrote 40 MiB into a log bounded at 10, and answered
// nsup exec in init's place. The minimal PID 1 is a copy of nsup's
// memory. Docker's init holds no host fd; nsup's will not once a process
// on the host holds them (not done).
func (ec *envCompiler) ptraceNote() {
	if !slices.Contains(ec.capabilities(), "CAP_SYS_PTRACE") || !ec.e.InitEnabled() {
		return
	}
	ec.notes = append(ec.notes, ec.field+".security.capabilities.add: CAP_SYS_PTRACE lets root inside trace nsup's PID 1 too: nsup's init (a tree of processes, apply -d) holds the environment's log, lock and control socket on the host, which root inside may then write without bound, or answer nsup exec and ps in init's place; the minimal PID 1 (one process in the foreground) is a copy of nsup's memory. Use init: false to debug one process")
}

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
// Scoping needs Landlock's ABI 6 (Linux 6.12): on an older kernel the
// plan says what stays open.
func (ec *envCompiler) hostScopes(pos spec.Pos) {
	var scoped uint64
	var what []string
	if ec.inHostNS(spec.NSNet) {
		scoped |= scopeAbstractUnix
		what = append(what, "the host's network namespace: its abstract unix sockets, whose servers may trust the uid of root inside")
	}
	if ec.inHostPIDNS() {
		scoped |= scopeSignal
		what = append(what, "the host's pid namespace: signals to the host's processes of the uids it maps")
	}
	if scoped == 0 {
		return
	}
	if abi := ec.opts.LandlockABI(); abi < 6 {
		ec.notes = append(ec.notes, fmt.Sprintf("%s: this kernel's Landlock (ABI %d; 6, Linux 6.12, is needed) cannot keep the environment out of %s", ec.field, abi, strings.Join(what, "; and ")))
		return
	}
	ec.add(Child, pos, Landlock{Scoped: scoped})
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
// X server's MIT-SHM images of the user's windows). Kubernetes' baseline
// forbids hostIPC; the spec's namespaces say to share it, so nsup keeps
// the namespace and refuses what reaches into it: list ipc in namespaces
// for an environment's own.
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
	out.Syscalls = append(first, rules.Syscalls...)
	listX32(&out) // as refuseHostIPC does
	return &out
}

// ioprioWhoProcess is IOPRIO_WHO_PROCESS (linux/ioprio.h).
const ioprioWhoProcess = 1
