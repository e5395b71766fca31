package planner

// A root of host folders (rootfs.host): an empty tree of nsup's (the
// mount points, the host's merged-/usr links) with the host's folders
// bound read-only at their own paths, as bubblewrap users write
// --ro-bind /usr /usr --symlink usr/bin /bin.

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nsup/nsup/planner/cgroup"
	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// mergedUsr are the top folders a merged-/usr host makes links into /usr
// (/bin -> usr/bin): made in the tree when the host has the link and its
// target is in a bound folder.
var mergedUsr = []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// hostEntry is one entry of rootfs.host as this host has it, looked at
// once (classifyHost) for its bind and its tree.
type hostEntry struct {
	link    bool   // a link of the host's: made as that link, not bound
	file    bool   // a file: bound onto an empty file of the tree
	refused string // why it is not bound ("" if it is)
}

// bound says whether the entry is bound from the host.
func (h hostEntry) bound() bool { return !h.link && h.refused == "" }

// classifyHost looks at p, an entry of rootfs.host.
func classifyHost(p string) hostEntry {
	fi, err := os.Lstat(p)
	if err != nil {
		return hostEntry{refused: unwrapPath(err).Error()}
	}
	if why := hostRootRefused(p); why != "" {
		return hostEntry{refused: why}
	}
	// Its folder must be itself on the host: a path through a link would
	// be bound where the link leads in the tree (before or after the
	// folder there), not where it is written.
	dir := path.Dir(p)
	if real, err := filepath.EvalSymlinks(dir); err == nil && real != dir {
		return hostEntry{refused: fmt.Sprintf("%s passes through a link on this host (%s is %s): list %s instead (and the folder that holds it, for nsup to make the link)", p, dir, real, filepath.Join(real, path.Base(p)))}
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return hostEntry{link: true}
	case !fi.IsDir() && !fi.Mode().IsRegular():
		return hostEntry{refused: fmt.Sprintf("%s is neither a folder nor a file", p)}
	}
	return hostEntry{file: !fi.IsDir()}
}

// hostRootBinds looks at each entry of rootfs.host (hostEntries) and puts
// the binds before the spec's mounts (on a copy of the environment: the
// spec is shared), a folder before what is below it; a link of the
// host's is not bound but made. Each is read-only, nosuid and nodev,
// recursive as a bind is by default (bubblewrap's --ro-bind).
func (ec *envCompiler) hostRootBinds() {
	r := ec.e.Rootfs
	// The spec's join, not ec.joined: this runs before namespaces()
	// lists the joins. An environment that joins a mount namespace
	// mounts nothing: before helper-116's stop its host root's binds
	// were taken for mounts of its own, and the plan refused them.
	if len(r.Host) == 0 || ec.e.Joined(spec.NSMount) != nil {
		return
	}
	for _, h := range r.Host {
		ec.hostEntries = append(ec.hostEntries, classifyHost(h.Value))
	}
	order := make([]int, len(r.Host))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(r.Host[a].Value, r.Host[b].Value) })
	e := *ec.e
	e.Mounts = nil
	for _, i := range order {
		h := r.Host[i]
		if !ec.hostEntries[i].bound() {
			continue // made as that link in the tree, or refused (hostRootTree)
		}
		e.Mounts = append(e.Mounts, spec.Mount{Pos: h.Pos, Type: spec.MountBind, Target: h.Value, Source: h.Value,
			Readonly: true, Recursive: true, Options: []string{"nosuid", "nodev"}})
		ec.hostBinds = append(ec.hostBinds, i)
	}
	e.Mounts = append(e.Mounts, ec.e.Mounts...)
	ec.e = &e
}

// mountField is the spec key of the ith entry of e.Mounts.
func (ec *envCompiler) mountField(i int) string {
	if i < len(ec.hostBinds) {
		return fmt.Sprintf("%s.rootfs.host[%d]", ec.field, ec.hostBinds[i])
	}
	return fmt.Sprintf("%s.mounts[%d]", ec.field, i-len(ec.hostBinds))
}

