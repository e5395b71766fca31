package spec

import "golang.org/x/sys/unix"

// One table per concern: what each namespace type and each mount type is,
// in one place, read by the spec's parser, the planner, the OCI
// translation and the schema's tests.

// NamespaceKind is one namespace type.
type NamespaceKind struct {
	// Name is its name in a spec (and its /proc/PID/ns/ entry).
	Name string
	// Flag is its clone(2), unshare(2) and setns(2) flag.
	Flag uint64
	// OCI is its name in an OCI config (linux.namespaces[].type).
	OCI string
}

// Namespaces are every namespace type, in spec-v1 order.
var Namespaces = []NamespaceKind{
	{NSMount, unix.CLONE_NEWNS, "mount"},
	{NSPID, unix.CLONE_NEWPID, "pid"},
	{NSNet, unix.CLONE_NEWNET, "network"},
	{NSIPC, unix.CLONE_NEWIPC, "ipc"},
	{NSUTS, unix.CLONE_NEWUTS, "uts"},
	{NSCgroup, unix.CLONE_NEWCGROUP, "cgroup"},
	{NSUser, unix.CLONE_NEWUSER, "user"},
	{NSTime, unix.CLONE_NEWTIME, "time"},
}

// JoinOrder is the order namespaces are entered in: user first, since a
// namespace can be entered only with privilege over the user namespace
// that owns it (setns(2)), and mount before the ones whose files it may
// hide.
var JoinOrder = []string{NSUser, NSMount, NSPID, NSNet, NSIPC, NSUTS, NSCgroup, NSTime}

// NamespaceOf returns the kind named name.
func NamespaceOf(name string) (NamespaceKind, bool) {
	for _, n := range Namespaces {
		if n.Name == name {
			return n, true
		}
	}
	return NamespaceKind{}, false
}

// NamespaceFlag is the clone flag of the type named name (0 if none).
func NamespaceFlag(name string) uint64 {
	n, _ := NamespaceOf(name)
	return n.Flag
}

// NamespaceOfFlag returns the kind whose clone flag is flag.
func NamespaceOfFlag(flag uint64) (NamespaceKind, bool) {
	for _, n := range Namespaces {
		if n.Flag == flag {
			return n, true
		}
	}
	return NamespaceKind{}, false
}

// MountKind is one mount type.
type MountKind struct {
	Name string
	// Keys are the keys it takes besides type, target, readonly and
	// options.
	Keys []string
	// Readonly is readonly's default.
	Readonly bool
	// FSType is the filesystem mount(2) mounts ("" for bind and dev,
	// which are not one filesystem).
	FSType string
	// Flags are the mount(2) flags it always has, as runc's default
	// configuration gives them: kernel filesystems hold no setuid binary
	// and no device node worth having; options add to these.
	Flags uint64
	// Data is the data it always passes to mount(2) (devpts's
	// newinstance), before what its keys add.
	Data string
	// Dev: the mount option dev is allowed (nodev is its default).
	Dev bool
	// Namespace is the namespace it needs of the environment's own user
	// namespace when it is mounted in one: the kernel lets proc, sysfs and
	// mqueue be mounted in a user namespace only for a pid, net or ipc
	// namespace that user namespace owns (pid_namespaces(7), mount(2)).
	Namespace string
}

// DevptsData is the data of every devpts nsup mounts (type devpts, and
// dev's /dev/pts). newinstance: a devpts of its own, so the environment
// sees none of the host's terminals. max=1024 (LXC's default
// lxc.pty.max): the kernel's pool of ptys is shared by every devpts but
// the host's own (kernel.pty.max less kernel.pty.reserve, 3072 by
// default), and without a max of its own one environment took all of
// it, leaving no terminal for any other (TestRootDevptsMax).
const DevptsData = "newinstance,ptmxmode=0666,mode=0620,max=1024"

// MountKinds are every mount type, in spec-v1 order.
var MountKinds = []MountKind{
	{Name: MountProc, FSType: "proc", Flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, Namespace: NSPID},
	// sysfs is read-only by default: a writable /sys lets root inside
	// reach host-wide knobs that no namespace covers.
	{Name: MountSysfs, FSType: "sysfs", Flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, Readonly: true, Namespace: NSNet},
	{Name: MountTmpfs, Keys: []string{"size", "mode"}, FSType: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_NODEV, Dev: true},
	{Name: MountBind, Keys: []string{"source", "subpath", "recursive", "create"}, Flags: unix.MS_NODEV, Dev: true},
	{Name: MountDev},
	{Name: MountDevpts, FSType: "devpts", Flags: unix.MS_NOSUID | unix.MS_NOEXEC, Data: DevptsData},
	{Name: MountMqueue, FSType: "mqueue", Flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, Namespace: NSIPC},
	// A named volume of the project (the top-level volumes key): a bind
	// of its folder, made on first use (an addition to spec v1).
	{Name: MountVolume, Keys: []string{"source"}, Flags: unix.MS_NODEV, Dev: true},
}

