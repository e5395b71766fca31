package cgroup

import (
	"errors"
	"flag"
	"fmt"
	"github.com/nsup/nsup/internal/golden"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// every is a limit of each kind.
var every = Limits{Memory: 512 << 20, MemorySwap: 1 << 30, Pids: 256, CPU: 1.5, CPUWeight: 200, IOWeight: 300}

// TestLayouts: each testdata folder is a host (its /proc/self files and
// its unified hierarchy's cgroup.controllers and subtree_control); want.txt
// is what Discover reads there and where Place puts an environment "web"
// with a limit of each kind, with the default pids limit alone, and with
// a memory limit alone (swap limited with it by default, where the host
// accounts swap; else a note).
func TestLayouts(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no layouts: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			l, err := Discover(os.DirFS(dir))
			if err != nil {
				t.Fatal(err)
			}
			// A file "parent" is the host's NSUP_CGROUP_PARENT.
			if p, err := os.ReadFile(filepath.Join(dir, "parent")); err == nil {
				if err := l.SetParent(strings.TrimSpace(string(p))); err != nil {
					t.Fatal(err)
				}
			}
			var b strings.Builder
			if l.Parent != "" {
				fmt.Fprintf(&b, "parent %s\n", l.Parent)
			}
			if u := l.Unified; u != nil {
				fmt.Fprintf(&b, "unified %s group %s controllers %v delegated %v busy %v\n", u.Mount, u.Group, u.Controllers, u.Delegated, l.Busy())
			}
			for _, c := range l.v1Names() {
				h := l.V1[c]
				fmt.Fprintf(&b, "v1 %s: %s group %s\n", c, h.Mount, h.Group)
			}
			for _, lim := range []struct {
				name string
				l    Limits
			}{{"every limit", every}, {"every limit but io_weight", Limits{Memory: 512 << 20, MemorySwap: 1 << 30, Pids: 256, CPU: 1.5, CPUWeight: 200}}, {"pids 2048", Limits{Pids: 2048}}, {"unlimited", Limits{Memory: 1 << 30, MemorySwap: Unlimited, Pids: Unlimited}}, {"memory alone", Limits{Memory: 64 << 20}}} {
				fmt.Fprintf(&b, "\n%s:\n", lim.name)
				groups, writes, err := l.Place("web", lim.l)
				if err != nil {
					fmt.Fprintf(&b, "error: %v\n", err)
					continue
				}
				for _, g := range groups {
					fmt.Fprintf(&b, "group %s unified=%v %v\n", g.Dir, g.Unified, g.Controllers)
				}
				for _, w := range writes {
					fmt.Fprintf(&b, "write %s %q\n", w.Path, w.Value)
				}
				for _, g := range groups {
					for _, n := range g.Notes {
						fmt.Fprintf(&b, "note %s\n", n)
					}
				}
			}
			golden.Check(t, filepath.Join(dir, "want.txt"), b.String(), *update)
		})
	}
}