// hostRootTree makes the tree of a root of host folders: a symlink on the
// host listed in rootfs.host is made as that link (its target must be
// bound too); the merged-/usr links whose targets are bound; the mount
// points (mountPoints, by the caller); an empty file for a bound file.
func (ec *envCompiler) hostRootTree(r spec.Rootfs, field string) []string {
	ec.tree = map[string]File{}
	var paths []string
	bound := func(p string) bool {
		for i, h := range r.Host {
			if within(p, h.Value) && ec.hostEntries[i].bound() {
				return true
			}
		}
		return false
	}
	link := func(p string, pos spec.Pos, f string, strict bool) {
		target, err := os.Readlink(p)
		if err != nil {
			ec.errorf(pos, f, "%v", unwrapPath(err))
			return
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil || !bound(real) {
			if strict && real == "/" {
				ec.errorf(pos, f, "%s is a link to / on this host: list the folders it would show instead", p)
			} else if strict {
				ec.errorf(pos, f, "%s is a link to %q on this host: the root gets that link, but %s is not among the folders bound; add it (or the folder that holds it) to rootfs.host", p, target, real)
			}
			return
		}
		ec.mkdirTree(path.Dir(p))
		ec.tree[p] = File{Path: p, Type: "symlink", Mode: 0o777, Link: target}
	}
	for i, h := range r.Host {
		f := fmt.Sprintf("%s.host[%d]", field, i)
		paths = append(paths, h.Value)
		switch he := ec.hostEntries[i]; {
		case he.refused != "":
			ec.errorf(h.Pos, f, "%s", he.refused)
		case he.link:
			link(h.Value, h.Pos, f, true)
		case he.file:
			// Its mount point: an empty file of the tree.
			ec.mkdirTree(path.Dir(h.Value))
			ec.tree[h.Value] = File{Path: h.Value, Type: "file", Mode: 0o644, Digest: EmptyDigest}
		}
	}
	for _, p := range mergedUsr {
		if _, listed := ec.tree[p]; listed || slices.ContainsFunc(r.Host, func(h spec.String) bool { return h.Value == p }) {
			continue
		}
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			link(p, r.HostPos, field+".host", false)
		}
	}
	ec.notes = append(ec.notes, fmt.Sprintf("%s.host: %s bound read-only from the host as they are when the environment starts: not copied, not locked (the lock covers the tree nsup makes around them)", field, strings.Join(paths, ", ")))
	return paths
}

// viewMounts are the environment's mounts as mountedView takes them (none
// when it joins a mount namespace: it mounts nothing), worked out once.
func (ec *envCompiler) viewMounts() []viewMount {
	if ec.views != nil || ec.joined(spec.NSMount) != nil {
		return ec.views
	}
	out := []viewMount{}
	for i, m := range ec.e.Mounts {
		vm := viewMount{target: m.Target, field: ec.mountField(i)}
		// Where the mount lands: its target resolved in the tree as the
		// mounts before it make it (a bind at /bin/true lands on
		// /usr/bin/true under /bin -> usr/bin), the folders it lacks
		// made below where its leading part leads (a tmpfs at /lib64/t
		// lands at /usr/lib64/t, whether usr/lib64/t is there or not).
		if base := ec.baseView(); base != nil {
			t, _ := mountedView(base, out, &ec.stats)
			vm.target = landing(t, m.Target)
		}
		if m.Type == spec.MountBind {
			h := ec.hostDir(m.Source)
			if h.resolveErr != nil || h.statErr != nil {
				continue // its error is the mount's
			}
			vm.source, vm.isDir = h.resolved, h.isDir
		}
		out = append(out, vm)
	}
	// Once: asked for each command, and for the identity files. (The
	// tree is whole by then: its mount points made, which is all a
	// target's resolution needs.)
	ec.views = out
	return out
}

// kernelFS are the filesystems a root of host folders, or a bind outside
// a user namespace, may not bind from the host: the host's processes,
// devices, kernel knobs, groups and namespaces (binfmt_misc runs an
// interpreter of the host's, configfs and efivarfs change the kernel and
// the firmware, pstore holds the host's crash logs, nsfs is the host's
// namespaces). An environment gets its own of each by a mount (type:
// proc, dev, sysfs). The host's devtmpfs reports a tmpfs's magic: a bind
// of it with dev is devBindRefused's.
var kernelFS = map[int64]string{
	0x9fa0: "proc", 0x62656572: "sysfs", 0x1cd1: "devpts", 0x27e0eb: "cgroup", 0x63677270: "cgroup2",
	0x19800202: "mqueue", 0x64626720: "debugfs", 0x74726163: "tracefs", 0x73636673: "securityfs", 0xcafe4a11: "bpf",
	0x42494e4d: "binfmt_misc", 0x62656570: "configfs", 0xde5e81e4: "efivarfs", 0x6165676c: "pstore",
	0x6e736673: "nsfs", 0x65735543: "fusectl",
}

