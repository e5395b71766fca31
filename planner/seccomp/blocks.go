package seccomp

// The code of a syscall's conditional rules: each rule's conditions in turn, or a search over the one argument they all test.

import (
	"math"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// block emits the code of a chain of conditional rules: the rules in
// order, each's conditions then its ret; or, when every condition of the
// chain compares one argument (argIntervals), a search over that
// argument's values, whichever is shorter.
func (c *compiler) block(b block) {
	start := len(c.ops)
	c.rules(b)
	idx, ivs, ok := c.argIntervals(b.chain, b.wide)
	if !ok {
		return
	}
	rules := insns(c.ops[start:])
	c.ops = c.ops[:start]
	c.argSearch(idx, ivs, b.wide)
	if insns(c.ops[start:]) > rules {
		c.ops = c.ops[:start]
		c.rules(b)
	}
}

// insns is the instructions ops take before assemble adds trampolines.
func insns(ops []op) int {
	n := 0
	for i := range ops {
		n += int(ops[i].size())
	}
	return n
}

// rules emits a chain rule by rule: a rule's conditions, each a jump to
// the next rule when it fails, then the rule's ret.
func (c *compiler) rules(b block) {
	for _, u := range b.chain {
		r := &c.p.rules[useRule(u)]
		next := c.newLabel()
		for _, a := range r.args {
			c.arg(a, b.wide, next)
		}
		c.ret(r.ret)
		c.place(next)
	}
	if len(c.p.rules[useRule(b.chain[len(b.chain)-1])].args) > 0 {
		c.ret(c.p.deflt)
	}
}

// intervalOps are the operators whose condition holds for an interval of
// values, or two (all but SCMP_CMP_MASKED_EQ).
var intervalOps = []specs.LinuxSeccompOperator{specs.OpEqualTo, specs.OpNotEqual,
	specs.OpLessThan, specs.OpLessEqual, specs.OpGreaterThan, specs.OpGreaterEqual}

// An argInterval is the values of an argument from lo up to the next
// interval's lo, which all get ret.
type argInterval struct {
	lo  uint64
	ret uint32
}

// argIntervals: when every condition of the chain compares one argument
// with a value (no mask), the chain's ret is a function of that argument
// alone, which changes only at an operand or the value after it. It
// returns the argument and its values as intervals of one ret (neighbours
// differ), from 0 to the largest value: 64-bit for a wide ABI, else the
// low word, compared with the operand's low word (as arg does).
func (c *compiler) argIntervals(chain []uint64, wide bool) (idx uint, ivs []argInterval, ok bool) {
	top := uint64(math.MaxUint64)
	if !wide {
		top = math.MaxUint32
	}
	operand := func(a *specs.LinuxSeccompArg) uint64 { return a.Value & top }
	// The first rule without conditions ends the chain (decide).
	points := []uint64{0}
	first := true
	for _, u := range chain {
		for i := range c.p.rules[useRule(u)].args {
			a := &c.p.rules[useRule(u)].args[i]
			switch {
			case !slices.Contains(intervalOps, a.Op):
				return 0, nil, false
			case first:
				idx, first = a.Index, false
			case a.Index != idx:
				return 0, nil, false
			}
			v := operand(a)
			points = append(points, v)
			if v < top {
				points = append(points, v+1)
			}
		}
	}
	if first {
		return 0, nil, false
	}
	slices.Sort(points)
	points = slices.Compact(points)
	holds := func(a *specs.LinuxSeccompArg, x uint64) bool {
		v := operand(a)
		switch a.Op {
		case specs.OpEqualTo:
			return x == v
		case specs.OpNotEqual:
			return x != v
		case specs.OpLessThan:
			return x < v
		case specs.OpLessEqual:
			return x <= v
		case specs.OpGreaterThan:
			return x > v
		case specs.OpGreaterEqual:
			return x >= v
		}
		return false // not one of intervalOps, refused above
	}
	// Each point's ret holds up to the next point: no condition changes
	// between them.
	for _, x := range points {
		ret := c.p.deflt
	rules:
		for _, u := range chain {
			r := &c.p.rules[useRule(u)]
			for i := range r.args {
				if !holds(&r.args[i], x) {
					continue rules
				}
			}
			ret = r.ret
			break
		}
		if len(ivs) == 0 || ivs[len(ivs)-1].ret != ret {
			ivs = append(ivs, argInterval{x, ret})
		}
	}
	return idx, ivs, true
}

// argSearch emits a search over the argument's intervals, leaves
// returning their ret. A wide argument is searched by its high word
// first; a high word under which the ret changes is then searched by the
// low word.
func (c *compiler) argSearch(idx uint, ivs []argInterval, wide bool) {
	off := offArgs + 8*uint32(idx)
	var rets []retLabel
	target := func(ret uint32) label {
		for _, r := range rets {
			if r.ret == ret {
				return r.label
			}
		}
		rets = append(rets, retLabel{ret, c.newLabel()})
		return rets[len(rets)-1].label
	}
	if len(ivs) == 1 {
		c.ret(ivs[0].ret)
		return
	}
	// low is the search by the low word of the values from hi<<32 on.
	low := func(from int, hi uint32) {
		var words []interval
		for k := from; k < len(ivs) && (k == from || ivs[k].lo>>32 == uint64(hi)); k++ {
			lo := uint32(ivs[k].lo)
			if k == from {
				lo = 0
			}
			words = append(words, interval{lo, outcome{ret: ivs[k].ret}})
		}
		c.ld(off)
		c.tree(words, func(o outcome) label { return target(o.ret) })
	}
	if !wide {
		low(0, 0)
	} else {
		// By high word: a ret for all of its values, or (blk k) a search
		// by the low word, from interval subs[k-1].
		type sub struct {
			label label
			from  int
			hi    uint32
		}
		var subs []sub
		var words []interval
		add := func(hi uint32, o outcome) {
			if len(words) == 0 || words[len(words)-1].o != o || o.blk != 0 {
				words = append(words, interval{hi, o})
			}
		}
		for k := 0; k < len(ivs); {
			hi := uint32(ivs[k].lo >> 32)
			// The intervals that start under hi after the one holding
			// hi<<32 (which is k, or k-1 if k starts past hi<<32).
			from := k
			if uint32(ivs[k].lo) != 0 {
				from = k - 1
			}
			end := k
			for end < len(ivs) && uint32(ivs[end].lo>>32) == hi {
				end++
			}
			if from == end-1 {
				// One interval for all of hi's values.
				add(hi, outcome{ret: ivs[from].ret})
			} else {
				subs = append(subs, sub{c.newLabel(), from, hi})
				add(hi, outcome{blk: len(subs)})
				if hi < math.MaxUint32 && (end == len(ivs) || ivs[end].lo>>32 > uint64(hi)+1) {
					// The values above hi, up to the next interval.
					add(hi+1, outcome{ret: ivs[end-1].ret})
				}
			}
			k = end
		}
		c.ld(off + 4)
		c.tree(words, func(o outcome) label {
			if o.blk > 0 {
				return subs[o.blk-1].label
			}
			return target(o.ret)
		})
		for _, s := range subs {
			c.place(s.label)
			low(s.from, s.hi)
		}
	}
	for _, r := range rets {
		c.place(r.label)
		c.ret(r.ret)
	}
}

// arg emits one 64-bit comparison (seccomp_rule_add(3), "SCMP_CMP_*";
// unsigned, as libseccomp compares): fall through when it holds, jump to
// fail when not. High word first: it decides unless equal.
func (c *compiler) arg(a specs.LinuxSeccompArg, wide bool, fail label) {
	off := offArgs + 8*uint32(a.Index)
	hi, pass := uint32(a.Value>>32), label(0)
	if a.Op == specs.OpMaskedEqual && a.Value>>32 == 0 && a.ValueTwo>>32 == 0 {
		wide = false // (hi & 0) == 0 holds
	}
	if wide {
		c.ld(off + 4)
		switch a.Op {
		case specs.OpEqualTo:
			c.jmp(opJeq, hi, 0, fail)
		case specs.OpNotEqual:
			pass = c.newLabel()
			c.jmp(opJeq, hi, 0, pass)
		case specs.OpMaskedEqual:
			c.emit(opAnd, hi)
			c.jmp(opJeq, uint32(a.ValueTwo>>32), 0, fail)
		case specs.OpGreaterThan, specs.OpGreaterEqual:
			pass = c.newLabel()
			c.jmp(opJgt, hi, pass, 0)
			c.jmp(opJeq, hi, 0, fail)
		case specs.OpLessThan, specs.OpLessEqual:
			pass = c.newLabel()
			c.jmp(opJgt, hi, fail, 0)
			c.jmp(opJeq, hi, 0, pass)
		}
	}
	c.ld(off)
	lo := uint32(a.Value)
	switch a.Op {
	case specs.OpEqualTo:
		c.jmp(opJeq, lo, 0, fail)
	case specs.OpNotEqual:
		c.jmp(opJeq, lo, fail, 0)
	case specs.OpGreaterThan:
		c.jmp(opJgt, lo, 0, fail)
	case specs.OpGreaterEqual:
		c.jmp(opJge, lo, 0, fail)
	case specs.OpLessThan:
		c.jmp(opJge, lo, fail, 0)
	case specs.OpLessEqual:
		c.jmp(opJgt, lo, fail, 0)
	case specs.OpMaskedEqual:
		c.emit(opAnd, lo)
		c.jmp(opJeq, uint32(a.ValueTwo), 0, fail)
	}
	if pass != 0 {
		c.place(pass)
	}
}
