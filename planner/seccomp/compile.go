package seccomp

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/elastic/go-seccomp-bpf/arch"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// The program, for amd64 with Docker's architectures:
//
//	    ld  [4]                          seccomp_data.arch
//	    jeq #AUDIT_ARCH_X86_64, S1       one test per audit arch in the profile
//	    jeq #AUDIT_ARCH_I386, S2
//	    ret #KILL_PROCESS                any other arch: the same nr is another
//	                                     syscall there (seccomp(2), on "arch")
//	S1: ld  [0]                          seccomp_data.nr
//	    jge #N, …                        binary search over ranges of nr that
//	    …                                share one outcome, leaves jump to:
//	R:  ret #ALLOW, ret #ERRNO|EPERM …   one ret per action, shared, or
//	B:  ld/jeq… on args, ret #ACTION     a syscall's conditional rules, in order
//	    ret #DEFAULT
//	S2: …
//
// Under AUDIT_ARCH_X86_64 the x32 ABI is nr|__X32_SYSCALL_BIT; its numbers
// are ranges of the same search as x86_64's, so an x86_64 rule never
// matches an x32 call (the whole nr is compared, unlike a masked test).

// Instruction is one struct sock_filter (linux/filter.h), as the kernel takes it.
type Instruction struct {
	Code   uint16
	Jt, Jf uint8
	K      uint32
}

const (
	maxInsns = 4096       // BPF_MAXINSNS, linux/bpf_common.h
	x32Bit   = 0x40000000 // __X32_SYSCALL_BIT, asm/unistd.h
	maxArgs  = 6

	// struct seccomp_data (seccomp(2)): int nr; __u32 arch;
	// __u64 instruction_pointer; __u64 args[6]. Loads are 32-bit and
	// native-endian; amd64 and arm64 (and their 32-bit ABIs) are little
	// endian, so an argument's low word is at the lower offset.
	offNr, offArch, offArgs = 0, 4, 16
)

// An abi is one syscall table as seccomp_data shows it: an audit arch and
// the range of nr it owns there (x86_64 and x32 share AUDIT_ARCH_X86_64).
type abi struct {
	name   specs.Arch
	info   *arch.Info
	lo, hi uint32
	// wide: 64-bit arguments, compared whole. On 32-bit ABIs (i386, arm,
	// x32) only the low word is compared, as libseccomp does for an
	// ARCH_SIZE_32 arch: their arguments are 32-bit, and the high word
	// seccomp_data shows for them is not the syscall's.
	wide bool
}

// abis lists, for a GOARCH, the ABIs its processes can use, native first.
var abis = map[string][]abi{
	"amd64": {
		{specs.ArchX86_64, arch.X86_64, 0, x32Bit - 1, true},
		{specs.ArchX86, arch.I386, 0, math.MaxUint32, false},
		{specs.ArchX32, arch.X32, x32Bit, math.MaxUint32, false},
	},
	"arm64": {
		{specs.ArchAARCH64, arch.AARCH64, 0, math.MaxUint32, true},
		{specs.ArchARM, arch.ARM, 0, math.MaxUint32, false},
	},
}

// foreignArches can be listed in a profile but no process of a supported
// GOARCH uses them: libseccomp would add a section that never matches, so
// they are ignored. Any other name is an error.
var foreignArches = []specs.Arch{
	specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPSEL,
	specs.ArchMIPSEL64, specs.ArchMIPSEL64N32, specs.ArchPPC, specs.ArchPPC64,
	specs.ArchPPC64LE, specs.ArchS390, specs.ArchS390X, specs.ArchPARISC,
	specs.ArchPARISC64, specs.ArchRISCV64, specs.ArchLOONGARCH64,
	specs.ArchM68K, specs.ArchSH, specs.ArchSHEB,
	specs.ArchX86_64, specs.ArchX86, specs.ArchX32, specs.ArchAARCH64, specs.ArchARM,
}

