package seccomp

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"

	"golang.org/x/sys/unix"
)

// Instruction is one struct sock_filter (linux/filter.h), as the kernel takes it.
type Instruction struct {
	Code   uint16
	Jt, Jf uint8
	K      uint32
}

// The opcodes the program uses (linux/bpf_common.h), K operands only.
const (
	opLdW  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS  // A = seccomp_data[k]
	opAnd  = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K // A &= k
	opJeq  = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K // A == k ? jt : jf
	opJgt  = unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K // A > k, unsigned
	opJge  = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K // A >= k, unsigned
	opJa   = unix.BPF_JMP | unix.BPF_JA               // skip k
	opRetK = unix.BPF_RET | unix.BPF_K                // return k
)

// The compiler emits ops with symbolic jump targets; assemble lays them
// out. Ops are plain values, not x/net/bpf Instructions: boxing those in
// an interface costs an allocation per instruction.
type compiler struct {
	p       *profile
	ops     []op
	nlabels label

	// Per section, reused from one to the next (section).
	blocks []block
	rets   []retLabel
	uses   []uint64 // the owners' uses
	ivs    []interval
}

type retLabel struct {
	ret   uint32
	label label
}

// A label names a place in the program; 0 is the next instruction. int32,
// as op's fields: an op is 24 bytes, and Docker's profile takes 900.
type label int32

const (
	kIns   = iota // code k
	kJmp          // conditional code k: to t if true, f if false
	kJa           // unconditional, to t
	kLabel        // marks label t here
)

type op struct {
	kind uint8
	far  [2]bool // t, f: out of a conditional jump's reach (assemble)
	code uint16
	k    uint32
	t, f label
	pos  int32 // assemble: the instructions from o's first to the end
}

func (c *compiler) newLabel() label { c.nlabels++; return c.nlabels }
func (c *compiler) place(l label)   { c.ops = append(c.ops, op{kind: kLabel, t: l}) }
func (c *compiler) emit(code uint16, k uint32) {
	c.ops = append(c.ops, op{kind: kIns, code: code, k: k})
}
func (c *compiler) ld(off uint32) { c.emit(opLdW, off) }
func (c *compiler) ret(k uint32)  { c.emit(opRetK, k) }
func (c *compiler) ja(t label)    { c.ops = append(c.ops, op{kind: kJa, t: t}) }
func (c *compiler) jmp(code uint16, k uint32, t, f label) {
	c.ops = append(c.ops, op{kind: kJmp, code: code, k: k, t: t, f: f})
}

// size is the number of instructions o takes: a conditional jump is
// followed by a `ja` per far branch.
func (o *op) size() int32 {
	switch o.kind {
	case kLabel:
		return 0
	case kJmp:
		n := int32(1)
		for _, f := range o.far {
			if f {
				n++
			}
		}
		return n
	}
	return 1
}

// assemble resolves labels. A conditional jump reaches at most 255
// instructions ahead (jt/jf are 8-bit); a branch that cannot is sent to a
// `ja` (32-bit offset) placed right after the jump, which lengthens the
// code between earlier jumps and their targets. All jumps are forward, so
// whether a branch is far depends only on the code after it: one pass
// from the end decides each jump against final code. It marks the least
// set of far branches that leaves none out of reach, as laying out again
// and again until no branch is newly out of reach would, in a fraction of
// the time.
func (c *compiler) assemble() ([]Instruction, error) {
	// end[l]: the instructions from label l to the end of the program;
	// -1 until placed. o.pos: from op o's first one to the end.
	end := make([]int32, c.nlabels+1)
	for i := range end {
		end[i] = -1
	}
	tail := int32(0) // the instructions after the op
	for i := len(c.ops) - 1; i >= 0; i-- {
		o := &c.ops[i]
		switch o.kind {
		case kLabel:
			end[o.t] = tail
		case kJa:
			if end[o.t] < 0 {
				return nil, errors.New("seccomp: internal error: backward jump")
			}
		case kJmp:
			// Until neither changes: one branch's `ja` lengthens the other.
			for grown := true; grown; {
				grown = false
				for b, l := range [2]label{o.t, o.f} {
					if l == 0 || o.far[b] {
						continue
					}
					if end[l] < 0 {
						return nil, errors.New("seccomp: internal error: backward jump")
					}
					// Skipped: the jump's own `ja`s and what lies between.
					if o.size()-1+tail-end[l] > math.MaxUint8 {
						o.far[b], grown = true, true
					}
				}
			}
		}
		tail += o.size()
		o.pos = tail
	}
	n := tail
	if n > maxInsns {
		return nil, fmt.Errorf("seccomp program has %d instructions, more than BPF_MAXINSNS (%d)", n, maxInsns)
	}
	prog := make([]Instruction, 0, n)
	for i := range c.ops {
		o := &c.ops[i]
		next := n - o.pos + 1 // the instruction after o's first
		at := func(l label) int32 { return n - end[l] }
		switch o.kind {
		case kIns:
			prog = append(prog, Instruction{Code: o.code, K: o.k})
		case kJa:
			prog = append(prog, Instruction{Code: opJa, K: uint32(at(o.t) - next)})
		case kJmp:
			var skip [2]int32
			var tramps [2]Instruction
			nt := int32(0)
			for b, l := range [2]label{o.t, o.f} {
				switch {
				case o.far[b]:
					// The nt-th ja after the jump, at next+nt, skips from next+nt+1.
					skip[b] = nt
					tramps[nt] = Instruction{Code: opJa, K: uint32(at(l) - (next + nt + 1))}
					nt++
				case l == 0:
					skip[b] = o.size() - 1
				default:
					skip[b] = at(l) - next
				}
			}
			prog = append(prog, Instruction{Code: o.code, Jt: uint8(skip[0]), Jf: uint8(skip[1]), K: o.k})
			prog = append(prog, tramps[:nt]...)
		}
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
