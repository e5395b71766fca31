package planner

// `seccomp: unconfined` where root inside is the host's root.

import (
	"slices"
	"strings"

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

// rootRefusals is rules, a profile of the spec's (by path), with what
// unconfinedRoot refuses where root inside is the host's root, whatever
// the profile allows: the keyring calls (EPERM), and without
// CAP_SYS_ADMIN a new user namespace (clone and unshare with
// CLONE_NEWUSER EPERM, clone3 ENOSYS). Before, a profile that allowed
// them (`defaultAction: SCMP_ACT_ALLOW`, as a permissive one is written)
// let root inside do what unconfined was kept from: a review of the
// cgroups made a user namespace mapping 0 onto 0, mounted its own v1
// pids and memory hierarchies from a cgroup namespace of its own (their
// root is the environment's group, and v1, unlike v2, lets the
// namespace's root group's files be written from inside) and wrote max
// to its pids.max and memory.limit_in_bytes
// (TestRootSeccompProfileHostRoot). The names are taken out of the
// profile's rules that let calls run, and refused after them but where
// the profile refuses them already (its errno kept); a rule that lets
// clone or unshare run gets the condition that CLONE_NEWUSER is clear,
// or, with a condition on the flags already that does not say so, loses
// those names. It returns what it refuses, for the plan.
func rootRefusals(rules *specs.LinuxSeccomp, caps []string) (*specs.LinuxSeccomp, string) {
	newUser := !slices.Contains(caps, "CAP_SYS_ADMIN")
	strip := slices.Clone(keyringSyscalls)
	what := "the keyring calls (" + strings.Join(keyringSyscalls, ", ") + ")"
	if newUser {
		strip = append(strip, "clone3")
		what += " and new user namespaces (clone, unshare with CLONE_NEWUSER; clone3 ENOSYS)"
	}
	newUserSet := []specs.LinuxSeccompArg{{Index: 0, Value: unix.CLONE_NEWUSER, ValueTwo: unix.CLONE_NEWUSER, Op: specs.OpMaskedEqual}}
	out := *rules
	out.Syscalls = nil
	for _, r := range rules.Syscalls {
		var names, forks []string
		for _, n := range r.Names {
			switch {
			case denies(r.Action):
				names = append(names, n) // the profile's refusal, its errno kept
			case slices.Contains(strip, n):
			case newUser && (n == "clone" || n == "unshare"):
				forks = append(forks, n)
			default:
				names = append(names, n)
			}
		}
		if len(names) > 0 {
			c := r
			c.Names = names
			out.Syscalls = append(out.Syscalls, c)
		}
		if c, ok := withoutNewUser(r); ok && len(forks) > 0 {
			c.Names = forks
			out.Syscalls = append(out.Syscalls, c)
		}
	}
	eperm, enosys := uint(unix.EPERM), uint(unix.ENOSYS)
	refuse := func(names []string, errno *uint, args []specs.LinuxSeccompArg) {
		// Not where the profile refuses the call so already (nsup's own
		// export of it, read back, too).
		names = slices.DeleteFunc(slices.Clone(names), func(n string) bool {
			return slices.ContainsFunc(out.Syscalls, func(r specs.LinuxSyscall) bool {
				return denies(r.Action) && slices.Contains(r.Names, n) && (len(r.Args) == 0 || slices.Equal(r.Args, args))
			})
		})
		if len(names) > 0 {
			out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{Names: names, Action: specs.ActErrno, ErrnoRet: errno, Args: args})
		}
	}
	refuse(keyringSyscalls, &eperm, nil)
	if newUser {
		refuse([]string{"clone", "unshare"}, &eperm, newUserSet)
		refuse([]string{"clone3"}, &enosys, nil)
	}
	listX32(&out) // as refuseHostIPC does
	return &out, what
}

// withoutNewUser is rule r holding only for flags without CLONE_NEWUSER
// (clone's and unshare's first argument): as it is where a condition on
// the flags says so already (Docker's profile's clone rule), else with
// that condition added; false where a condition on the flags says
// otherwise (conditions on one argument must all hold).
func withoutNewUser(r specs.LinuxSyscall) (specs.LinuxSyscall, bool) {
	other := false
	for _, a := range r.Args {
		if a.Index != 0 {
			continue
		}
		switch {
		case a.Op == specs.OpMaskedEqual && a.Value&unix.CLONE_NEWUSER != 0 && a.ValueTwo&unix.CLONE_NEWUSER == 0,
			a.Op == specs.OpEqualTo && a.Value&unix.CLONE_NEWUSER == 0:
			return r, true
		}
		other = true
	}
	if other {
		return r, false
	}
	r.Args = append(slices.Clip(r.Args), specs.LinuxSeccompArg{Index: 0, Value: unix.CLONE_NEWUSER, ValueTwo: 0, Op: specs.OpMaskedEqual})
	return r, true
}
