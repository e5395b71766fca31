package cgroup

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Host is the host's layout (Discover of its root), read once per
// process and shared: the planner's and the clean-up of ended
// environments' groups are one read of mountinfo and of the unified base
// group, not two. Shared, it is not changed: SetParent applies to a
// Clone.
var Host = sync.OnceValues(func() (*Layout, error) { return Discover(os.DirFS("/")) })

// Clone is a copy of l that SetParent may change (its hierarchies copied,
// one copy each where several controllers share one).
func (l *Layout) Clone() *Layout {
	c := *l
	copies := map[*Hierarchy]*Hierarchy{}
	dup := func(h *Hierarchy) *Hierarchy {
		if h == nil {
			return nil
		}
		if d, ok := copies[h]; ok {
			return d
		}
		d := *h
		d.Controllers = slices.Clone(h.Controllers)
		d.Delegated = slices.Clone(h.Delegated)
		copies[h] = &d
		return &d
	}
	c.Unified = dup(l.Unified)
	c.V1 = make(map[string]*Hierarchy, len(l.V1))
	for k, h := range l.V1 {
		c.V1[k] = dup(h)
	}
	return &c
}

// Layout is the host's cgroup hierarchies, as nsup sees them.
type Layout struct {
	fsys fs.FS // where it was read (Place checks files there)
	// Parent is the configured parent group (SetParent), "" for none:
	// environments' groups go under nsup's own group in each hierarchy.
	Parent string
	// Unified is the cgroup2 hierarchy, nil if none is mounted.
	Unified *Hierarchy
	// V1 are the v1 hierarchies by controller ("memory", "pids", "cpu",
	// "blkio", ...; a hierarchy with several controllers is listed under
	// each).
	V1 map[string]*Hierarchy
	// Mounts are the host's visible mounts, as read with the hierarchies:
	// what else asks for the mount table (a recursive bind's check) reads
	// it here, not again.
	Mounts []Mount
}

// Hierarchy is one mounted hierarchy.
type Hierarchy struct {
	// Mount is where it is mounted ("/sys/fs/cgroup/memory").
	Mount string
	// Group is nsup's own group in it, from /proc/self/cgroup ("/" for
	// the root, "/user.slice/user-1000.slice/session-2.scope").
	Group string
	// Base is the group the environments' groups go under (in its nsup/
	// folder): nsup's own, or the configured parent.
	Base string
	// Controllers: v1, those of the hierarchy (from its mount options);
	// v2, those the base group may hand to a child (its
	// cgroup.controllers).
	Controllers []string
	// Delegated (v2 only) are the controllers already enabled for the
	// children of the base group (its cgroup.subtree_control).
	Delegated []string
	root      string // the root of the mount, "/" but for a mount of a subtree
}

// ParentEnv is the environment variable that configures the parent group
// (SetParent).
const ParentEnv = "NSUP_CGROUP_PARENT"

// Dir is the directory of group g (absolute, as /proc/self/cgroup says
// it) in the hierarchy.
func (h *Hierarchy) Dir(g string) string {
	if r, ok := below(g, h.root); ok {
		g = r
	}
	return path.Join(h.Mount, g)
}

