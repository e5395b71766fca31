package seccomp

// The programs of the interval compiler against those of the compiler
// before it: same action for every syscall number and argument that can
// tell them apart.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand"
	"os"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// sameProfiles are the profiles of testdata/old, whose programs
// (NAME-GOARCH.bpf) are Compile's before it tested syscall arguments by
// intervals (commit f018e48): Docker's default, a profile of argument
// conditions of every operator (args.json), and the same under a default
// action of ALLOW (no ENOSYS stub) for two ABIs only.
func sameProfiles(t testing.TB) []namedProfile {
	var out []namedProfile
	for _, n := range []string{"default", "args"} {
		data, err := os.ReadFile("testdata/" + n + ".json")
		if err != nil {
			t.Fatal(err)
		}
		var s specs.LinuxSeccomp
		if err := json.Unmarshal(data, &s); err != nil {
			t.Fatal(err)
		}
		out = append(out, namedProfile{n, &s})
	}
	allow := *out[1].s
	allow.DefaultAction = specs.ActAllow
	allow.Architectures = []specs.Arch{specs.ArchX86_64, specs.ArchAARCH64}
	return append(out, namedProfile{"args-allow", &allow})
}

type namedProfile struct {
	name string
	s    *specs.LinuxSeccomp
}

// seccompData is struct seccomp_data as the program loads it: 32-bit words.
type seccompData [16]uint32

func newData(audit, nr uint32, args [6]uint64) seccompData {
	d := seccompData{nr, audit, 0xdeadbeef, 0x7f00}
	for i, a := range args {
		d[4+2*i], d[5+2*i] = uint32(a), uint32(a>>32)
	}
	return d
}

// interpret runs a program of Compile's instructions (ld, and, jeq, jgt,
// jge, ja, ret: nothing else is emitted) on d; ok is false for anything
// else, a load out of seccomp_data or a jump past the end.
func interpret(prog []Instruction, d *seccompData) (ret uint32, ok bool) {
	var a uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		jump := func(cond bool) {
			if cond {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		}
		switch in.Code {
		case opLdW:
			if in.K%4 != 0 || in.K >= 64 {
				return 0, false
			}
			a = d[in.K/4]
		case opAnd:
			a &= in.K
		case opJeq:
			jump(a == in.K)
		case opJgt:
			jump(a > in.K)
		case opJge:
			jump(a >= in.K)
		case opJa:
			pc += int(in.K)
		case opRetK:
			return in.K, true
		default:
			return 0, false
		}
	}
	return 0, false
}

func parseProgram(t testing.TB, b []byte) []Instruction {
	if len(b)%8 != 0 {
		t.Fatalf("a program of %d bytes", len(b))
	}
	prog := make([]Instruction, len(b)/8)
	for i := range prog {
		in := b[8*i:]
		prog[i] = Instruction{binary.LittleEndian.Uint16(in), in[2], in[3], binary.LittleEndian.Uint32(in[4:])}
	}
	return prog
}

// argValues are the values of each argument a profile compares: every
// operand, either side of it, with the other word changed; and 0, the
// word boundaries, the largest.
func argValues(s *specs.LinuxSeccomp) [maxArgs][]uint64 {
	var vs [maxArgs][]uint64
	for _, r := range s.Syscalls {
		for _, a := range r.Args {
			for _, v := range []uint64{a.Value, a.ValueTwo} {
				for _, x := range []uint64{v - 1, v, v + 1} {
					vs[a.Index] = append(vs[a.Index], x, x^1<<32, x^1<<63, x&math.MaxUint32, x|math.MaxUint32<<32)
				}
			}
		}
	}
	for i := range vs {
		vs[i] = append(vs[i], 0, 1, math.MaxUint32, 1<<32, math.MaxUint64)
		slices.Sort(vs[i])
		vs[i] = slices.Compact(vs[i])
	}
	return vs
}

// TestSameAsBefore: for every syscall number 0..1023 (and x32's, and
// arm's private ones) of every audit arch a GOARCH has, listed or not, the
// new program returns what the old one did, for every argument value the
// profile compares (one argument at a time) and random combinations of
// them, for the syscalls rules name with conditions; a few for the others.
func TestSameAsBefore(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, p := range sameProfiles(t) {
		vectors := argVectors(p.s, rng, 2000)
		for _, goarch := range []string{"amd64", "arm64"} {
			old, err := os.ReadFile("testdata/old/" + p.name + "-" + goarch + ".bpf")
			if err != nil {
				t.Fatal(err)
			}
			before := parseProgram(t, old)
			after, err := Compile(p.s, goarch)
			if err != nil {
				t.Fatal(err)
			}
			runs := same(t, p.name+" "+goarch, p.s, goarch, before, after, vectors)
			t.Logf("%s %s: %d instructions, were %d; %d runs the same", p.name, goarch, len(after), len(before), runs)
		}
	}
}