// numbers maps each table's names to their numbers (with the x32 bit). A
// name may have several: go-seccomp-bpf's x32 table has both the x86_64
// number and x32's own (512+) for 36 syscalls, and a rule naming one
// applies to both (libseccomp uses x32's; the kernel answers the other
// with ENOSYS for x32 since 5.4, so matching it too changes nothing).
var numbers = sync.OnceValue(func() map[*arch.Info]map[string][]uint32 {
	m := map[*arch.Info]map[string][]uint32{}
	for _, t := range abis {
		for _, a := range t {
			names := map[string][]uint32{}
			for n, name := range a.info.SyscallNumbers {
				names[name] = append(names[name], uint32(n|a.info.SeccompMask))
			}
			for _, ns := range names {
				slices.Sort(ns)
			}
			m[a.info] = names
		}
	}
	return m
})

// A rule is one checked specs.LinuxSyscall.
type rule struct {
	names []string
	ret   uint32
	args  []specs.LinuxSeccompArg
}

type profile struct {
	deflt  uint32
	rules  []*rule
	listed map[specs.Arch]bool
}

// check validates s for goarch and lowers actions to SECCOMP_RET_* values.
func check(s *specs.LinuxSeccomp, goarch string) (*profile, []abi, error) {
	table, ok := abis[goarch]
	switch {
	case s == nil:
		return nil, nil, errors.New("no seccomp profile")
	case !ok:
		return nil, nil, fmt.Errorf("seccomp: goarch %q is not supported (amd64, arm64)", goarch)
	case s.ListenerPath != "":
		return nil, nil, errors.New("listenerPath is not supported: nsup has no seccomp agent")
	case s.DefaultAction == "":
		return nil, nil, errors.New("defaultAction is empty")
	}
	if _, err := Flags(s); err != nil {
		return nil, nil, err
	}
	p := &profile{listed: map[specs.Arch]bool{table[0].name: true}}
	var err error
	if p.deflt, err = action(s.DefaultAction, s.DefaultErrnoRet); err != nil {
		return nil, nil, fmt.Errorf("defaultAction: %w", err)
	}
	for i, a := range s.Architectures {
		if !slices.Contains(foreignArches, a) {
			return nil, nil, fmt.Errorf("architectures[%d]: %q is not an architecture", i, a)
		}
		p.listed[a] = true
	}
	for i, sc := range s.Syscalls {
		where := fmt.Sprintf("syscalls[%d]", i)
		switch len(sc.Names) {
		case 0:
			return nil, nil, fmt.Errorf("%s: no names", where)
		case 1:
			where += " (" + sc.Names[0] + ")"
		default:
			where += fmt.Sprintf(" (%s and %d more)", sc.Names[0], len(sc.Names)-1)
		}
		if slices.Contains(sc.Names, "") {
			return nil, nil, fmt.Errorf("%s: empty name", where)
		}
		r := &rule{names: sc.Names, args: sc.Args}
		if r.ret, err = action(sc.Action, sc.ErrnoRet); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", where, err)
		}
		for _, a := range sc.Args {
			if a.Index >= maxArgs {
				return nil, nil, fmt.Errorf("%s: arg index %d is not in 0..5", where, a.Index)
			}
			switch a.Op {
			case specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
				specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual:
			default:
				return nil, nil, fmt.Errorf("%s: op %s is not supported", where, a.Op)
			}
		}
		p.rules = append(p.rules, r)
	}
	return p, table, nil
}

