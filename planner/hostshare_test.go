package planner

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nsup/nsup/planner/seccomp"
)

// TestSelfOnlyUnderLibseccomp: the refusals of other processes' limits
// and priorities hold under libseccomp's reading of the rules too, which
// an exported bundle gets from runc or crun. libseccomp drops a
// syscall's conditional rules when an unconditional one follows (and
// runc drops a rule whose action is the default's): Docker's profile
// allows prlimit64, setpriority, ioprio_set and sched_set* without
// condition, after the refusals, so a review of the twelfth stop's
// fixes found the exported filter allowing prlimit64 and setpriority on
// any pid (libseccomp's seccomp_export_pfc of the bundle's profile).
// Every rule that lets one of those calls run must itself say the
// caller only.
func TestSelfOnlyUnderLibseccomp(t *testing.T) {
	def, err := seccomp.Default(DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	eq := func(i uint, v uint64) specs.LinuxSeccompArg {
		return specs.LinuxSeccompArg{Index: i, Value: v, Op: specs.OpEqualTo}
	}
	selfOnly := map[string][]specs.LinuxSeccompArg{
		"prlimit64":          {eq(0, 0)},
		"setpriority":        {eq(0, 0), eq(1, 0)}, // PRIO_PROCESS, the caller
		"ioprio_set":         {eq(0, 1), eq(1, 0)}, // IOPRIO_WHO_PROCESS, the caller
		"sched_setscheduler": {eq(0, 0)},
		"sched_setattr":      {eq(0, 0)},
		"sched_setparam":     {eq(0, 0)},
	}
	for name, base := range map[string]*specs.LinuxSeccomp{"default": def, "unconfined": UnconfinedRules(), "root's unconfined": UnconfinedRootRules(nil)} {
		rules := HostRefusals(base, false, true)
		for _, r := range rules.Syscalls {
			if denies(r.Action) {
				continue
			}
			for _, n := range r.Names {
				self, ok := selfOnly[n]
				if !ok {
					continue
				}
				for _, a := range self {
					if !slices.Contains(r.Args, a) {
						t.Errorf("%s: %s %s without %+v: %+v", name, n, r.Action, a, r.Args)
					}
				}
			}
		}
	}
}