func TestNoControllerError(t *testing.T) {
	l, err := Discover(os.DirFS("testdata/v2-scope"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = l.Place("web", Limits{Memory: 1 << 20})
	var nc *NoController
	if !errors.As(err, &nc) || nc.Controller != Memory || !strings.Contains(err.Error(), ParentEnv) {
		t.Fatalf("err = %v", err)
	}
}

// The weights' conversions keep the defaults together (100: 1024
// shares, 500 blkio.weight), reach both ends, and come back: every
// weight is the weight of its shares, as runc and crun convert them.
func TestConversions(t *testing.T) {
	for _, c := range []struct{ weight, shares, blkio uint64 }{
		{1, 2, 10}, {100, 1024, 500}, {10000, 262144, 1000},
	} {
		if got := Shares(c.weight); got != c.shares {
			t.Errorf("Shares(%d) = %d, want %d", c.weight, got, c.shares)
		}
		if got := BlkioWeight(c.weight); got != c.blkio {
			t.Errorf("BlkioWeight(%d) = %d, want %d", c.weight, got, c.blkio)
		}
		if got := WeightOfShares(c.shares); got != c.weight {
			t.Errorf("WeightOfShares(%d) = %d, want %d", c.shares, got, c.weight)
		}
	}
	// runc's own test values (opencontainers/cgroups, since 1.3.2).
	for shares, weight := range map[uint64]uint64{2: 1, 3: 2, 4: 2, 1024: 100, 22000: 1204, 262143: 10000, 262144: 10000} {
		if got := WeightOfShares(shares); got != weight {
			t.Errorf("WeightOfShares(%d) = %d, want %d", shares, got, weight)
		}
	}
	for w := uint64(1); w <= 10000; w++ {
		if got := WeightOfShares(Shares(w)); got != w {
			t.Fatalf("WeightOfShares(Shares(%d) = %d) = %d", w, Shares(w), got)
		}
	}
	// An OCI bundle's blockIO.weight: runc's and crun's io.weight of it
	// is the weight nsup exported (within a step of their rounding).
	for w := uint64(1); w <= 10000; w++ {
		b := OCIBlkioWeight(w)
		if got := WeightOfOCIBlkio(b); got > w+11 || got+11 < w {
			t.Fatalf("WeightOfOCIBlkio(OCIBlkioWeight(%d) = %d) = %d", w, b, got)
		}
	}
	if got := WeightOfOCIBlkio(OCIBlkioWeight(100)); got != 92 && got != 102 {
		t.Errorf("io_weight 100 exported comes back as %d", got)
	}
	for w, bfq := range map[uint64]uint64{1: 1, 100: 100, 10000: 1000} {
		if got := BFQWeight(w); got != bfq {
			t.Errorf("BFQWeight(%d) = %d, want %d", w, got, bfq)
		}
	}
}

func TestMountinfoEscapes(t *testing.T) {
	m, ok := parseMountinfo(`40 31 0:37 / /sys/fs/cgroup/a\040b rw - cgroup cgroup rw,pids`)
	if !ok || m.point != "/sys/fs/cgroup/a b" || m.super != "rw,pids" {
		t.Fatalf("%+v %v", m, ok)
	}
}

// A parent outside the subtree a hierarchy's mount shows (nsup in a
// container whose cgroup2 is a mount of its own group) is not there,
// rather than taken as a group below the mount.
func TestParentOutsideMount(t *testing.T) {
	fsys := fstest.MapFS{
		"proc/self/mountinfo":                             {Data: []byte("30 22 0:27 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n")},
		"proc/self/cgroup":                                {Data: []byte("0::/docker/abc\n")},
		"sys/fs/cgroup/cgroup.controllers":                {Data: []byte("memory pids\n")},
		"sys/fs/cgroup/nsup.slice/cgroup.controllers":     {Data: []byte("memory pids\n")},
		"sys/fs/cgroup/nsup.slice/cgroup.subtree_control": {Data: []byte("pids\n")},
	}
	l, err := Discover(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SetParent("/nsup.slice"); err != nil {
		t.Fatal(err)
	}
	_, _, err = l.Place("web", Limits{Pids: 64})
	var np *NoParent
	if !errors.As(err, &np) || !strings.Contains(err.Error(), "a mount of /docker/abc only") {
		t.Fatalf("err = %v", err)
	}
}

// The shared host layout is not changed by a parent set on a Clone, and a
// clone keeps one hierarchy for the controllers that share one.
func TestCloneSetParent(t *testing.T) {
	l, err := Discover(os.DirFS("testdata/hybrid"))
	if err != nil {
		t.Fatal(err)
	}
	before := fmt.Sprint(l.Parent, *l.Unified, len(l.V1))
	bases := map[string]string{}
	for c, h := range l.V1 {
		bases[c] = h.Base
	}
	c := l.Clone()
	if err := c.SetParent("/nsup.slice"); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(l.Parent, *l.Unified, len(l.V1)); got != before {
		t.Errorf("original changed: %s, was %s", got, before)
	}
	for name, h := range l.V1 {
		if h.Base != bases[name] {
			t.Errorf("original %s: base %q, was %q", name, h.Base, bases[name])
		}
		if c.V1[name].Base != "/nsup.slice" {
			t.Errorf("clone %s: base %q", name, c.V1[name].Base)
		}
		for other, o := range l.V1 {
			if (o == h) != (c.V1[other] == c.V1[name]) {
				t.Errorf("clone: %s and %s share a hierarchy in one and not the other", name, other)
			}
		}
	}
}

// The default swap limit on a unified hierarchy whose base is the
// kernel's root group (which has no memory.max or memory.swap.max): a
// group below it that has memory.max says whether the host accounts
// swap; none, and it is left out, with a note saying where nsup looked.
func TestDefaultSwapAtRoot(t *testing.T) {
	for _, c := range []struct {
		name  string
		files map[string]string
		want  string // the swap write's value, or the note's part
	}{
		{"child accounts swap", map[string]string{"init.scope/memory.max": "max", "init.scope/memory.swap.max": "max"}, `memory.swap.max "0"`},
		{"child without swap", map[string]string{"init.scope/memory.max": "max"}, "no memory.swap.max in /sys/fs/cgroup/init.scope,"},
		{"no group below", nil, "no memory.swap.max in /sys/fs/cgroup and the groups below it,"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"proc/self/mountinfo":                   {Data: []byte("30 22 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n")},
				"proc/self/cgroup":                      {Data: []byte("0::/\n")},
				"sys/fs/cgroup/cgroup.controllers":      {Data: []byte("memory pids\n")},
				"sys/fs/cgroup/cgroup.subtree_control":  {Data: []byte("memory pids\n")},
				"sys/fs/cgroup/cgroup.procs":            {Data: []byte("")},
				"sys/fs/cgroup/init.scope/cgroup.procs": {Data: []byte("1\n")},
			}
			for f, v := range c.files {
				fsys["sys/fs/cgroup/"+f] = &fstest.MapFile{Data: []byte(v)}
			}
			l, err := Discover(fsys)
			if err != nil {
				t.Fatal(err)
			}
			groups, writes, err := l.Place("web", Limits{Memory: 64 << 20})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range writes {
				got = append(got, fmt.Sprintf("%s %q", filepath.Base(w.Path), w.Value))
			}
			for _, g := range groups {
				got = append(got, g.Notes...)
			}
			if s := strings.Join(got, "\n"); !strings.Contains(s, c.want) {
				t.Errorf("got:\n%s\nwant %s", s, c.want)
			}
		})
	}
}