// Discover reads the layout from fsys, the host's root ("/" as
// os.DirFS("/") gives it; paths in fsys have no leading slash).
func Discover(fsys fs.FS) (*Layout, error) {
	mi, err := fs.ReadFile(fsys, "proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	cg, err := fs.ReadFile(fsys, "proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	groups, unifiedGroup, err := parseSelfCgroup(cg)
	if err != nil {
		return nil, err
	}
	l := &Layout{fsys: fsys, V1: map[string]*Hierarchy{}}
	// Line by line over what was read: no scanner and its 64 KiB buffer
	// (the largest allocation of a plan, at every apply).
	var mounts []mountinfo
	for line := range bytes.Lines(mi) {
		if m, ok := parseMountinfo(string(bytes.TrimSuffix(line, []byte("\n")))); ok {
			mounts = append(mounts, m)
		}
	}
	for _, m := range visible(mounts) {
		l.Mounts = append(l.Mounts, m.mount())
		switch m.fstype {
		case "cgroup2":
			if l.Unified != nil || unifiedGroup == "" {
				continue // the first one, and only if nsup is in it
			}
			// A mount of a subtree (root != "/") shows groups below it.
			if _, ok := below(unifiedGroup, m.root); !ok {
				continue
			}
			h := &Hierarchy{Mount: m.point, Group: unifiedGroup, Base: unifiedGroup, root: m.root}
			h.readBase(fsys)
			l.Unified = h
		case "cgroup":
			var ctrls []string
			for _, o := range strings.Split(m.super, ",") {
				if isController(o) {
					ctrls = append(ctrls, o)
				}
			}
			for _, c := range ctrls {
				if _, dup := l.V1[c]; dup {
					continue
				}
				g, ok := groups[c]
				if !ok {
					continue
				}
				if _, ok := below(g, m.root); !ok {
					continue
				}
				l.V1[c] = &Hierarchy{Mount: m.point, Group: g, Base: g, Controllers: ctrls, root: m.root}
			}
		}
	}
	AddBacking(fsys, l.Mounts)
	return l, nil
}

// visible are the mounts not hidden by another mounted on top of them
// (on the same point, or on a folder above theirs), in their order: an
// empty tmpfs over a hierarchy hides it, as it does from every program.
func visible(mounts []mountinfo) []mountinfo {
	byID := map[int]mountinfo{}
	// A mount with another stacked on its point: the id of the last one
	// (on top). The top of a stack is walked up through the mount it
	// covers, which hides the others, not it (helper-94's review: a
	// host's /dev/shm mounted twice was missing from the table).
	covered := map[int]int{}
	for _, m := range mounts {
		byID[m.id] = m
	}
	for _, m := range mounts {
		if p, ok := byID[m.parent]; ok && p.point == m.point && p.id != m.id {
			covered[p.id] = m.id
		}
	}
	var out []mountinfo
	for _, m := range mounts {
		_, ok := covered[m.id]
		ok = !ok
		seen := map[int]bool{}
		for c := m; ok; {
			p, found := byID[c.parent]
			if !found || seen[c.id] {
				break
			}
			if top, is := covered[p.id]; is && top != c.id {
				ok = false // p is hidden, and c with it
			}
			seen[c.id] = true
			c = p
		}
		if ok {
			out = append(out, m)
		}
	}
	return out
}

// SetParent makes parent (a group's path from the root of each
// hierarchy, as /proc/self/cgroup gives one: "/nsup.slice") the group
// the environments' groups go under, in every hierarchy, instead of
// nsup's own. It must exist in each hierarchy used (Place says so). In
// the unified hierarchy, nsup enables the controllers it needs in the
// parent's cgroup.subtree_control where the parent has them and no
// process of its own: configured for nsup, it is nsup's to use.
func (l *Layout) SetParent(parent string) error {
	if err := CheckParent(parent); err != nil || parent == "" {
		return err
	}
	l.Parent = parent
	if h := l.Unified; h != nil {
		h.Base = parent
		h.readBase(l.fsys)
	}
	for _, h := range l.V1 {
		h.Base = parent
	}
	return nil
}

// CheckParent refuses a configured parent that is not a clean absolute
// group path ("" is none, and fine).
func CheckParent(parent string) error {
	if parent != "" && (!path.IsAbs(parent) || path.Clean(parent) != parent) {
		return fmt.Errorf("%s=%q: not a clean absolute group path (as /proc/self/cgroup shows one: /nsup.slice)", ParentEnv, parent)
	}
	return nil
}

// readBase reads what the unified base group hands to its children.
func (h *Hierarchy) readBase(fsys fs.FS) {
	g, ok := below(h.Base, h.root)
	if !ok {
		h.Controllers, h.Delegated = nil, nil
		return
	}
	dir := strings.TrimPrefix(path.Join(h.Mount, g), "/")
	h.Controllers = fields(fsys, path.Join(dir, "cgroup.controllers"))
	h.Delegated = fields(fsys, path.Join(dir, "cgroup.subtree_control"))
}

// Busy (v2) says whether the unified base group has processes of its own
// (its cgroup.procs), so that no controller can be enabled for its
// children (the "no internal processes" rule of cgroup v2). The real root
// is exempt, and has no cgroup.type; the root of a cgroup namespace (nsup
// in a container) shows as "/" but is not. Read when asked (a parent to
// enable controllers in, an error to explain), not at every plan.
func (l *Layout) Busy() bool {
	h := l.Unified
	if h == nil || l.fsys == nil {
		return false
	}
	g, ok := below(h.Base, h.root)
	if !ok {
		return false
	}
	dir := strings.TrimPrefix(path.Join(h.Mount, g), "/")
	if _, err := fs.Stat(l.fsys, path.Join(dir, "cgroup.type")); err != nil {
		return false
	}
	return len(fields(l.fsys, path.Join(dir, "cgroup.procs"))) > 0
}

// below is g relative to a mount of root (both absolute), if g is in it.
func below(g, root string) (string, bool) {
	if root == "/" {
		return g, true
	}
	if g == root {
		return "/", true
	}
	if strings.HasPrefix(g, root+"/") {
		return strings.TrimPrefix(g, root), true
	}
	return "", false
}

// fields is a file of space-separated words, nil if it cannot be read.
func fields(fsys fs.FS, name string) []string {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}

// parseSelfCgroup reads /proc/self/cgroup (cgroups(7)): "ID:CONTROLLERS:PATH"
// lines; "0::PATH" is the unified hierarchy's.
func parseSelfCgroup(b []byte) (map[string]string, string, error) {
	groups := map[string]string{}
	unified := ""
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			return nil, "", fmt.Errorf("/proc/self/cgroup: %q: not ID:CONTROLLERS:PATH", line)
		}
		if _, err := strconv.Atoi(parts[0]); err != nil {
			return nil, "", fmt.Errorf("/proc/self/cgroup: %q: not ID:CONTROLLERS:PATH", line)
		}
		if parts[0] == "0" && parts[1] == "" {
			unified = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c != "" {
				groups[c] = parts[2]
			}
		}
	}
	return groups, unified, nil
}