// TestSameAsBeforeRandom: random profiles (every arch listed or not,
// conditions of every operator, errnos), against compileBefore.
func TestSameAsBeforeRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	names := make([]string, 0, len(tableX86_64.calls))
	for _, c := range tableX86_64.calls {
		names = append(names, c.name)
	}
	gen := profileGen{rng: rng, names: names, arches: true, nudge: true, oneArg: true}
	before, after := 0, 0
	for range 200 {
		s, _ := gen.profile()
		vectors := argVectors(s, rng, 30)
		for _, goarch := range []string{"amd64", "arm64"} {
			b, err := compileBefore(s, goarch)
			if err != nil {
				t.Fatal(err)
			}
			a, err := Compile(s, goarch)
			if err != nil {
				t.Fatal(err)
			}
			before, after = before+len(b), after+len(a)
			same(t, goarch, s, goarch, b, a, vectors)
		}
	}
	t.Logf("%d instructions, were %d", after, before)
}

// argVectors are argument sets for s: all zero, each value of argValues
// in one argument, and n random combinations of them.
func argVectors(s *specs.LinuxSeccomp, rng *rand.Rand, n int) [][6]uint64 {
	vals := argValues(s)
	vectors := [][6]uint64{{}}
	for i, vs := range vals {
		for _, v := range vs {
			var args [6]uint64
			args[i] = v
			vectors = append(vectors, args)
		}
	}
	for range n {
		var args [6]uint64
		for i, vs := range vals {
			args[i] = vs[rng.Intn(len(vs))]
		}
		vectors = append(vectors, args)
	}
	return vectors
}

// same runs before and after on every audit arch of interest and
// nr 0..1023 (x32's too, arm's private ones, the largest), with every
// vector for an nr a rule with conditions names in that ABI, a few
// others for the rest; it returns the runs made.
func same(t *testing.T, name string, s *specs.LinuxSeccomp, goarch string, before, after []Instruction, vectors [][6]uint64) int {
	t.Helper()
	conditional := map[uint32][]uint32{}
	for _, a := range abisOf(goarch) {
		f := finder{t: a.tab}
		for _, r := range s.Syscalls {
			if len(r.Args) == 0 {
				continue
			}
			for _, n := range r.Names {
				for _, sc := range f.lookup(n) {
					conditional[a.tab.audit] = append(conditional[a.tab.audit], sc.nr|a.tab.mask)
				}
			}
		}
	}
	few := [][6]uint64{{}, {1, 2, 3, 4, 5, 6}, {math.MaxUint64, math.MaxUint64, math.MaxUint64}, {1 << 32, 7, 1 << 33}}
	few = append(few, vectors[len(vectors)-min(len(vectors), 16):]...)
	runs := 0
	for _, audit := range []uint32{auditX86_64, auditI386, auditAARCH64, auditARM, 0} {
		var nrs []uint32
		for n := range uint32(1024) {
			nrs = append(nrs, n)
			if audit == auditX86_64 {
				nrs = append(nrs, x32Bit|n)
			}
		}
		if audit == auditARM {
			for n := uint32(0xf0000); n < 0xf0010; n++ {
				nrs = append(nrs, n)
			}
		}
		nrs = append(nrs, x32Bit-1, math.MaxUint32)
		for _, n := range nrs {
			vs := few
			if slices.Contains(conditional[audit], n) {
				vs = vectors
			}
			for _, args := range vs {
				d := newData(audit, n, args)
				want, ok1 := interpret(before, &d)
				got, ok2 := interpret(after, &d)
				runs++
				if !ok1 || !ok2 || got != want {
					t.Fatalf("%s: arch %#x nr %#x args %#x: %#x (ok %v), was %#x (ok %v)",
						name, audit, n, args, got, ok2, want, ok1)
				}
			}
		}
	}
	return runs
}

// TestInterpret: the interpreter above agrees with x/net/bpf's VM.
func TestInterpret(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for _, p := range sameProfiles(t) {
		f := compile(t, p.s, "amd64")
		vals := argValues(p.s)
		for range 20000 {
			audit := []uint32{auditX86_64, auditI386, 0}[rng.Intn(3)]
			n := uint32(rng.Intn(500))
			var args [6]uint64
			for i := range 3 {
				args[i] = vals[i][rng.Intn(len(vals[i]))]
			}
			d := newData(audit, n, args)
			got, ok := interpret(f.prog, &d)
			if want := f.run(audit, n, args[:]...); !ok || got != want {
				t.Fatalf("arch %#x nr %d args %#x: interpret %#x (ok %v), VM %#x", audit, n, args, got, ok, want)
			}
		}
	}
}

// TestBeforeIsBefore: compileBefore gives the programs of testdata/old.
func TestBeforeIsBefore(t *testing.T) {
	for _, p := range sameProfiles(t) {
		for _, goarch := range []string{"amd64", "arm64"} {
			old, err := os.ReadFile("testdata/old/" + p.name + "-" + goarch + ".bpf")
			if err != nil {
				t.Fatal(err)
			}
			prog, err := compileBefore(p.s, goarch)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(Bytes(prog), old) {
				t.Errorf("%s %s: compileBefore differs from testdata/old", p.name, goarch)
			}
		}
	}
}
