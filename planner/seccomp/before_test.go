package seccomp

// Compile as it was before the searches over argument values, the
// exceptions of a search's leaves and the rets and blocks shared by the
// sections (commit f018e48), for TestSameAsBefore's random profiles: the
// same intervals of nr, each section followed by its rets and blocks, a
// search of jge only, each block's rules in turn.

import specs "github.com/opencontainers/runtime-spec/specs-go"

func compileBefore(s *specs.LinuxSeccomp, goarch string) ([]Instruction, error) {
	c, table, err := newCompiler(s, goarch)
	if err != nil {
		return nil, err
	}
	c.sections(table, c.sectionBefore)
	return c.assemble()
}

func (c *compiler) sectionBefore(owners []owner) {
	c.blocks, c.rets = c.blocks[:0], c.rets[:0]
	ivs := c.intervals(owners)
	c.ld(offNr)
	c.treeBefore(ivs)
	for _, r := range c.rets {
		c.place(r.label)
		c.ret(r.ret)
	}
	for _, b := range c.blocks {
		c.place(b.label)
		c.rules(b)
	}
}

func (c *compiler) treeBefore(ivs []interval) {
	if len(ivs) == 1 {
		if ivs[0].o.blk == 0 {
			c.ret(ivs[0].o.ret)
		} else {
			c.ja(c.target(ivs[0].o))
		}
		return
	}
	l, r := ivs[:len(ivs)/2], ivs[len(ivs)/2:]
	k := r[0].lo
	switch {
	case len(l) == 1 && len(r) == 1:
		c.jmp(opJge, k, c.target(r[0].o), c.target(l[0].o))
	case len(l) == 1:
		c.jmp(opJge, k, 0, c.target(l[0].o))
		c.treeBefore(r)
	case len(r) == 1:
		c.jmp(opJge, k, c.target(r[0].o), 0)
		c.treeBefore(l)
	default:
		right := c.newLabel()
		c.jmp(opJge, k, right, 0)
		c.treeBefore(l)
		c.place(right)
		c.treeBefore(r)
	}
}
