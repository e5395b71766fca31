package planner

// `seccomp: unconfined` where root inside is the host's root.

import (
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// unconfinedRoot names the filter `seccomp: unconfined` gets outside a
// user namespace that maps root elsewhere (UnconfinedRootRules): every
// syscall allowed but what Docker's profile refuses for the host's sake
// rather than for a capability's, where root inside is the host's root:
//   - the keyring calls: keyrings are namespaced by user namespace only,
//     and KEY_SPEC_USER_KEYRING is the host root's user keyring, whatever
//     session keyring root inside joined (a review linked it into its own
//     and read a key the host's root had added there; systemd caches disk
//     passphrases in it);
//   - a new user namespace (unshare or clone with CLONE_NEWUSER; clone3,
//     whose flags a filter cannot read, ENOSYS as in Docker's profile, so
//     that libc falls back to clone): root inside, uid 0 there still, made
//     one with a cgroup namespace, mounted its own cgroup hierarchy (the
//     namespace's root is the environment's group) and wrote its pids.max
//     (the same review: 2048 to max). Not with CAP_SYS_ADMIN kept, which
//     mounts them without one (noted), as Docker's profile allows it then.
const unconfinedRoot = "unconfined, but the host root's keyrings and new user namespaces"

// unconfinedHostNS names the filter `seccomp: unconfined` gets in a
// user namespace that maps root elsewhere where the environment is in
// the host's pid or IPC namespace: every syscall allowed
// (UnconfinedRules) but what HostRefusals refuses there (the host's
// SysV IPC and message queues; other processes' limits and priorities),
// which the kernel checks by uid and Landlock does not cover. With no
// filter at all, a review of the twelfth stop's fixes set a CPU limit
// of 1 s on a host process of the uid root inside maps to (the kernel
// killed it), put another in SCHED_IDLE, and attached a 0600 segment of
// that uid's.
const unconfinedHostNS = "unconfined in a namespace of the host's"

// UnconfinedRules are unconfinedHostNS's rules before what
// HostRefusals adds: every call allowed, on every ABI (an OCI bundle's
// import reads them, with the additions, as unconfined).
func UnconfinedRules() *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32, specs.ArchAARCH64, specs.ArchARM},
	}
}

// keyringSyscalls are the calls that reach the kernel's keyrings.
var keyringSyscalls = []string{"add_key", "keyctl", "request_key"}

// UnconfinedRootRules are unconfinedRoot's rules for the capabilities
// caps (an OCI bundle export writes them, import reads them as
// unconfined).
func UnconfinedRootRules(caps []string) *specs.LinuxSeccomp {
	eperm, enosys := uint(unix.EPERM), uint(unix.ENOSYS)
	newUser := []specs.LinuxSeccompArg{{Index: 0, Value: unix.CLONE_NEWUSER, ValueTwo: unix.CLONE_NEWUSER, Op: specs.OpMaskedEqual}}
	rules := []specs.LinuxSyscall{{Names: keyringSyscalls, Action: specs.ActErrno, ErrnoRet: &eperm}}
	if !slices.Contains(caps, "CAP_SYS_ADMIN") {
		rules = append(rules,
			specs.LinuxSyscall{Names: []string{"clone", "unshare"}, Action: specs.ActErrno, ErrnoRet: &eperm, Args: newUser},
			specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys})
	}
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32, specs.ArchAARCH64, specs.ArchARM},
		Syscalls:      rules,
	}
}
