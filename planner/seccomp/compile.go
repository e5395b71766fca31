package seccomp

import (
	"math"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
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
//	    …                                share one outcome; a lone nr between
//	    jeq #N, …                        two ranges of one outcome is a jeq at
//	                                     their leaf. Leaves jump to:
//	S2: ld  [0] …                        (the next section's search)
//	R:  ret #ALLOW, ret #ERRNO|EPERM …   one ret per action, shared by every
//	                                     section, or
//	B:  ld [20]; jge …; ld [16]; jge …   a syscall's conditional rules: a search
//	    ret #ACTION …                    over one argument's values when they
//	                                     all test that one (socket's family,
//	                                     personality's persona), else the rules
//	    ld/jeq… on args, ret #ACTION     in order; shared by the sections too
//	    ret #DEFAULT
//
// Docker's default profile (testdata/default.json) takes 245
// instructions for amd64, where it took 682 when each conditional rule
// was tested in turn and each section had rets and blocks of its own.
//
// Under AUDIT_ARCH_X86_64 the x32 ABI is nr|__X32_SYSCALL_BIT; its numbers
// are ranges of the same search as x86_64's, so an x86_64 rule never
// matches an x32 call (the whole nr is compared, unlike a masked test).

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
	tab    *sysTable
	lo, hi uint32
	// wide: 64-bit arguments, compared whole. On 32-bit ABIs (i386, arm,
	// x32) only the low word is compared, as libseccomp does for an
	// ARCH_SIZE_32 arch: their arguments are 32-bit, and the high word
	// seccomp_data shows for them is not the syscall's.
	wide bool
}

// The ABIs a GOARCH's processes can use, native first (abisOf). Slices,
// not a map: static data, no code at init.
var (
	amd64ABIs = []abi{
		{specs.ArchX86_64, &tableX86_64, 0, x32Bit - 1, true},
		{specs.ArchX86, &tableI386, 0, math.MaxUint32, false},
		{specs.ArchX32, &tableX32, x32Bit, math.MaxUint32, false},
	}
	arm64ABIs = []abi{
		{specs.ArchAARCH64, &tableAARCH64, 0, math.MaxUint32, true},
		{specs.ArchARM, &tableARM, 0, math.MaxUint32, false},
	}
)