// hostRootRefused says why p may not be a folder of a root of host
// folders ("" if it may): the host's /proc, /sys, /dev and /run, or what
// is below them, or any kernel filesystem wherever it is mounted. A
// read-only bind stops writes to files, not connections to a socket in
// it (/run holds the init system's, D-Bus's, docker's), nor the host's
// processes /proc shows.
func hostRootRefused(p string) string {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return ""
	}
	for _, top := range []string{"/proc", "/sys", "/dev", "/run"} {
		if within(real, top) {
			why := "the host's " + top
			if real != p {
				why += " (" + p + " is " + real + ")"
			}
			return fmt.Sprintf("%s: its processes, devices, kernel settings or sockets would be the environment's (read-only stops writes to files, not a connection to a socket); give the environment its own with a mount (type: proc, dev, sysfs, or a tmpfs at %s)", why, top)
		}
	}
	var st unix.Statfs_t
	if unix.Statfs(real, &st) == nil {
		if fs, ok := kernelFS[int64(st.Type)]; ok {
			return fmt.Sprintf("%s is on a %s filesystem, the host's kernel's: give the environment its own with a mount", p, fs)
		}
	}
	return ""
}

// kernelBindRefused says why a bind of the host's src may not be made
// outside a user namespace ("" if it may): src is in the host's /proc or
// /sys, or on a kernel filesystem, or (recursive) has one mounted below
// it. Root inside would change the host's kernel settings through them
// (/proc/sys, /sys/kernel, a cgroup's release_agent, binfmt_misc), and
// read-only is no help with /proc: /proc/PID/root of a host process is
// the host's root, writable (found by a review: a bind of /sys wrote a
// host knob once sysfs's own readonly: false was refused). In a user
// namespace the kernel refuses those to root inside itself.
func (c *compiler) kernelBindRefused(src string, recursive bool) string {
	// Once per plan: environments of one file often share a root.
	return memo(&c.mu, &c.refusedBinds, refusedBind{src, recursive}, func() string { return c.kernelBindWhy(src, recursive) })
}

// refusedBind is what kernelBindRefused is asked.
type refusedBind struct {
	src       string
	recursive bool
}

// kernelBindWhy is kernelBindRefused's answer, worked out.
func (c *compiler) kernelBindWhy(src string, recursive bool) string {
	real, on, ok := bindSource(src)
	if !ok {
		return ""
	}
	for _, top := range []string{"/proc", "/sys"} {
		if within(real, top) {
			return fmt.Sprintf("%s is in the host's %s: root inside would reach the host's processes or kernel settings through it (read-only is no help: /proc/PID/root is the host's root); give the environment its own (type: proc or sysfs), or a user namespace", src, top)
		}
	}
	var st unix.Statfs_t
	if unix.Statfs(on, &st) == nil {
		if fs, ok := kernelFS[int64(st.Type)]; ok {
			return fmt.Sprintf("%s is on a %s filesystem, the host's kernel's: give the environment its own with a mount, or a user namespace", src, fs)
		}
	}
	if !recursive {
		return ""
	}
	mounts, err := c.hostMounts()
	if err != nil {
		return fmt.Sprintf("a recursive bind of %s: the host's mount table, to tell whether a kernel filesystem is mounted below it, could not be read: %v", src, err)
	}
	if m, ok := mountBelow(mounts, real, recursiveKernelFS); ok {
		return fmt.Sprintf("a recursive bind of %s brings the host's %s at %s along: root inside would reach the host's processes, terminals, message queues or kernel settings through it; bind the folders below it that you need, or give the environment a user namespace", src, m.FSType, m.Point)
	}
	return ""
}

