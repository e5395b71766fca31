package cgroup

import (
	"fmt"
	"io/fs"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Limits are an environment's limits, in the kernel's units. A zero field
// is not set; Unlimited says "no limit" where a default would apply.
// MemorySwap's default, with Memory set, is Memory: no swap beyond the
// memory limit, where the host accounts swap (Place leaves it out, and
// says so in a Group's Notes, where it does not).
type Limits struct {
	Memory     int64   // bytes
	MemorySwap int64   // bytes of memory and swap together, or Unlimited
	Pids       int64   // or Unlimited
	CPU        float64 // cores
	CPUWeight  uint64  // 1..10000
	IOWeight   uint64  // 1..10000
}

// Unlimited is a limit of "no limit".
const Unlimited = -1

// Period is the CPU period nsup sets (cpu.max, cpu.cfs_period_us): 100 ms,
// the kernel's default.
const Period = 100000

// Controller names, as cgroup v2 has them (v1's io is blkio).
const (
	Memory = "memory"
	Pids   = "pids"
	CPU    = "cpu"
	IO     = "io"
)

// Needs is the controllers l needs, in a fixed order.
func (l Limits) Needs() []string {
	var n []string
	if l.Memory != 0 || l.MemorySwap != 0 {
		n = append(n, Memory)
	}
	if l.Pids != 0 {
		n = append(n, Pids)
	}
	if l.CPU != 0 || l.CPUWeight != 0 {
		n = append(n, CPU)
	}
	if l.IOWeight != 0 {
		n = append(n, IO)
	}
	return n
}

// Group is one group nsup makes for an environment.
type Group struct {
	Dir     string // "/sys/fs/cgroup/memory/nsup/web"
	Home    string // nsup's own group there: "/sys/fs/cgroup/memory"
	Unified bool   // cgroup v2
	// Controllers are those whose files are written there (v2 names).
	Controllers []string
	// Notes say what of a default limit the group leaves out, and why
	// (no swap limit where the host does not account swap).
	Notes []string
}

// Write is one file nsup writes.
type Write struct {
	Controller string // v2 name; "" for cgroup.subtree_control
	Path       string
	Value      string
	dflt       bool // a default's: left out where the host has no such file
}

// NoController is the error for a controller the host does not give
// nsup, with what to do.
type NoController struct {
	Controller string
	Why        string
}

func (e *NoController) Error() string {
	return fmt.Sprintf("no %s controller nsup may use here: %s", e.Controller, e.Why)
}

// NoParent is the error for a configured parent group missing from a
// hierarchy nsup uses.
type NoParent struct {
	Parent, Dir string
	Controller  string // the controller that needs it, "" for the unified hierarchy
}

func (e *NoParent) Error() string {
	return fmt.Sprintf("%s=%s, but %s does not exist: make it (mkdir %s), or set %s to a group that exists in every hierarchy nsup uses", ParentEnv, e.Parent, e.Dir, e.Dir, ParentEnv)
}

// Place returns the groups of environment env (BASE/nsup/ENV in each
// hierarchy it uses, BASE being nsup's own group or the configured
// parent) and the files that set lim, in order: the unified group first
// (every environment has one where a cgroup2 hierarchy is mounted), then
// each v1 group. A controller goes to the unified hierarchy when the base
// group there already hands it to its children (cgroup.subtree_control),
// or, for a configured parent without processes of its own, can
// (cgroup.controllers: nsup enables it there); else to the v1 hierarchy
// that has it. Without a parent nsup changes no group it did not make.
func (l *Layout) Place(env string, lim Limits) ([]Group, []Write, error) {
	var groups []Group
	var writes []Write
	if u := l.Unified; u != nil {
		if err := l.parentThere(u); err != nil {
			return nil, nil, err
		}
		groups = append(groups, Group{Dir: path.Join(u.Dir(u.Base), "nsup", env), Home: u.Dir(u.Group), Unified: true})
	}
	at := map[string]int{} // controller → its group
	for _, c := range lim.Needs() {
		if u := l.Unified; u != nil && (slices.Contains(u.Delegated, c) || l.mayEnable(c)) {
			if !slices.Contains(u.Delegated, c) {
				writes = append(writes, Write{Path: path.Join(u.Dir(u.Base), "cgroup.subtree_control"), Value: "+" + c})
			}
			at[c] = 0
			groups[0].Controllers = append(groups[0].Controllers, c)
			continue
		}
		h := l.V1[v1Name(c)]
		if h == nil {
			return nil, nil, &NoController{Controller: c, Why: l.why(c)}
		}
		if err := l.parentThere(h); err != nil {
			err.Controller = c
			return nil, nil, err
		}
		dir := path.Join(h.Dir(h.Base), "nsup", env)
		i := slices.IndexFunc(groups, func(g Group) bool { return g.Dir == dir })
		if i < 0 {
			i = len(groups)
			groups = append(groups, Group{Dir: dir, Home: h.Dir(h.Group)})
		}
		at[c] = i
		groups[i].Controllers = append(groups[i].Controllers, c)
	}
	if len(groups) > 0 && groups[0].Unified {
		// nsup/ hands them on to the environment's group.
		for _, c := range groups[0].Controllers {
			writes = append(writes, Write{Path: path.Join(path.Dir(groups[0].Dir), "cgroup.subtree_control"), Value: "+" + c})
		}
	}
	for _, c := range lim.Needs() {
		g := groups[at[c]]
		ws := files(c, g.Dir, g.Unified, lim)
		if g.Unified {
			// A swap limit where the host accounts swap; the default
			// left out, and said, where it does not.
			for _, w := range ws {
				if path.Base(w.Path) != "memory.swap.max" {
					continue
				}
				if dir, ok := l.unifiedSwap(); !ok && !w.dflt {
					return nil, nil, &NoController{Controller: c, Why: fmt.Sprintf("the unified hierarchy has no memory.swap.max in %s (%s)", dir, v1Missing["memory.memsw.limit_in_bytes"])}
				} else if !ok {
					groups[at[c]].Notes = append(groups[at[c]].Notes, noSwap("the unified hierarchy", dir, "memory.swap.max"))
					ws = slices.DeleteFunc(ws, func(w Write) bool { return w.dflt })
				}
				break
			}
		} else {
			// Some v1 files depend on the kernel's options or the I/O
			// scheduler: such a file must be in the base group there (a
			// root group has it too, where the kernel has it).
			h := l.V1[v1Name(c)]
			for i, w := range ws {
				name := path.Base(w.Path)
				if _, optional := v1Missing[name]; !optional || l.has(h, name) {
					continue
				}
				if w.dflt {
					groups[at[c]].Notes = append(groups[at[c]].Notes, noSwap("the "+v1Name(c)+" hierarchy", h.Dir(h.Base), name))
					ws[i].Path = "" // left out below
					continue
				}
				if alt, ok := v1Alternatives[name]; ok && l.has(h, alt) {
					ws[i].Path = path.Join(path.Dir(w.Path), alt)
					if alt == "blkio.bfq.weight" {
						ws[i].Value = strconv.FormatUint(BFQWeight(lim.IOWeight), 10)
					}
					continue
				}
				return nil, nil, &NoController{Controller: c, Why: fmt.Sprintf("the %s hierarchy has no %s in %s (%s)", v1Name(c), name, h.Dir(h.Base), v1Missing[name])}
			}
			ws = slices.DeleteFunc(ws, func(w Write) bool { return w.Path == "" })
		}
		writes = append(writes, ws...)
	}
	return groups, writes, nil
}

// mayEnable says whether nsup may enable controller c for the children
// of the unified base group: a configured parent's, which has it and no
// process of its own.
func (l *Layout) mayEnable(c string) bool {
	u := l.Unified
	return l.Parent != "" && slices.Contains(u.Controllers, c) && !l.Busy()
}

// parentThere checks that the configured parent exists in h.
func (l *Layout) parentThere(h *Hierarchy) *NoParent {
	if l.Parent == "" || l.fsys == nil {
		return nil
	}
	dir := h.Dir(h.Base)
	if _, ok := below(h.Base, h.root); !ok {
		// A mount of a subtree that does not hold it (nsup in a
		// container): not to be reached there.
		return &NoParent{Parent: l.Parent, Dir: h.Mount + " (a mount of " + h.root + " only)"}
	}
	if _, err := fs.Stat(l.fsys, strings.TrimPrefix(dir, "/")); err != nil {
		return &NoParent{Parent: l.Parent, Dir: dir}
	}
	return nil
}

// why says why controller c has no place, and what would give it one.
func (l *Layout) why(c string) string {
	v := v1Name(c)
	u := l.Unified
	switch {
	case u != nil && l.Parent != "" && slices.Contains(u.Controllers, c) && l.Busy():
		return fmt.Sprintf("the unified hierarchy has it, but the parent group %s=%s has processes of its own, and cgroup v2 enables a controller only for the children of a group without any: choose a group without processes", ParentEnv, l.Parent)
	case u != nil && l.Parent != "":
		return fmt.Sprintf("the parent group %s=%s is not given it (its cgroup.controllers: %v): its own parent must enable it (+%s in %s)",
			ParentEnv, l.Parent, u.Controllers, c, path.Join(path.Dir(u.Dir(u.Base)), "cgroup.subtree_control"))
	case u != nil && slices.Contains(u.Controllers, c) && l.Busy():
		return fmt.Sprintf("the unified hierarchy has it, but nsup's group %s has processes (nsup among them), and cgroup v2 enables a controller only for the children of a group without any: set %s to a group without processes that has it (as root: mkdir %s; %s=/nsup.slice)",
			u.Group, ParentEnv, path.Join(u.Mount, "nsup.slice"), ParentEnv)
	case u != nil && slices.Contains(u.Controllers, c):
		return fmt.Sprintf("the unified hierarchy has it, but nsup's group %s does not hand it to its children (%s has no %s), and nsup enables no controller in a group it did not make: write +%s there, or set %s to a group that nsup may use",
			u.Group, path.Join(u.Dir(u.Group), "cgroup.subtree_control"), c, c, ParentEnv)
	case u != nil:
		return fmt.Sprintf("neither the unified hierarchy (%s, controllers: %v) nor a v1 hierarchy has it (mounted v1 controllers: %v)", u.Mount, u.Controllers, l.v1Names())
	default:
		return fmt.Sprintf("no v1 hierarchy has %s (mounted: %v) and no cgroup2 hierarchy is mounted", v, l.v1Names())
	}
}

func (l *Layout) v1Names() []string {
	var n []string
	for c := range l.V1 {
		n = append(n, c)
	}
	slices.Sort(n)
	return n
}

// v1Name is a controller's v1 name.
func v1Name(c string) string {
	if c == IO {
		return "blkio"
	}
	return c
}

// files are the writes that set lim's values for controller c in dir.
func files(c, dir string, unified bool, lim Limits) []Write {
	w := func(file, value string) Write { return Write{Controller: c, Path: path.Join(dir, file), Value: value} }
	var out []Write
	switch c {
	case Memory:
		if unified {
			if lim.Memory > 0 {
				out = append(out, w("memory.max", strconv.FormatInt(lim.Memory, 10)))
			}
			switch {
			case lim.MemorySwap == Unlimited:
				out = append(out, w("memory.swap.max", "max"))
			case lim.MemorySwap > 0:
				// v2 limits swap alone; the spec gives memory and swap together.
				out = append(out, w("memory.swap.max", strconv.FormatInt(lim.MemorySwap-lim.Memory, 10)))
			case lim.Memory > 0:
				// The default: no swap beyond the memory limit.
				d := w("memory.swap.max", "0")
				d.dflt = true
				out = append(out, d)
			}
		} else {
			if lim.Memory > 0 {
				// v1 counts the TCP buffers of a group's sockets apart,
				// and only once they have a limit (memory.max on v2
				// counts them): without it, root inside queued 1.5 GiB
				// in sockets under a 32M limit and pushed the host's TCP
				// into memory pressure (found by a review). The same
				// amount again, as runc's linux.resources.kernelTCP sets.
				m := strconv.FormatInt(lim.Memory, 10)
				out = append(out, w("memory.limit_in_bytes", m), w("memory.kmem.tcp.limit_in_bytes", m))
			}
			switch {
			case lim.MemorySwap == Unlimited:
				out = append(out, w("memory.memsw.limit_in_bytes", "-1"))
			case lim.MemorySwap > 0:
				out = append(out, w("memory.memsw.limit_in_bytes", strconv.FormatInt(lim.MemorySwap, 10)))
			case lim.Memory > 0:
				// The default: memory and swap together at the memory
				// limit (written after it: never below it).
				d := w("memory.memsw.limit_in_bytes", strconv.FormatInt(lim.Memory, 10))
				d.dflt = true
				out = append(out, d)
			}
		}
	case Pids:
		v := strconv.FormatInt(lim.Pids, 10)
		if lim.Pids == Unlimited {
			v = "max"
		}
		out = append(out, w("pids.max", v))
	case CPU:
		quota := int64(lim.CPU*Period + 0.5)
		if unified {
			if lim.CPU > 0 {
				out = append(out, w("cpu.max", fmt.Sprintf("%d %d", quota, Period)))
			}
			if lim.CPUWeight > 0 {
				out = append(out, w("cpu.weight", strconv.FormatUint(lim.CPUWeight, 10)))
			}
		} else {
			if lim.CPU > 0 {
				out = append(out, w("cpu.cfs_period_us", strconv.Itoa(Period)), w("cpu.cfs_quota_us", strconv.FormatInt(quota, 10)))
			}
			if lim.CPUWeight > 0 {
				out = append(out, w("cpu.shares", strconv.FormatUint(Shares(lim.CPUWeight), 10)))
			}
		}
	case IO:
		if unified {
			out = append(out, w("io.weight", "default "+strconv.FormatUint(lim.IOWeight, 10)))
		} else {
			out = append(out, w("blkio.weight", strconv.FormatUint(BlkioWeight(lim.IOWeight), 10)))
		}
	}
	return out
}

// Shares is cpu.weight (1..10000, 100 the default) as v1's cpu.shares
// (2..262144, 1024 the default): the inverse of the conversion of runc
// 1.3.2 and crun 1.23 (WeightOfShares), so that the defaults meet (100 is
// 1024) and an OCI bundle nsup exports gives the same weight under those
// runtimes: the shares nearest the exact inverse that convert back to
// weight.
func Shares(weight uint64) uint64 {
	weight = min(max(weight, 1), 10000)
	e := math.Log10(float64(weight)) + 7.0/34
	l := (-125 + math.Sqrt(125*125+4*612*e)) / 2
	s := min(max(uint64(math.Round(math.Exp2(l))), 2), 262144)
	for d := uint64(0); d < 262144; d++ {
		if s+d <= 262144 && WeightOfShares(s+d) == weight {
			return s + d
		}
		if s > d+1 && WeightOfShares(s-d) == weight {
			return s - d
		}
	}
	return s
}

// BlkioWeight is io.weight (1..10000, 100 the default) as v1's
// blkio.weight (10..1000, 500 the default), which nsup writes itself:
// systemd's scaling, which keeps the defaults together.
func BlkioWeight(weight uint64) uint64 {
	return min(max(weight*500/100, 10), 1000)
}

// BFQWeight is io.weight as BFQ's blkio.bfq.weight (1..1000, 100 the
// default): systemd's mapping, 1..100 as it is, 100..10000 onto
// 100..1000.
func BFQWeight(weight uint64) uint64 {
	weight = min(max(weight, 1), 10000)
	if weight <= 100 {
		return weight
	}
	return 100 + (weight-100)*900/9900
}

// OCIBlkioWeight is io.weight as an OCI bundle's blockIO.weight
// (10..1000): the inverse of runc's and crun's conversion of it to
// io.weight on cgroup v2 (WeightOfOCIBlkio), so that an exported bundle
// gives the same io.weight there.
func OCIBlkioWeight(weight uint64) uint64 {
	weight = min(max(weight, 1), 10000)
	b := 10 + ((weight-1)*990+9999/2)/9999
	for b < 1000 && WeightOfOCIBlkio(b) < weight && WeightOfOCIBlkio(b+1) <= weight {
		b++
	}
	return b
}

// has reports whether the base group in h has file name.
func (l *Layout) has(h *Hierarchy, name string) bool {
	if l.fsys == nil {
		return true
	}
	_, err := fs.Stat(l.fsys, strings.TrimPrefix(path.Join(h.Dir(h.Base), name), "/"))
	return err == nil
}

// unifiedSwap says whether the unified hierarchy's groups have
// memory.swap.max (the host accounts swap there), and which group's
// files say so: the base group's, where it has the memory controller's
// files; else (the kernel's root group, which has neither memory.max
// nor memory.swap.max) the first group below it that has memory.max.
func (l *Layout) unifiedSwap() (string, bool) {
	u := l.Unified
	dir := u.Dir(u.Base)
	if l.fsys == nil || l.has(u, "memory.swap.max") {
		return dir, true
	}
	if l.has(u, "memory.max") {
		return dir, false
	}
	rel := strings.TrimPrefix(dir, "/")
	subs, _ := fs.ReadDir(l.fsys, rel)
	for _, s := range subs {
		if _, err := fs.Stat(l.fsys, path.Join(rel, s.Name(), "memory.max")); err == nil && s.IsDir() {
			_, err := fs.Stat(l.fsys, path.Join(rel, s.Name(), "memory.swap.max"))
			return path.Join(dir, s.Name()), err == nil
		}
	}
	return dir + " and the groups below it", false
}

// noSwap is the note for the default swap limit left out: where file
// is missing.
func noSwap(hier, dir, file string) string {
	return fmt.Sprintf("no swap limit (without memory_swap, limits.memory holds for memory and swap together): %s has no %s in %s, as a host that does not account swap (swapaccount=0, or a kernel without it): the environment may swap beyond limits.memory; boot with swapaccount=1 to limit it", hier, file, dir)
}

// v1Alternatives are files that do a missing one's work: BFQ's weight
// where the block layer's own is gone (kernels without CFQ).
var v1Alternatives = map[string]string{"blkio.weight": "blkio.bfq.weight"}

// v1Missing says why a v1 file may be missing.
var v1Missing = map[string]string{
	"blkio.weight":                "no I/O scheduler with weights: BFQ gives blkio.bfq.weight",
	"memory.memsw.limit_in_bytes": "swap accounting is off: boot with swapaccount=1, or leave out memory_swap",
}

// WeightOfShares is cpu.shares as cpu.weight, as runc (since 1.3.2) and
// crun (since 1.23) convert it: a quadratic in log2(shares) through
// (2, 1), (1024, 100) and (262144, 10000), rounded up.
func WeightOfShares(shares uint64) uint64 {
	if shares <= 2 {
		return 1
	}
	if shares >= 262144 {
		return 10000
	}
	l := math.Log2(float64(shares))
	return uint64(math.Ceil(math.Pow(10, (l*l+125*l)/612-7.0/34)))
}

// WeightOfOCIBlkio is an OCI bundle's blockIO.weight as io.weight, as
// runc and crun convert it on cgroup v2: 1 + (weight-10)*9999/990.
func WeightOfOCIBlkio(w uint64) uint64 {
	w = min(max(w, 10), 1000)
	return 1 + (w-10)*9999/990
}
