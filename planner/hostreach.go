package planner

// What reaches the host itself outside a user namespace: the host's pid
// namespace, and capabilities that act on the host (what an environment
// sharing a namespace with the host is kept from: hostshare.go).

import (
	"fmt"
	"slices"
	"strings"

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
	"CAP_NET_RAW":         "opens raw and packet sockets on the network it is in (the host's, without net in namespaces): reads every connection on its interfaces, loopback's too, and forges packets",
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
	ec.heldCapsCheck()
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