// procBindRefused says why a bind of the host's src may not be made in
// a user namespace ("" if it may): src is in the host's /proc, or on a
// proc filesystem, or (recursive) has one mounted below it. The kernel
// refuses /proc/sys and the like to root inside, but checks a process's
// oom_score_adj, autogroup, coredump_filter and clear_refs by their
// owner, the process's uid, without a ptrace check: root inside would
// write those of every host process of the uids it maps (a review of
// the twelfth stop's fixes made another environment's process of the
// same range the OOM killer's first choice, and reniced its session's
// autogroup to 19, from an environment with a pid namespace of its own),
// and read every host process's command line.
func (c *compiler) procBindRefused(src string, recursive bool) string {
	real, on, ok := bindSource(src)
	if !ok {
		return ""
	}
	const why = procWhy + "; give the environment its own (type: proc)"
	if within(real, "/proc") {
		return fmt.Sprintf("%s is in the host's /proc: %s", src, why)
	}
	var st unix.Statfs_t
	if unix.Statfs(on, &st) == nil && kernelFS[int64(st.Type)] == "proc" {
		return fmt.Sprintf("%s is on a proc filesystem, the host's kernel's: %s", src, why)
	}
	if !recursive {
		return ""
	}
	mounts, err := c.hostMounts()
	if err != nil {
		return fmt.Sprintf("a recursive bind of %s: the host's mount table, to tell whether a proc filesystem is mounted below it, could not be read: %v", src, err)
	}
	if m, ok := mountBelow(mounts, real, map[string]bool{"proc": true}); ok {
		return fmt.Sprintf("a recursive bind of %s brings the host's proc at %s along: %s; or bind the folders below it that you need", src, m.Point, why)
	}
	return ""
}

// procWhy is what root inside a user namespace that maps root
// elsewhere would do with the host's /proc (procBindRefused, and a
// mount namespace of the host's joined by path: joinedRootfs).
const procWhy = "root inside would write the oom_score_adj, autogroup and coredump_filter of every host process of the uids it maps (the kernel checks them by owner only), and read their command lines"

// bindSource is a bind's host source as the kernel will find it: real,
// its path with symlinks resolved, and on, where it is (real itself). A
// source missing now (create: true makes it at apply) is where it would
// be made: real is the folder that exists above it, resolved, with the
// rest of the path, and on that folder, whose filesystem it will be made
// on (a review made a group of the host's pids hierarchy so, and left its
// limit). ok is false if no folder above it exists.
func bindSource(src string) (real, on string, ok bool) {
	if r, err := filepath.EvalSymlinks(src); err == nil {
		return r, r, true
	}
	for anc := filepath.Dir(src); ; anc = filepath.Dir(anc) {
		if r, err := filepath.EvalSymlinks(anc); err == nil {
			return filepath.Join(r, strings.TrimPrefix(src, anc)), r, true
		}
		if anc == "/" || anc == "." {
			return "", "", false
		}
	}
}

// mountBelow is a mount of mounts strictly below the folder dir whose
// filesystem is one of fs: what a recursive bind of dir brings along.
func mountBelow(mounts []cgroup.Mount, dir string, fs map[string]bool) (cgroup.Mount, bool) {
	for _, m := range mounts {
		if fs[m.FSType] && m.Point != dir && within(m.Point, dir) {
			return m, true
		}
	}
	return cgroup.Mount{}, false
}

// recursiveKernelFS are the filesystems a recursive bind may not bring
// along outside a user namespace: those that show the host's processes or
// change its kernel (binfmt_misc runs an interpreter of the host's), the
// host's terminals (devpts: a node of another login's terminal, and
// TIOCSTI types into it) and its POSIX message queues (mqueue).
var recursiveKernelFS = map[string]bool{
	"proc": true, "sysfs": true, "cgroup": true, "cgroup2": true, "debugfs": true, "tracefs": true,
	"securityfs": true, "bpf": true, "binfmt_misc": true, "configfs": true, "efivarfs": true, "pstore": true, "fusectl": true,
	"devpts": true, "mqueue": true,
}

// baseView is the root tree as the plan knows it, before its mounts: nil
// when it is not known (a tar root whose archive's shape is not: one the
// walk refuses, or too large a shape, tarshape.go; a root that could not
// be read).
func (ec *envCompiler) baseView() treeView {
	switch {
	case ec.rootFailed:
		return nil // reported: what it lacks is no error of the spec's
	case ec.tree != nil:
		return mapTree(ec.tree)
	case ec.e.Rootfs.Dir != "":
		return dirTree(ec.root, &ec.stats)
	}
	return ec.tarTree()
}
