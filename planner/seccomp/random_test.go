package seccomp

import (
	"math/rand"
	"slices"

	"github.com/elastic/go-seccomp-bpf/arch"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The random profiles of the tests that compare programs: one generator.

// testValues are argument values either side of the 32-bit halves.
var testValues = []uint64{0, 1, 2, 0xff, 0xffffffff, 1 << 32, 1<<32 + 1, ^uint64(0), 0x8000_0000_0000_0000}

var testActions = []specs.LinuxSeccompAction{specs.ActAllow, specs.ActErrno, specs.ActTrap, specs.ActLog, specs.ActKillProcess}

var testArches = []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32, specs.ArchAARCH64, specs.ArchARM}

// sortedNames is every x86_64 syscall name, sorted.
func sortedNames() []string {
	names := make([]string, 0, len(arch.X86_64.SyscallNames))
	for n := range arch.X86_64.SyscallNames {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// profileGen draws random profiles: a default action; with arches, each
// architecture listed or not; up to 80 rules over a pool of up to 40 of
// names, each with one to three names, an errno half the time and up to
// three argument conditions of every operator. With nudge a condition's
// value is off by one either way at times; with oneArg half the rules
// test argument 1 only (a search over its values).
type profileGen struct {
	rng                   *rand.Rand
	names                 []string
	arches, nudge, oneArg bool
}

// profile returns a profile and the pool of names its rules use.
func (g profileGen) profile() (*specs.LinuxSeccomp, []string) {
	rng := g.rng
	s := &specs.LinuxSeccomp{DefaultAction: testActions[rng.Intn(3)]}
	if g.arches {
		for _, a := range testArches {
			if rng.Intn(2) == 0 {
				s.Architectures = append(s.Architectures, a)
			}
		}
	}
	pool := make([]string, 1+rng.Intn(40))
	for i := range pool {
		pool[i] = g.names[rng.Intn(len(g.names))]
	}
	for range rng.Intn(80) {
		r := specs.LinuxSyscall{Action: testActions[rng.Intn(len(testActions))]}
		for range 1 + rng.Intn(3) {
			r.Names = append(r.Names, pool[rng.Intn(len(pool))])
		}
		if rng.Intn(2) == 0 {
			e := uint(rng.Intn(4096))
			r.ErrnoRet = &e
		}
		one := g.oneArg && rng.Intn(2) == 0
		for range rng.Intn(4) {
			a := specs.LinuxSeccompArg{Index: uint(rng.Intn(3)), Value: testValues[rng.Intn(len(testValues))]}
			if g.nudge {
				a.Value += uint64(rng.Intn(3)) - 1
			}
			a.ValueTwo, a.Op = testValues[rng.Intn(len(testValues))], ops[rng.Intn(len(ops))]
			if one {
				a.Index = 1
				if a.Op == specs.OpMaskedEqual {
					a.Op = specs.OpEqualTo
				}
			}
			r.Args = append(r.Args, a)
		}
		s.Syscalls = append(s.Syscalls, r)
	}
	return s, pool
}