// action is the SECCOMP_RET_* value of an OCI action (seccomp(2), "Filter
// return values"; the mapping is runc's).
func action(a specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	errno := uint(unix.EPERM) // runc's default for ERRNO and TRACE
	if errnoRet != nil {
		errno = *errnoRet
	}
	if (a == specs.ActErrno || a == specs.ActTrace) && errno > unix.SECCOMP_RET_DATA {
		return 0, fmt.Errorf("errnoRet %d does not fit SECCOMP_RET_DATA", errno)
	}
	switch a {
	case specs.ActAllow:
		return unix.SECCOMP_RET_ALLOW, nil
	case specs.ActErrno:
		return unix.SECCOMP_RET_ERRNO | uint32(errno), nil
	case specs.ActKill, specs.ActKillThread:
		return unix.SECCOMP_RET_KILL_THREAD, nil
	case specs.ActKillProcess:
		return unix.SECCOMP_RET_KILL_PROCESS, nil
	case specs.ActTrap:
		return unix.SECCOMP_RET_TRAP, nil
	case specs.ActTrace:
		return unix.SECCOMP_RET_TRACE | uint32(errno), nil
	case specs.ActLog:
		return unix.SECCOMP_RET_LOG, nil
	case specs.ActNotify:
		return 0, fmt.Errorf("action %s is not supported: nsup has no seccomp agent", a)
	}
	return 0, fmt.Errorf("action %q is not supported", a)
}

// Flags maps the profile's OCI flags (SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW,
// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) to their kernel bits; unknown ones are an error.
func Flags(s *specs.LinuxSeccomp) (uint, error) {
	var f uint
	if s == nil {
		return 0, nil
	}
	for i, fl := range s.Flags {
		switch fl {
		case specs.LinuxSeccompFlagLog:
			f |= unix.SECCOMP_FILTER_FLAG_LOG
		case specs.LinuxSeccompFlagSpecAllow:
			f |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		case specs.LinuxSeccompFlagWaitKillableRecv:
			f |= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
		default:
			return 0, fmt.Errorf("flags[%d]: %q is not supported", i, fl)
		}
	}
	return f, nil
}

// Compile lowers the rules into a classic BPF seccomp program for goarch ("amd64" or
// "arm64"; others may return an error). Deterministic: same input, same bytes.
//
// Semantics are libseccomp's as runc drives it (seccomp_rule_add(3)): for a
// syscall, the rules naming it are tried in profile order and the first
// whose conditions all hold gives the action, else the default action. A
// name an architecture does not have is skipped there. One difference: runc
// splits a rule with two conditions on one argument into one rule per
// condition (runc#2735); here they must all hold, as the OCI spec says.
func Compile(s *specs.LinuxSeccomp, goarch string) ([]Instruction, error) {
	p, table, err := check(s, goarch)
	if err != nil {
		return nil, err
	}
	c := &compiler{p: p}
	// Sections, one per audit arch that a listed ABI uses, in table order.
	var audits []uint32
	for _, a := range table {
		if id := uint32(a.info.ID); p.listed[a.name] && !slices.Contains(audits, id) {
			audits = append(audits, id)
		}
	}
	c.ld(offArch)
	starts := make([]int, len(audits))
	for i, id := range audits {
		starts[i] = c.newLabel()
		c.jmp(bpf.JumpEqual, id, starts[i], 0)
	}
	c.ret(unix.SECCOMP_RET_KILL_PROCESS)
	for i, id := range audits {
		var owners []abi
		for _, a := range table {
			if uint32(a.info.ID) == id {
				owners = append(owners, a)
			}
		}
		c.label(starts[i])
		c.section(owners)
	}
	return c.assemble()
}

// An outcome is what one nr leads to: a ret, or block blk (1-based).
type outcome struct {
	ret uint32
	blk int
}

type block struct {
	label int
	chain []*rule
	wide  bool
}

type interval struct {
	lo uint32 // up to the next interval's lo
	o  outcome
}

