package seccomp

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"slices"
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The exact programs, not only their semantics: these digests were taken
// from Compile before it was optimised, so a change of layout (an order of
// blocks, a trampoline) shows here. Update them only for an intended change
// of output, and say so. Changed once so far: for the searches over one
// argument's values, the exceptions of a search's leaves and the rets and
// blocks shared by the sections (amd64: 682 instructions to 245), whose
// programs TestSameAsBefore checks against the old ones.
//
// testdata/default.json is Docker's default profile as Default resolved it
// for defaultCaps on amd64 (Linux 6.18): Default's result depends on the
// kernel (minKernel), a file does not.
func TestGolden(t *testing.T) {
	data, err := os.ReadFile("testdata/default.json")
	if err != nil {
		t.Fatal(err)
	}
	var s specs.LinuxSeccomp
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		goarch string
		len    int
		digest string
	}{
		{"amd64", 245, "sha256:d0b750ef633ccfa4ab7cbdb01811edb364e5f6da2ebee208039851b0c84496b4"},
		// The same profile for arm64: its aarch64 section only (the
		// profile lists x86 arches), names resolved for amd64.
		{"arm64", 90, "sha256:db5ec138d3125e3aa0f8505bedb2086b886d36537e1a6530bbf4a57393c8cfc5"},
	} {
		prog, err := Compile(&s, c.goarch)
		if err != nil {
			t.Fatal(err)
		}
		if got := Digest(prog); len(prog) != c.len || got != c.digest {
			t.Errorf("%s: %d instructions, %s; want %d, %s", c.goarch, len(prog), got, c.len, c.digest)
		}
	}
}

// Random profiles (every arch listed or not, conditions, errnos, long
// jumps) compiled for both GOARCHes: one digest over all the programs.
func TestGoldenRandom(t *testing.T) {
	const want = "sha256:64309b5285b46ab8b5da412ef84b07c8e97e509ef88c90f1753fd8c53af2c6df"
	rng := rand.New(rand.NewSource(1))
	names := make([]string, 0, len(arch.X86_64.SyscallNames))
	for n := range arch.X86_64.SyscallNames {
		names = append(names, n)
	}
	slices.Sort(names)
	values := []uint64{0, 1, 2, 0xff, 0xffffffff, 1 << 32, 1<<32 + 1, ^uint64(0), 0x8000_0000_0000_0000}
	actions := []specs.LinuxSeccompAction{specs.ActAllow, specs.ActErrno, specs.ActTrap, specs.ActLog, specs.ActKillProcess}
	arches := []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32, specs.ArchAARCH64, specs.ArchARM}
	h := sha256.New()
	for range 300 {
		s := &specs.LinuxSeccomp{DefaultAction: actions[rng.Intn(3)]}
		for _, a := range arches {
			if rng.Intn(2) == 0 {
				s.Architectures = append(s.Architectures, a)
			}
		}
		pool := make([]string, 1+rng.Intn(40))
		for i := range pool {
			pool[i] = names[rng.Intn(len(names))]
		}
		for range rng.Intn(80) {
			r := specs.LinuxSyscall{Action: actions[rng.Intn(len(actions))]}
			for range 1 + rng.Intn(3) {
				r.Names = append(r.Names, pool[rng.Intn(len(pool))])
			}
			if rng.Intn(2) == 0 {
				e := uint(rng.Intn(4096))
				r.ErrnoRet = &e
			}
			for range rng.Intn(4) {
				r.Args = append(r.Args, specs.LinuxSeccompArg{Index: uint(rng.Intn(3)),
					Value: values[rng.Intn(len(values))], ValueTwo: values[rng.Intn(len(values))], Op: ops[rng.Intn(len(ops))]})
			}
			s.Syscalls = append(s.Syscalls, r)
		}
		for _, goarch := range []string{"amd64", "arm64"} {
			prog, err := Compile(s, goarch)
			if err != nil {
				t.Fatal(err)
			}
			h.Write(Bytes(prog))
		}
	}
	if got := fmt.Sprintf("sha256:%x", h.Sum(nil)); got != want {
		t.Errorf("random programs: %s, want %s", got, want)
	}
}

// Compile alone, as planning runs it after Default.
func BenchmarkCompile(b *testing.B) {
	s, err := Default(defaultCaps)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(s, runtime.GOARCH); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDefault(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Default(defaultCaps); err != nil {
			b.Fatal(err)
		}
	}
}
