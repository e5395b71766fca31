package planner

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nsup/nsup/spec"
)

// What `capabilities.add: [ALL]` gives: every capability nsup can give
// the environment on this host, resolved when planned into the list the
// plan's capset shows, as Docker resolves --cap-add ALL and --privileged
// against the capabilities its own process holds (moby#42933, after
// containerd#5017 and podman's containers/common#482): a capability the
// bounding set of nsup's process lacks (a host, or a container nsup runs
// in, that dropped CAP_SYS_RESOURCE) cannot be raised by capset, and
// apply failed there (EPERM) with every ALL.

// heldCaps splits spec.Capabilities into those this kernel does not know
// (PR_CAPBSET_READ: EINVAL) and those it knows that this process's
// bounding set or permitted set (perm) lacks.
func heldCaps(perm uint64) (unknown, notHeld []string) {
	for i, n := range spec.Capabilities {
		in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(i), 0, 0, 0)
		switch {
		case err != nil:
			unknown = append(unknown, n)
		case in != 1 || perm&(1<<i) == 0:
			notHeld = append(notHeld, n)
		}
	}
	return unknown, notHeld
}

// allCapabilities is what ALL stands for in the environment, and what it
// leaves out, each with why: every capability the kernel knows; outside
// a user namespace, only those nsup's own process holds (root inside is
// the host's root, bounded as nsup is). A user namespace's first process
// starts with every capability, its bounding set full (user_namespaces(7),
// a joined one's too), whatever nsup's.
func (ec *envCompiler) allCapabilities() (keep, out []string) {
	for _, c := range spec.Capabilities {
		switch {
		case slices.Contains(ec.caller.CapsUnknown, c):
			out = append(out, c+" (unknown to this kernel)")
		case !ec.inUserNS() && slices.Contains(ec.caller.CapsNotHeld, c):
			out = append(out, c+" (not in nsup's bounding or permitted set: no process nsup starts outside a user namespace can hold it)")
		default:
			keep = append(keep, c)
		}
	}
	return keep, out
}

// heldDefaults is keep without the capabilities of the default set that
// nsup cannot give outside a user namespace on this host (out, each with
// why): a host, or a container nsup runs in, whose bounding set lacks
// CAP_AUDIT_WRITE or CAP_SETFCAP failed every apply at capset (EPERM) with the
// defaults, which the spec did not ask for by name. One that `add`
// names is kept, and refused by heldCapsCheck: the spec asked for it.
func (ec *envCompiler) heldDefaults(keep []string) (held, out []string) {
	if ec.inUserNS() {
		return keep, nil
	}
	named := func(c string) bool {
		s := ec.e.Security
		return s != nil && slices.ContainsFunc(s.CapAdd, func(a spec.String) bool { return a.Value == c })
	}
	for _, c := range keep {
		switch {
		case named(c):
			held = append(held, c)
		case slices.Contains(ec.caller.CapsUnknown, c):
			out = append(out, c+" (unknown to this kernel)")
		case slices.Contains(ec.caller.CapsNotHeld, c):
			out = append(out, c+" (not in nsup's bounding or permitted set)")
		default:
			held = append(held, c)
		}
	}
	return held, out
}

// heldDefaultsNote says which default capabilities this host cannot give
// (heldDefaults).
func (ec *envCompiler) heldDefaultsNote() {
	if ec.addsAll() {
		return
	}
	if _, out := ec.heldDefaults(Capabilities(ec.e)); len(out) > 0 {
		ec.notes = append(ec.notes, fmt.Sprintf("%s: the default capabilities nsup cannot give outside a user namespace on this host are left out of the plan's capset: %s; give the environment a user namespace (add user to namespaces) to keep them", ec.field, strings.Join(out, ", ")))
	}
}

// addsAll says whether the spec adds ALL.
func (ec *envCompiler) addsAll() bool {
	s := ec.e.Security
	return s != nil && slices.ContainsFunc(s.CapAdd, func(a spec.String) bool { return a.Value == "ALL" })
}

// heldCapsCheck refuses a capability `add` names that root inside could
// not hold on this host (capset would fail at apply, or leave it out
// unsaid), and says what ALL left out.
func (ec *envCompiler) heldCapsCheck() {
	for _, a := range ec.e.Security.CapAdd {
		switch {
		case slices.Contains(ec.caller.CapsUnknown, a.Value):
			ec.errorf(a.Pos, ec.field+".security.capabilities.add", "%s is unknown to this kernel: no process can hold it here; leave it out", a.Value)
		case !ec.inUserNS() && slices.Contains(ec.caller.CapsNotHeld, a.Value):
			ec.errorf(a.Pos, ec.field+".security.capabilities.add", "%s is not in nsup's bounding or permitted set: no process nsup starts outside a user namespace can hold it (capset would fail); leave it out, or give the environment a user namespace (add user to namespaces)", a.Value)
		}
	}
	if !ec.addsAll() {
		return
	}
	if _, out := ec.allCapabilities(); len(out) > 0 {
		ec.notes = append(ec.notes, fmt.Sprintf("%s.security.capabilities.add: ALL is every capability nsup can give here, listed in the plan's capset; left out: %s", ec.field, strings.Join(out, ", ")))
	}
}