// MountKindOf returns the kind named name.
func MountKindOf(name string) (MountKind, bool) {
	for _, k := range MountKinds {
		if k.Name == name {
			return k, true
		}
	}
	return MountKind{}, false
}

// Takes reports whether the kind takes key (besides the keys every mount
// takes).
func (k MountKind) Takes(key string) bool {
	for _, x := range k.Keys {
		if x == key {
			return true
		}
	}
	return false
}

// InitEnabled reports whether nsup's init is PID 1 of the environment
// (`init`, default true).
func (e *Environment) InitEnabled() bool { return e.Init == nil || e.Init.Value }

// SortByJoins orders names so that each comes after those it joins
// (joins(name) lists them, by name): every environment must exist before
// another can enter its namespaces, and must be stopped after. Ties keep
// the given order, so that the order is deterministic: the earliest name
// whose joins are all placed goes next. A name joined but not among names
// does not count. A cycle (which Parse refuses) leaves the names it holds,
// and those that join them, in their given order, last. joins is asked
// once per name; the cost is linear in the names and joins (a heap keeps
// the ready names), not quadratic.
func SortByJoins(names []string, joins func(name string) []string) []string {
	at := make(map[string]int, len(names))
	for i, n := range names {
		if _, dup := at[n]; !dup {
			at[n] = i
		}
	}
	// waiting[i] counts the names i joins that are not placed yet;
	// joinedBy[j] lists the names that join j.
	waiting := make([]int, len(names))
	joinedBy := make([][]int, len(names))
	var ready indexHeap
	for i, n := range names {
		if at[n] != i {
			continue // a repeated name: placed once, at its first index
		}
		for _, j := range joins(n) {
			k, ok := at[j]
			if !ok || k == i {
				continue
			}
			if by := joinedBy[k]; len(by) > 0 && by[len(by)-1] == i {
				continue // joined twice
			}
			waiting[i]++
			joinedBy[k] = append(joinedBy[k], i)
		}
		if waiting[i] == 0 {
			ready.push(i)
		}
	}
	out := make([]string, 0, len(at))
	placed := make([]bool, len(names))
	for len(ready) > 0 {
		i := ready.pop()
		out = append(out, names[i])
		placed[i] = true
		for _, k := range joinedBy[i] {
			if waiting[k]--; waiting[k] == 0 {
				ready.push(k)
			}
		}
	}
	for i, n := range names {
		if !placed[i] && at[n] == i {
			out = append(out, n)
		}
	}
	return out
}

// indexHeap is a min-heap of indices.
type indexHeap []int

func (h *indexHeap) push(i int) {
	*h = append(*h, i)
	s := *h
	for c := len(s) - 1; c > 0; {
		p := (c - 1) / 2
		if s[p] <= s[c] {
			break
		}
		s[p], s[c] = s[c], s[p]
		c = p
	}
}

func (h *indexHeap) pop() int {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for p := 0; ; {
		c := 2*p + 1
		if c >= len(s) {
			break
		}
		if c+1 < len(s) && s[c+1] < s[c] {
			c++
		}
		if s[p] <= s[c] {
			break
		}
		s[p], s[c] = s[c], s[p]
		p = c
	}
	*h = s
	return top
}

// After lists the environments e must start after, by name: those whose
// namespaces it joins by name, then those of its depends_on.
func (e *Environment) After() []string {
	var out []string
	for _, j := range e.Join {
		if !j.IsPath() {
			out = append(out, j.Ref)
		}
	}
	for _, dep := range e.DependsOn {
		out = append(out, dep.Env)
	}
	return out
}

// JoinOrder returns the environments named (every one when none is), with
// those they join by name or depend on (depends_on), transitively, each
// after those (SortByJoins), and the names that are no environment of the
// file.
func (s *Spec) JoinOrder(names ...string) (envs []*Environment, unknown []string) {
	byName := make(map[string]*Environment, len(s.Environments))
	for _, e := range s.Environments {
		if _, dup := byName[e.Name]; !dup {
			byName[e.Name] = e
		}
	}
	want := map[string]bool{}
	for _, n := range names {
		if byName[n] == nil {
			unknown = append(unknown, n)
		}
		want[n] = true
	}
	joinsOf := func(n string) []string {
		if e := byName[n]; e != nil {
			return e.After()
		}
		return nil
	}
	// What the wanted environments join, transitively.
	for changed := true; changed && len(names) > 0; {
		changed = false
		for n := range want {
			for _, j := range joinsOf(n) {
				if !want[j] && byName[j] != nil {
					want[j] = true
					changed = true
				}
			}
		}
	}
	var all []string
	for _, e := range s.Environments {
		if len(names) == 0 || want[e.Name] {
			all = append(all, e.Name)
		}
	}
	for _, n := range SortByJoins(all, joinsOf) {
		envs = append(envs, byName[n])
	}
	return envs, unknown
}