// abisOf lists the ABIs of goarch, nil if it is not supported.
func abisOf(goarch string) []abi {
	switch goarch {
	case "amd64":
		return amd64ABIs
	case "arm64":
		return arm64ABIs
	}
	return nil
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

// Compile lowers the rules into a classic BPF seccomp program for goarch ("amd64" or
// "arm64"; others may return an error). Deterministic: same input, same bytes.
//
// Semantics are libseccomp's as runc drives it (seccomp_rule_add(3)): for a
// syscall, the rules naming it are tried in profile order and the first
// whose conditions all hold gives the action, else the default action. A
// name an architecture does not have is skipped there. Differences: runc
// splits a rule with two conditions on one argument into one rule per
// condition (runc#2735); here they must all hold, as the OCI spec says.
// And libseccomp drops a syscall's conditional rules when an
// unconditional one for it follows (db.c: "syscall exists with chains
// but the new filter has no chains"), and runc a rule whose action is
// the default's; here the first that matches wins. Rules nsup adds are
// written to read the same both ways (planner.HostRefusals).
func Compile(s *specs.LinuxSeccomp, goarch string) ([]Instruction, error) {
	c, table, err := newCompiler(s, goarch)
	if err != nil {
		return nil, err
	}
	c.sections(table, c.section)
	// The rets and blocks of every section, shared: an x32 and an i386
	// nr with the same rules (32-bit arguments both) lead to one block.
	// The rets first: the searches' leaves jump there more often than to
	// blocks, and a jump further than 255 costs a trampoline.
	for _, r := range c.rets {
		c.place(r.label)
		c.ret(r.ret)
	}
	for _, b := range c.blocks {
		c.place(b.label)
		c.block(b)
	}
	return c.assemble()
}

// newCompiler checks s for goarch and returns a compiler for it, and the
// ABIs of goarch.
func newCompiler(s *specs.LinuxSeccomp, goarch string) (*compiler, []abi, error) {
	p, table, err := check(s, goarch)
	if err != nil {
		return nil, nil, err
	}
	// Sized for Docker's default profile (about 900 ops for amd64 before
	// argument searches); a section has at most two ABIs, a name a
	// number or two in each.
	names := 0
	for _, r := range p.rules {
		names += len(r.names)
	}
	return &compiler{
		p:    p,
		ops:  make([]op, 0, 1024),
		uses: make([]uint64, 0, 4*names+64),
		ivs:  make([]interval, 0, 256),
	}, table, nil
}

// sections emits the test of the audit arch, then a section per audit
// arch that a listed ABI uses, in table order (section).
func (c *compiler) sections(table []abi, section func([]owner)) {
	var audits []uint32
	for _, a := range table {
		if c.p.isListed(a.name) && !slices.Contains(audits, a.tab.audit) {
			audits = append(audits, a.tab.audit)
		}
	}
	c.ld(offArch)
	starts := make([]label, len(audits))
	for i, id := range audits {
		starts[i] = c.newLabel()
		c.jmp(opJeq, id, starts[i], 0)
	}
	c.ret(unix.SECCOMP_RET_KILL_PROCESS)
	for i, id := range audits {
		var owners []owner
		for _, a := range table {
			if a.tab.audit == id {
				owners = append(owners, owner{abi: a, listed: c.p.isListed(a.name)})
			}
		}
		c.place(starts[i])
		section(owners)
	}
}

func (p *profile) isListed(a specs.Arch) bool { return slices.Contains(p.listed, a) }

// An owner is an ABI of the section being compiled.
type owner struct {
	abi
	listed bool // else its nr range gets the default action (e.g. x32 unlisted)
	// uses are nr<<32 | rule index, for each nr a rule names, sorted: by
	// nr, then in profile order. One sort instead of a map of chains per
	// nr: nr is sparse (arm's private syscalls are at 0xf0001…).
	uses []uint64
	cur  int    // the first of uses at or after the nr being decided
	stub uint64 // first nr of the ENOSYS range, 0 for none
}

func useNr(u uint64) uint64  { return u >> 32 }
func useRule(u uint64) int32 { return int32(uint32(u)) }

// An outcome is what one nr leads to: a ret, or block blk (1-based).
type outcome struct {
	ret uint32
	blk int
}

// A block is the code of a chain of conditional rules, shared by every nr
// whose chain compiles the same.
type block struct {
	label label
	chain []uint64 // uses (of one nr)
	wide  bool
}

type interval struct {
	lo uint32 // up to the next interval's lo
	o  outcome
}

// section emits the search over nr for the ABIs sharing one audit arch.
func (c *compiler) section(owners []owner) {
	ivs := c.intervals(owners)
	c.ld(offNr)
	c.tree(ivs, c.target)
}

// intervals returns the nrs of the ABIs sharing one audit arch as
// intervals of one outcome, neighbours different, the first at 0.
func (c *compiler) intervals(owners []owner) []interval {
	// The intervals are reused from section to section; uses are kept
	// (the blocks' chains are parts of them) until the program ends.
	c.ivs = c.ivs[:0]
	for i := range owners {
		w := &owners[i]
		if !w.listed {
			continue
		}
		f := finder{t: w.tab}
		start := len(c.uses)
		for ri := range c.p.rules {
			for _, name := range c.p.rules[ri].names {
				for _, s := range f.lookup(name) {
					c.uses = append(c.uses, uint64(s.nr|w.tab.mask)<<32|uint64(ri))
				}
			}
		}
		slices.Sort(c.uses[start:])
		// Compact: a rule naming a syscall twice.
		c.uses = c.uses[:start+len(slices.Compact(c.uses[start:]))]
		w.uses = c.uses[start:len(c.uses):len(c.uses)]
		// runc's ENOSYS stub (libcontainer/seccomp/patchbpf): a syscall
		// newer than every one the profile names gets ENOSYS, not the
		// default action, so that libc falls back to an older one (clone3
		// to clone, statx to stat…) instead of failing on EPERM. Only
		// with a denying default: under ALLOW, LOG and TRACE (runc's
		// isAllowAction) the kernel's own ENOSYS shows, or the tracer's;
		// a LOG profile naming one old call had openat ENOSYS otherwise
		// (and did with nsup's host IPC refusals added to one naming none).
		if act := c.p.deflt & unix.SECCOMP_RET_ACTION_FULL; act != unix.SECCOMP_RET_ALLOW && act != unix.SECCOMP_RET_LOG && act != unix.SECCOMP_RET_TRACE && len(w.uses) > 0 {
			w.stub = useNr(w.uses[len(w.uses)-1]) + 1
		}
	}
	// The outcome changes only at 0, an ABI's lo, a named nr or the one
	// after it, or a stub: walk those points in order, each owner's uses
	// with a cursor, and merge neighbours that share an outcome.
	ivs := c.ivs
	for n := uint64(0); n <= math.MaxUint32; {
		o := outcome{ret: c.p.deflt}
		next := uint64(math.MaxUint64)
		for i := range owners {
			w := &owners[i]
			for w.cur < len(w.uses) && useNr(w.uses[w.cur]) < n {
				w.cur++
			}
			end := w.cur
			for end < len(w.uses) && useNr(w.uses[end]) == n {
				end++
			}
			if end > w.cur {
				next = min(next, n+1)
			} else if end < len(w.uses) {
				next = min(next, useNr(w.uses[end]))
			}
			if uint64(w.lo) > n {
				next = min(next, uint64(w.lo))
			}
			if w.stub > n {
				next = min(next, w.stub)
			}
			if uint32(n) < w.lo || uint32(n) > w.hi || !w.listed {
				continue
			}
			if end > w.cur {
				o = c.decide(w.uses[w.cur:end], w.wide)
			} else if w.stub != 0 && n >= w.stub {
				o = outcome{ret: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)}
			}
		}
		if len(ivs) == 0 || ivs[len(ivs)-1].o != o {
			ivs = append(ivs, interval{uint32(n), o})
		}
		n = next
	}
	c.ivs = ivs
	return ivs
}