// section emits the search over nr for the ABIs sharing one audit arch.
func (c *compiler) section(owners []abi) {
	c.blocks, c.blockIDs, c.rets, c.retLabels = nil, map[string]int{}, nil, map[uint32]int{}
	chains := make([]map[uint32][]*rule, len(owners))
	points := []uint64{0}
	var stub []uint64 // first nr of each ABI's ENOSYS range, 0 for none
	for i, a := range owners {
		points = append(points, uint64(a.lo))
		stub = append(stub, 0)
		if !c.p.listed[a.name] {
			continue // e.g. x32 unlisted: its nr range gets the default action
		}
		chains[i] = map[uint32][]*rule{}
		top := -1
		for _, r := range c.p.rules {
			for _, name := range r.names {
				for _, n := range numbers()[a.info][name] {
					ch := chains[i][n]
					if len(ch) == 0 || ch[len(ch)-1] != r {
						chains[i][n] = append(ch, r)
					}
					points = append(points, uint64(n), uint64(n)+1)
					top = max(top, int(n))
				}
			}
		}
		// runc's ENOSYS stub (libcontainer/seccomp/patchbpf): a syscall
		// newer than every one the profile names gets ENOSYS, not the
		// default action, so that libc falls back to an older one (clone3
		// to clone, statx to stat…) instead of failing on EPERM. Only
		// with a denying default: under ALLOW the kernel's own ENOSYS shows.
		if c.p.deflt != unix.SECCOMP_RET_ALLOW && top >= 0 {
			stub[i] = uint64(top) + 1
			points = append(points, stub[i])
		}
	}
	slices.Sort(points)
	var ivs []interval
	for _, n := range slices.Compact(points) {
		if n > math.MaxUint32 {
			break
		}
		o := outcome{ret: c.p.deflt}
		for i, a := range owners {
			if uint32(n) < a.lo || uint32(n) > a.hi || chains[i] == nil {
				continue
			}
			if ch, ok := chains[i][uint32(n)]; ok {
				o = c.decide(ch, a.wide)
			} else if stub[i] != 0 && n >= stub[i] {
				o = outcome{ret: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)}
			}
		}
		if len(ivs) == 0 || ivs[len(ivs)-1].o != o {
			ivs = append(ivs, interval{uint32(n), o})
		}
	}
	c.ld(offNr)
	c.tree(ivs)
	// The shared rets first: the tree's leaves jump there more often than
	// to blocks, and a jump further than 255 costs a trampoline.
	for _, k := range c.rets {
		c.label(c.retLabels[k])
		c.ret(k)
	}
	for _, b := range c.blocks {
		c.label(b.label)
		for _, r := range b.chain {
			next := c.newLabel()
			for _, a := range r.args {
				c.arg(a, b.wide, next)
			}
			c.ret(r.ret)
			c.label(next)
		}
		if len(b.chain[len(b.chain)-1].args) > 0 {
			c.ret(c.p.deflt)
		}
	}
}

// decide turns the rules naming one nr into an outcome; identical chains
// share one block.
func (c *compiler) decide(chain []*rule, wide bool) outcome {
	// Rules after one without conditions never match.
	for i, r := range chain {
		if len(r.args) == 0 {
			chain = chain[:i+1]
			break
		}
	}
	if len(chain[0].args) == 0 {
		return outcome{ret: chain[0].ret}
	}
	key := fmt.Sprint(wide)
	for _, r := range chain {
		key += fmt.Sprintf("|%x%v", r.ret, r.args)
	}
	if id, ok := c.blockIDs[key]; ok {
		return outcome{blk: id}
	}
	c.blocks = append(c.blocks, block{c.newLabel(), chain, wide})
	c.blockIDs[key] = len(c.blocks)
	return outcome{blk: len(c.blocks)}
}

// target is the label an outcome starts at.
func (c *compiler) target(o outcome) int {
	if o.blk > 0 {
		return c.blocks[o.blk-1].label
	}
	if _, ok := c.retLabels[o.ret]; !ok {
		c.retLabels[o.ret] = c.newLabel()
		c.rets = append(c.rets, o.ret)
	}
	return c.retLabels[o.ret]
}