type mountinfo struct {
	id, parent                              int
	dev, root, point, fstype, source, super string
}

// parseMountinfo reads one line of /proc/self/mountinfo (proc(5)): the
// fields after " - " are the type, the source and the superblock's
// options; before it, the root of the mount and its point (octal escapes
// undone).
func parseMountinfo(line string) (mountinfo, bool) {
	pre, post, ok := strings.Cut(line, " - ")
	if !ok {
		return mountinfo{}, false
	}
	f, g := strings.Fields(pre), strings.Fields(post)
	if len(f) < 5 || len(g) < 3 {
		return mountinfo{}, false
	}
	id, err1 := strconv.Atoi(f[0])
	parent, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return mountinfo{}, false
	}
	return mountinfo{id: id, parent: parent, dev: f[2], root: unescape(f[3]), point: unescape(f[4]), fstype: g[0], source: unescape(g[1]), super: g[2]}, true
}

// Mount is one mount of a mountinfo: where it is, its filesystem, and
// which folder of which filesystem it shows (Dev, major:minor, and Root);
// for an overlay, the folders it shows (Overlay: one for each mount of
// the superblock), which share no major:minor with it; Source as the
// mounter named it (or its filesystem does: btrfs, its first device);
// and the files its filesystem's bytes are (Backing, once AddBacking).
type Mount struct {
	Point, FSType, Dev, Root, Source string
	Overlay                          *Overlay
	backing                          *backings
}

func (m mountinfo) mount() Mount {
	return Mount{Point: m.point, FSType: m.fstype, Dev: m.dev, Root: m.root, Source: m.source, Overlay: overlayOf(m.fstype, m.super)}
}

// Mounts are the mounts a mountinfo file's content lists, in its order.
func Mounts(b []byte) []Mount {
	var out []Mount
	for _, line := range strings.Split(string(b), "\n") {
		if m, ok := parseMountinfo(line); ok {
			out = append(out, m.mount())
		}
	}
	return out
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// v1Controllers are the v1 controllers nsup knows (a mount's other
// options, rw, relatime, name=systemd, are not).
var v1Controllers = []string{"blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer",
	"hugetlb", "memory", "misc", "net_cls", "net_prio", "perf_event", "pids", "rdma"}

func isController(o string) bool { return slices.Contains(v1Controllers, o) }