// decide turns the rules naming one nr (its uses) into an outcome;
// chains that compile the same share one block: same rets and conditions
// (as rule.same), whichever rules they come from.
func (c *compiler) decide(chain []uint64, wide bool) outcome {
	// Rules after one without conditions never match.
	for i, u := range chain {
		if len(c.p.rules[useRule(u)].args) == 0 {
			chain = chain[:i+1]
			break
		}
	}
	if r := &c.p.rules[useRule(chain[0])]; len(r.args) == 0 {
		return outcome{ret: r.ret}
	}
	// A linear search: a profile has few conditional chains (Docker's, a
	// dozen), and most nrs end above with an unconditional rule.
	for i, b := range c.blocks {
		if b.wide == wide && slices.EqualFunc(b.chain, chain, func(x, y uint64) bool {
			return c.p.rules[useRule(x)].same(&c.p.rules[useRule(y)])
		}) {
			return outcome{blk: i + 1}
		}
	}
	// chain is a part of the owner's uses, unchanged until the section
	// is emitted.
	c.blocks = append(c.blocks, block{c.newLabel(), chain, wide})
	return outcome{blk: len(c.blocks)}
}

// target is the label an outcome starts at.
func (c *compiler) target(o outcome) label {
	if o.blk > 0 {
		return c.blocks[o.blk-1].label
	}
	for _, r := range c.rets {
		if r.ret == o.ret {
			return r.label
		}
	}
	c.rets = append(c.rets, retLabel{o.ret, c.newLabel()})
	return c.rets[len(c.rets)-1].label
}

// tree emits a search over sorted intervals (A holds the value), leaves
// jumping to target. A value alone in its interval between two of one
// outcome is an exception of the interval the three make (a jeq at its
// leaf, instead of two jge in the search); the leaves are searched by a
// jge per inner node, so a lookup costs log2(len(leaves)) and the
// exceptions of its leaf.
func (c *compiler) tree(ivs []interval, target func(outcome) label) {
	leaves := make([]leaf, 0, len(ivs))
	var excs []interval
	for i := 0; i < len(ivs); i++ {
		iv := ivs[i]
		if n := len(leaves); n > 0 && i+1 < len(ivs) && ivs[i+1].lo == iv.lo+1 && ivs[i+1].o == leaves[n-1].o {
			excs = append(excs, iv)
			leaves[n-1].exc++
			i++ // the next interval is the leaf's again
			continue
		}
		leaves = append(leaves, leaf{lo: iv.lo, o: iv.o})
	}
	// Each leaf's exceptions, in order.
	for i, at := range leaves {
		leaves[i].excs, excs = excs[:at.exc:at.exc], excs[at.exc:]
	}
	c.search(leaves, target)
}

// A leaf is an interval of the search: from lo, outcome o but for the
// values of excs (intervals of one value).
type leaf struct {
	lo   uint32
	o    outcome
	exc  int
	excs []interval
}

func (c *compiler) search(ls []leaf, target func(outcome) label) {
	if len(ls) == 1 {
		c.leaf(ls[0], target)
		return
	}
	l, r := ls[:len(ls)/2], ls[len(ls)/2:]
	k := r[0].lo
	// A side that is one leaf without exceptions is a jump target; any
	// other needs code: the jump falls through to one side's, or jumps
	// to the other's label.
	lone := func(side []leaf) bool { return len(side) == 1 && len(side[0].excs) == 0 }
	switch {
	case lone(l) && lone(r):
		c.jmp(opJge, k, target(r[0].o), target(l[0].o))
	case lone(l):
		c.jmp(opJge, k, 0, target(l[0].o))
		c.search(r, target)
	case lone(r):
		c.jmp(opJge, k, target(r[0].o), 0)
		c.search(l, target)
	default:
		right := c.newLabel()
		c.jmp(opJge, k, right, 0)
		c.search(l, target)
		c.place(right)
		c.search(r, target)
	}
}

// leaf emits a leaf's code: its exceptions' tests, the last of which
// jumps to the leaf's outcome; without any, a ret (or a jump to a
// block), for a search of one leaf.
func (c *compiler) leaf(lf leaf, target func(outcome) label) {
	if len(lf.excs) == 0 {
		if lf.o.blk == 0 {
			c.ret(lf.o.ret)
		} else {
			c.ja(target(lf.o))
		}
		return
	}
	for i, e := range lf.excs {
		f := label(0)
		if i == len(lf.excs)-1 {
			f = target(lf.o)
		}
		c.jmp(opJeq, e.lo, target(e.o), f)
	}
}

// same: r and o compile to the same code.
func (r *rule) same(o *rule) bool {
	return r == o || r.ret == o.ret && slices.Equal(r.args, o.args)
}
