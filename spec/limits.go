package spec

import (
	"math"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Limits are an environment's resource limits (`limits:`), enforced by a
// cgroup of its own; each is nil when not written.
type Limits struct {
	Pos Pos // position of the `limits` key
	// Memory in bytes (512M); MemorySwap is memory and swap together, as
	// compose's memswap_limit, or Unlimited; not written, it is Memory
	// (no swap beyond the memory limit: the planner's default).
	Memory, MemorySwap *Limit
	// Pids is the most processes and threads at once, or Unlimited;
	// DefaultPids when not written.
	Pids *Limit
	// CPU is in cores (1.5: one and a half CPUs' time per period).
	CPU *Limit
	// CPUWeight and IOWeight are relative shares, 1 to 10000 (100 is the
	// default of every group).
	CPUWeight, IOWeight *Limit
}

// Limit is one limit: N in the kernel's unit (bytes, a count, a weight;
// Unlimited for "unlimited"), Cores for cpu, as written (Text) and where.
type Limit struct {
	N     int64
	Cores float64
	Text  string
	Pos   Pos
}

// Unlimited is a limit of "unlimited".
const Unlimited = -1

// DefaultPids is the pids limit of an environment whose spec sets none
// (podman's default): a fork bomb stops there. `pids: unlimited` turns it
// off.
const DefaultPids = 2048

// MinPids is the least pids limit: every task of the environment counts,
// nsup's init's threads (a Go program's, about ten) among them.
const MinPids = 32

// MinMemory is the least memory limit (Docker's): below it a process
// can hardly start.
const MinMemory = 6 << 20

// LimitKeys are the keys of `limits`.
var LimitKeys = []string{"memory", "memory_swap", "pids", "cpu", "cpu_weight", "io_weight"}

// limits decodes `limits: {memory: 512M, memory_swap: 1G, pids: 256,
// cpu: 1.5, cpu_weight: 100, io_weight: 100}`.
func (d *decoder) limits(n *yaml.Node, key *yaml.Node, at string) *Limits {
	f, ok := d.fields(n, at, LimitKeys...)
	if !ok {
		return nil
	}
	l := &Limits{Pos: pos(key)}
	if v, ok := f.get("memory"); ok {
		l.Memory = d.limitSize(v.val, at+".memory", false)
		if l.Memory != nil && l.Memory.N < MinMemory {
			d.errorf(v.val, at+".memory", "must be at least 6M, got %s", l.Memory.Text)
			l.Memory = nil
		}
	}
	if v, ok := f.get("memory_swap"); ok {
		l.MemorySwap = d.limitSize(v.val, at+".memory_swap", true)
		switch {
		case l.MemorySwap == nil:
		case l.Memory == nil:
			if _, set := f.get("memory"); !set {
				d.errorf(v.val, at+".memory_swap", "memory_swap is memory and swap together: it needs memory too")
			}
		case l.MemorySwap.N != Unlimited && l.MemorySwap.N < l.Memory.N:
			d.errorf(v.val, at+".memory_swap", "memory_swap (%s) is memory and swap together: it must be at least memory (%s)", l.MemorySwap.Text, l.Memory.Text)
		}
	}
	if v, ok := f.get("pids"); ok {
		l.Pids = d.limitCount(v.val, at+".pids", 1, math.MaxInt32, true)
		if l.Pids != nil && l.Pids.N != Unlimited && l.Pids.N < MinPids {
			d.errorf(v.val, at+".pids", "must be at least %d, got %d: nsup's init and its threads count too, and so does the thread that creates the environment while it does", MinPids, l.Pids.N)
			l.Pids = nil
		}
	}
	if v, ok := f.get("cpu"); ok {
		l.CPU = d.limitCores(v.val, at+".cpu")
	}
	if v, ok := f.get("cpu_weight"); ok {
		l.CPUWeight = d.limitCount(v.val, at+".cpu_weight", 1, 10000, false)
	}
	if v, ok := f.get("io_weight"); ok {
		l.IOWeight = d.limitCount(v.val, at+".io_weight", 1, 10000, false)
	}
	return l
}

// isUnlimited reports whether n is the string "unlimited".
func isUnlimited(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" && n.Value == "unlimited"
}

// limitSize is a size (an integer of bytes, or 512M), or "unlimited" if
// unlimited is allowed.
func (d *decoder) limitSize(n *yaml.Node, at string, unlimited bool) *Limit {
	if unlimited && isUnlimited(n) {
		return &Limit{N: Unlimited, Text: n.Value, Pos: pos(n)}
	}
	text, v := d.size(n, at)
	if text == "" {
		return nil
	}
	return &Limit{N: v, Text: text, Pos: pos(n)}
}

// limitCount is an integer from min to max, or "unlimited" if allowed.
func (d *decoder) limitCount(n *yaml.Node, at string, min, max int64, unlimited bool) *Limit {
	if unlimited && isUnlimited(n) {
		return &Limit{N: Unlimited, Text: n.Value, Pos: pos(n)}
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		if unlimited {
			d.errorf(n, at, "must be an integer or \"unlimited\", got %s", describe(n))
		} else {
			d.errorf(n, at, "must be an integer, got %s", describe(n))
		}
		return nil
	}
	v, ok := d.integer(n, at)
	if !ok {
		return nil
	}
	if v < min || v > max {
		d.errorf(n, at, "must be from %d to %d, got %d", min, max, v)
		return nil
	}
	return &Limit{N: v, Text: strconv.FormatInt(v, 10), Pos: pos(n)}
}

// limitCores is a number of CPUs, 0.01 or more, with at most two decimals
// (compose's cpus).
func (d *decoder) limitCores(n *yaml.Node, at string) *Limit {
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") {
		d.errorf(n, at, "must be a number of CPUs such as 1.5, got %s", describe(n))
		return nil
	}
	v, err := strconv.ParseFloat(n.Value, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		d.errorf(n, at, "must be a number of CPUs such as 1.5, got %s", describe(n))
		return nil
	}
	if v < 0.01 || v > 1024 {
		d.errorf(n, at, "must be from 0.01 to 1024 CPUs, got %s", n.Value)
		return nil
	}
	if math.Abs(v*100-math.Round(v*100)) > 1e-9 {
		d.errorf(n, at, "must have at most two decimals (hundredths of a CPU), got %s", n.Value)
		return nil
	}
	return &Limit{Cores: v, Text: n.Value, Pos: pos(n)}
}