// tree emits a binary search over sorted intervals (A holds nr): a jge per
// inner node, leaves as jump targets, so a lookup costs log2(len(ivs)).
func (c *compiler) tree(ivs []interval) {
	if len(ivs) == 1 {
		if ivs[0].o.blk == 0 {
			c.ret(ivs[0].o.ret)
		} else {
			c.ops = append(c.ops, op{kind: kJa, t: c.target(ivs[0].o)})
		}
		return
	}
	l, r := ivs[:len(ivs)/2], ivs[len(ivs)/2:]
	k := r[0].lo
	switch {
	case len(l) == 1 && len(r) == 1:
		c.jmp(bpf.JumpGreaterOrEqual, k, c.target(r[0].o), c.target(l[0].o))
	case len(l) == 1:
		c.jmp(bpf.JumpGreaterOrEqual, k, 0, c.target(l[0].o))
		c.tree(r)
	case len(r) == 1:
		c.jmp(bpf.JumpGreaterOrEqual, k, c.target(r[0].o), 0)
		c.tree(l)
	default:
		right := c.newLabel()
		c.jmp(bpf.JumpGreaterOrEqual, k, right, 0)
		c.tree(l)
		c.label(right)
		c.tree(r)
	}
}

// arg emits one 64-bit comparison (seccomp_rule_add(3), "SCMP_CMP_*";
// unsigned, as libseccomp compares): fall through when it holds, jump to
// fail when not. High word first: it decides unless equal.
func (c *compiler) arg(a specs.LinuxSeccompArg, wide bool, fail int) {
	off := offArgs + 8*uint32(a.Index)
	hi, pass := uint32(a.Value>>32), 0
	if a.Op == specs.OpMaskedEqual && a.Value>>32 == 0 && a.ValueTwo>>32 == 0 {
		wide = false // (hi & 0) == 0 holds
	}
	if wide {
		c.ld(off + 4)
		switch a.Op {
		case specs.OpEqualTo:
			c.jmp(bpf.JumpEqual, hi, 0, fail)
		case specs.OpNotEqual:
			pass = c.newLabel()
			c.jmp(bpf.JumpEqual, hi, 0, pass)
		case specs.OpMaskedEqual:
			c.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: hi})
			c.jmp(bpf.JumpEqual, uint32(a.ValueTwo>>32), 0, fail)
		case specs.OpGreaterThan, specs.OpGreaterEqual:
			pass = c.newLabel()
			c.jmp(bpf.JumpGreaterThan, hi, pass, 0)
			c.jmp(bpf.JumpEqual, hi, 0, fail)
		case specs.OpLessThan, specs.OpLessEqual:
			pass = c.newLabel()
			c.jmp(bpf.JumpGreaterThan, hi, fail, 0)
			c.jmp(bpf.JumpEqual, hi, 0, pass)
		}
	}
	c.ld(off)
	lo := uint32(a.Value)
	switch a.Op {
	case specs.OpEqualTo:
		c.jmp(bpf.JumpEqual, lo, 0, fail)
	case specs.OpNotEqual:
		c.jmp(bpf.JumpEqual, lo, fail, 0)
	case specs.OpGreaterThan:
		c.jmp(bpf.JumpGreaterThan, lo, 0, fail)
	case specs.OpGreaterEqual:
		c.jmp(bpf.JumpGreaterOrEqual, lo, 0, fail)
	case specs.OpLessThan:
		c.jmp(bpf.JumpGreaterOrEqual, lo, fail, 0)
	case specs.OpLessEqual:
		c.jmp(bpf.JumpGreaterThan, lo, fail, 0)
	case specs.OpMaskedEqual:
		c.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: lo})
		c.jmp(bpf.JumpEqual, uint32(a.ValueTwo), 0, fail)
	}
	if pass != 0 {
		c.label(pass)
	}
}

// The compiler emits ops with symbolic jump targets; assemble lays them out.
type compiler struct {
	p       *profile
	ops     []op
	nlabels int

	// per section
	blocks    []block
	blockIDs  map[string]int
	rets      []uint32
	retLabels map[uint32]int
}

const (
	kIns   = iota
	kJmp   // conditional: cond k, to t if true, f if false
	kJa    // unconditional, to t
	kLabel // marks label t here
)

// An op's targets are labels; 0 is the next instruction.
type op struct {
	kind int
	ins  bpf.Instruction
	cond bpf.JumpTest
	k    uint32
	t, f int
}

func (c *compiler) newLabel() int          { c.nlabels++; return c.nlabels }
func (c *compiler) label(l int)            { c.ops = append(c.ops, op{kind: kLabel, t: l}) }
func (c *compiler) emit(i bpf.Instruction) { c.ops = append(c.ops, op{kind: kIns, ins: i}) }
func (c *compiler) ld(off uint32)          { c.emit(bpf.LoadAbsolute{Off: off, Size: 4}) }
func (c *compiler) ret(k uint32)           { c.emit(bpf.RetConstant{Val: k}) }
func (c *compiler) jmp(cond bpf.JumpTest, k uint32, t, f int) {
	c.ops = append(c.ops, op{kind: kJmp, cond: cond, k: k, t: t, f: f})
}

// assemble resolves labels. A conditional jump reaches at most 255
// instructions ahead (jt/jf are 8-bit); a branch that cannot is sent to a
// `ja` (32-bit offset) placed right after the jump. Adding one moves later
// code, so layout repeats until no branch is newly out of reach (branches
// only become far, so this ends).
func (c *compiler) assemble() ([]Instruction, error) {
	far := make([][2]bool, len(c.ops))
	pos := make([]int, len(c.ops))
	at := make([]int, c.nlabels+1)
	size := func(i int) int {
		switch c.ops[i].kind {
		case kLabel:
			return 0
		case kJmp:
			n := 1
			for _, f := range far[i] {
				if f {
					n++
				}
			}
			return n
		}
		return 1
	}
	n := 0
	for grown := true; grown; {
		n, grown = 0, false
		for i, o := range c.ops {
			pos[i] = n
			if o.kind == kLabel {
				at[o.t] = n
			}
			n += size(i)
		}
		for i, o := range c.ops {
			for b, l := range [2]int{o.t, o.f} {
				if o.kind == kJmp && l != 0 && !far[i][b] && at[l]-pos[i]-1 > math.MaxUint8 {
					far[i][b], grown = true, true
				}
			}
		}
	}
	if n > maxInsns {
		return nil, fmt.Errorf("seccomp program has %d instructions, more than BPF_MAXINSNS (%d)", n, maxInsns)
	}
	out := make([]bpf.Instruction, 0, n)
	for i, o := range c.ops {
		next := pos[i] + 1
		switch o.kind {
		case kIns:
			out = append(out, o.ins)
		case kJa:
			out = append(out, bpf.Jump{Skip: uint32(at[o.t] - next)})
		case kJmp:
			var skip [2]int
			var tramps []bpf.Instruction
			for b, l := range [2]int{o.t, o.f} {
				switch {
				case far[i][b]:
					skip[b] = len(tramps)
					tramps = append(tramps, bpf.Jump{Skip: uint32(at[l] - (next + len(tramps) + 1))})
				case l == 0:
					skip[b] = size(i) - 1
				default:
					skip[b] = at[l] - next
				}
			}
			if skip[0] < 0 || skip[1] < 0 {
				return nil, errors.New("seccomp: internal error: backward jump")
			}
			out = append(out, bpf.JumpIf{Cond: o.cond, Val: o.k, SkipTrue: uint8(skip[0]), SkipFalse: uint8(skip[1])})
			out = append(out, tramps...)
		}
	}
	raw, err := bpf.Assemble(out)
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	prog := make([]Instruction, len(raw))
	for i, r := range raw {
		prog[i] = Instruction{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	return prog, nil
}

// Bytes is the program as the kernel reads it (little/native-endian struct sock_filter array),
// and Digest is "sha256:HEX" of Bytes (the plan prints it).
func Bytes(prog []Instruction) []byte {
	b := make([]byte, 0, 8*len(prog))
	for _, in := range prog {
		b = binary.LittleEndian.AppendUint16(b, in.Code)
		b = append(b, in.Jt, in.Jf)
		b = binary.LittleEndian.AppendUint32(b, in.K)
	}
	return b
}

// Digest is "sha256:HEX" of Bytes(prog).
func Digest(prog []Instruction) string {
	sum := sha256.Sum256(Bytes(prog))
	return "sha256:" + hex.EncodeToString(sum[:])
}
