package planner

import (
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nsup/nsup/spec"
)

// What confines root inside an environment beyond its namespaces, by
// default as Docker confines a container (the `security` block changes
// it): a reduced capability set, no_new_privs, Docker's default seccomp
// profile, masked and read-only paths under every proc and sysfs mount, a
// session keyring of its own, nodev binds, and resource limits.

// DefaultMaskedPaths are hidden under every proc and sysfs mount (an
// empty read-only tmpfs over a folder, /dev/null over a file), as runc
// and Docker hide them: kernel memory (kcore), the keys of every user
// (keys), timers and interrupts that leak host activity, firmware
// tables and power limits.
var DefaultMaskedPaths = []string{
	"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
	"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
	"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
}

// DefaultReadonlyPaths are made read-only under every proc mount, as runc
// and Docker do: /proc/sys holds host-wide knobs no namespace covers
// (kernel.core_pattern runs a program as host root), /proc/sysrq-trigger
// reboots the host.
var DefaultReadonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}

// DefaultNofile is the soft RLIMIT_NOFILE of an environment whose spec
// sets none (the hard limit is nsup's own): the limit programs written
// for select(2) expect, and the one most systems give a login. nsup's
// own is raised by the Go runtime, which children must not inherit.
const DefaultNofile = 1024

// UserCountLimits are the limits that the kernel checks against a count
// of the whole user (the process's uid, in its user namespace and each
// above: root inside is the host's root there), not of the process:
// queued signals (RLIMIT_SIGPENDING, against the receiver's limit) and
// POSIX message queue bytes (RLIMIT_MSGQUEUE, the creator's). Where the
// spec sets none, a process gets half of nsup's own hard limit, soft and
// hard, which root inside cannot raise (CAP_SYS_RESOURCE): environments
// together then leave the other half to the host's processes of that
// user. With nsup's own, root inside queued 96366 signals to itself and
// the host's root could queue none, nor make a POSIX timer
// (timer_create: EAGAIN), until it ended; 9 queues took the host root's
// message queue bytes (TestRootUserCountLimits).
var UserCountLimits = []string{"msgqueue", "sigpending"}

// capabilities is the set root inside keeps (Capabilities), ALL resolved
// for this host (allCapabilities).
func (ec *envCompiler) capabilities() []string {
	if !ec.capsKnown {
		if ec.addsAll() {
			ec.caps, _ = ec.allCapabilities()
		} else {
			ec.caps, _ = ec.heldDefaults(Capabilities(ec.e))
		}
		ec.capsKnown = true
	}
	return ec.caps
}

// Capabilities is the set root inside environment e keeps: the default
// set, without what `drop` names (everything for ALL), with what `add`
// names, in the kernel's order. ALL in `add` is every capability nsup
// knows: the plan keeps those of them this host can give
// (allCapabilities).
func Capabilities(e *spec.Environment) []string {
	keep := slices.Clone(DefaultCapabilities)
	if s := e.Security; s != nil {
		for _, d := range s.CapDrop {
			if d.Value == "ALL" {
				keep = nil
				break
			}
			keep = slices.DeleteFunc(keep, func(c string) bool { return c == d.Value })
		}
		for _, a := range s.CapAdd {
			if a.Value == "ALL" {
				keep = slices.Clone(spec.Capabilities)
				break
			}
			if !slices.Contains(keep, a.Value) {
				keep = append(keep, a.Value)
			}
		}
	}
	slices.SortFunc(keep, func(a, b string) int {
		return slices.Index(spec.Capabilities, a) - slices.Index(spec.Capabilities, b)
	})
	return keep
}

// capPos is the origin of the capset step.
func (ec *envCompiler) capPos(def spec.Pos) spec.Pos {
	if s := ec.e.Security; s != nil && (len(s.CapAdd) > 0 || len(s.CapDrop) > 0) {
		return s.Pos
	}
	return def
}

// noNewPrivs says whether prctl(PR_SET_NO_NEW_PRIVS) is planned, and
// where it comes from.
func (ec *envCompiler) noNewPrivs(def spec.Pos) (bool, spec.Pos) {
	if s := ec.e.Security; s != nil && s.NoNewPrivileges != nil {
		return s.NoNewPrivileges.Value, s.NoNewPrivileges.Pos
	}
	return true, def
}

// launch plans the first steps of the child stage: what every process
// to come inherits from it, set while it is one thread.
func (ec *envCompiler) launch(pos spec.Pos) {
	// Keyrings are not namespaced: without a session keyring of its own,
	// root inside would find the caller's keys (and, root of the host's
	// user namespace, root's) through request_key(2) (keyrings(7)).
	ec.add(Child, pos, Keyctl{})
	if !ec.denySetgroups {
		// nsup's supplementary groups are not the environment's: gone
		// before anything runs inside (and the processes need no
		// CAP_SETGID to start without them).
		ec.add(Child, pos, Setgroups{Groups: []uint32{}})
	}
	if ec.goInit() {
		// nsup's init is executed by the child stage: an execve by root
		// gains no more than the bounding set (capabilities(7)), about to
		// be reduced to what the environment keeps; the inheritable set,
		// raised to the permitted one while the bounding set still allows
		// it, carries the rest over that execve, so that init runs with
		// more than any process of the environment has (none of them
		// passes the ptrace access check on it) until it is no longer
		// dumpable and drops them (confine).
		ec.add(Child, pos, InheritCaps{})
	}
	// The bounding set limits what an execve of root may gain
	// (capabilities(7)): reduced here to what the environment keeps, it
	// is the bounding set of every process to come. The stage itself
	// keeps its permitted set for the setup (mounts) until Capset.
	ec.add(Child, ec.capPos(pos), CapbsetDrop{Keep: ec.capabilities()})
	if nnp, nnpPos := ec.noNewPrivs(pos); nnp {
		// No process of the environment can gain privileges by execve
		// (setuid binaries, file capabilities): prctl(2)
		// PR_SET_NO_NEW_PRIVS is inherited and cannot be unset.
		ec.add(Child, nnpPos, Prctl{Option: prSetNoNew, Arg: 1})
	}
	// While the stage is one thread and has every capability (restricting
	// itself needs no_new_privs or CAP_SYS_ADMIN), before any process of
	// the environment exists.
	ec.hostScopes(ec.nsPos(spec.NSNet))
}

// confine plans the end of the setup, by the child stage itself or by
// nsup's init (stage): the capabilities kept, the filter, and the fds
// that reach the environment.
func (ec *envCompiler) confine(stage Stage, pos spec.Pos) {
	e := ec.e
	if stage == Init {
		// nsup's init is dumpable again after its execve (and its memory
		// the environment's user namespace's): not dumpable before
		// anything else (see launch).
		ec.add(stage, pos, Prctl{Option: prSetDumpable, Arg: 0})
	}
	nnp, _ := ec.noNewPrivs(pos)
	filter := ec.seccomp()
	if filter != nil {
		// nsup's init has threads: the filter goes on every one of them
		// (TSYNC). The child stage is one thread.
		f := filter.op.(Seccomp)
		if stage == Init {
			f.Flags = unix.SECCOMP_FILTER_FLAG_TSYNC
		} else {
			f.Flags = 0
		}
		filter.op = f
	}
	if filter != nil && !nnp {
		// Without no_new_privs, loading a filter needs CAP_SYS_ADMIN
		// (seccomp(2)), which capset is about to drop; the steps after it
		// are allowed by every profile that lets a process run at all.
		ec.add(stage, filter.pos, filter.op)
	}
	// A root process inside keeps only what a program may need of root's
	// powers in its own sandbox; without CAP_SYS_ADMIN, CAP_MKNOD,
	// CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_SYS_PTRACE and the like it cannot
	// mount, make a device node of the host's disk, load a module or read
	// the host's memory. After the mounts, which needed CAP_SYS_ADMIN. In
	// nsup's init on every thread (capabilities are a thread's), so that
	// whatever thread init starts a process from, nsup exec's command
	// included, it has these and no more; the inheritable set is emptied.
	ec.add(stage, ec.capPos(pos), Capset{Keep: ec.capabilities()})
	if ec.stateDir != "" || e.InitEnabled() {
		// Named, PID 1 reads as what it is in ps, inside and on the host
		// (executed through an fd, init would be named after its number).
		ec.add(stage, pos, Prctl{Option: prSetName, Name: InitName})
	}
	if stage == Init && !ec.isNew(spec.NSPID) {
		// Init is not PID 1 of a pid namespace of its own, so the kernel
		// does not kill what is left when it exits: it is the tree's
		// child subreaper instead (orphans become its children), and kills
		// what is left before it exits.
		ec.add(stage, pos, Prctl{Option: prSetSubreaper, Arg: 1})
	}
	// Only 0, 1 and 2 reach the environment; nsup's own fds are closed at
	// the next execve.
	ec.add(stage, pos, CloseRange{First: 3})
	if filter != nil && nnp {
		// The filter last, so that it confines the environment's processes
		// and nothing of nsup's setup.
		ec.add(stage, filter.pos, filter.op)
	}
}

// processLimits are the resource limits a process is started with (set
// by init in the new process, before its credentials change, so that
// init itself is not held to them): the environment's, with the
// process's own in their place, and a soft RLIMIT_NOFILE of
// DefaultNofile under nsup's own hard limit where neither sets one. A
// hard limit above nsup's own is refused: raising one needs
// CAP_SYS_RESOURCE in the host's user namespace (setrlimit(2)), which a
// user namespace does not give.
func (ec *envCompiler) processLimits(p *spec.Process, field string) []Prlimit {
	set := spec.EffectiveRlimits(ec.e.Rlimits, p.Rlimits)
	unset := func(name string) bool {
		return !slices.ContainsFunc(set, func(r spec.Rlimit) bool { return r.Name == name })
	}
	var out []Prlimit
	if unset("nofile") {
		hard := ec.caller.hardLimit("nofile")
		out = append(out, Prlimit{Resource: unix.RLIMIT_NOFILE, Soft: min(DefaultNofile, hard), Hard: hard})
	}
	for _, name := range UserCountLimits {
		if hard := ec.caller.hardLimit(name); hard != RlimInfinity && unset(name) {
			res, _ := ResourceByName(name)
			out = append(out, Prlimit{Resource: res, Soft: hard / 2, Hard: hard / 2})
		}
	}
	for _, r := range set {
		res, _ := ResourceByName(r.Name)
		out = append(out, Prlimit{Resource: res, Soft: r.Soft, Hard: r.Hard})
	}
	return out
}

// checkRlimits refuses the hard limits nsup cannot set, where the spec
// sets them.
func (ec *envCompiler) checkRlimits() {
	check := func(rs []spec.Rlimit, field string) {
		for _, r := range rs {
			if own := ec.caller.hardLimit(r.Name); r.Hard > own && !ec.caller.RaiseLimits {
				ec.errorf(r.Pos, field+".rlimits."+r.Name, "hard limit %s is above nsup's own (%s): raising a hard limit needs CAP_SYS_RESOURCE, which nsup does not have",
					limit(r.Hard), limit(own))
			}
		}
	}
	check(ec.e.Rlimits, ec.field)
	var walk func(ps []*spec.Process, field string)
	walk = func(ps []*spec.Process, field string) {
		for i, p := range ps {
			f := fmt.Sprintf("%s[%d]", field, i)
			check(p.Rlimits, f)
			walk(p.Children, f+".children")
		}
	}
	walk(ec.e.Process, ec.field+".processes")
}

// limitPos is where a process's limit of resource r comes from: its own
// rlimits, the environment's, or (the default) the process.
func (ec *envCompiler) limitPos(p *spec.Process, r Resource) spec.Pos {
	for _, rs := range [][]spec.Rlimit{p.Rlimits, ec.e.Rlimits} {
		for _, x := range rs {
			if x.Name == r.Name() {
				return x.Pos
			}
		}
	}
	return p.Pos
}

// hardLimit is the caller's hard limit of a resource (RLIM_INFINITY when
// unknown).
func (c Caller) hardLimit(name string) uint64 {
	if v, ok := c.HardLimits[name]; ok {
		return v
	}
	return RlimInfinity
}

// confinedPath is one masked or read-only path, planned after the mount
// that holds it.
type confinedPath struct {
	path     string // inside the environment
	written  string // as the spec writes it, when a link at its end led it to path
	host     string // where its existence is checked on the host, or ""
	pos      spec.Pos
	field    string
	readonly bool
}

// confinedPaths assigns the masked and read-only paths to the mounts
// that hold them: by index into e.Mounts, len(e.Mounts) for those in the
// rootfs itself (planned after every mount); nil for a mount without. The defaults are Docker's,
// under every proc and sysfs mount (a /proc/X default under a proc
// mounted on /host-proc is /host-proc/X); a list in the spec replaces
// them and names paths inside the environment.
func (ec *envCompiler) confinedPaths() [][]confinedPath {
	e := ec.e
	out := make([][]confinedPath, len(e.Mounts)+1)
	// holder is the last mount whose target holds p, or -1.
	holder := func(p string) int {
		for i := len(e.Mounts) - 1; i >= 0; i-- {
			if within(p, e.Mounts[i].Target) {
				return i
			}
		}
		return -1
	}
	hostOf := func(i int, p string) string {
		if i < 0 {
			return ""
		}
		m := e.Mounts[i]
		rel := strings.TrimPrefix(strings.TrimPrefix(p, m.Target), "/")
		switch m.Type {
		case spec.MountProc:
			return path.Join("/proc", rel)
		case spec.MountSysfs:
			return path.Join("/sys", rel)
		case spec.MountBind:
			return path.Join(m.Source, rel)
		}
		return ""
	}
	add := func(custom *spec.Paths, defaults []string, readonly bool, key string) {
		if custom != nil {
			for j, p := range custom.Paths {
				field := fmt.Sprintf("%s.security.%s[%d]", ec.field, key, j)
				v := ec.confinedLink(p.Value, field)
				i := holder(v)
				at := i
				if i < 0 {
					at = len(e.Mounts)
				}
				c := confinedPath{path: v, host: hostOf(i, v), pos: p.Pos, field: field, readonly: readonly}
				if v != p.Value {
					c.written = p.Value
				}
				out[at] = append(out[at], c)
			}
			return
		}
		for i, m := range e.Mounts {
			var under string
			switch m.Type {
			case spec.MountProc:
				under = "/proc"
			case spec.MountSysfs:
				under = "/sys"
			default:
				continue
			}
			for _, d := range defaults {
				rel, ok := strings.CutPrefix(d, under+"/")
				if !ok {
					continue
				}
				p := d // mounted where the host has it: the same path
				if m.Target != under {
					p = path.Join(m.Target, rel)
				}
				if out[i] == nil {
					out[i] = make([]confinedPath, 0, len(DefaultReadonlyPaths)+len(DefaultMaskedPaths))
				}
				out[i] = append(out[i], confinedPath{path: p, host: d, pos: m.Pos, readonly: readonly})
			}
		}
	}
	var masked, ro *spec.Paths
	if s := e.Security; s != nil {
		masked, ro = s.MaskedPaths, s.ReadonlyPaths
	}
	add(ro, DefaultReadonlyPaths, true, "readonly_paths")
	add(masked, DefaultMaskedPaths, false, "masked_paths")
	return out
}

// readonlyKept refuses a readonly_paths that leaves one of the default
// read-only paths of a proc mount writable, outside a user namespace that
// maps root elsewhere: /proc/sys (core_pattern runs a program as the
// host's root), /proc/sysrq-trigger, /proc/irq, /proc/bus, /proc/fs
// change the host's kernel, which no namespace covers (found by a review,
// as sysfs's readonly: false, which is refused too). A folder listed
// above one keeps it read-only.
func (ec *envCompiler) readonlyKept() {
	e := ec.e
	// With CAP_SYS_ADMIN kept, root inside unmounts them as it likes: the
	// spec asks for a privileged environment, and read-only paths hold
	// nothing there.
	if e.Security == nil || e.Security.ReadonlyPaths == nil || ec.confiningUserNS() || slices.Contains(ec.capabilities(), "CAP_SYS_ADMIN") {
		return
	}
	ro := e.Security.ReadonlyPaths
	var left []string
	for _, m := range e.Mounts {
		if m.Type != spec.MountProc {
			continue
		}
		for _, d := range DefaultReadonlyPaths {
			p := path.Join(m.Target, strings.TrimPrefix(d, "/proc/"))
			if _, ok := ec.pathKind(confinedPath{path: p, host: d}); !ok {
				continue // this kernel has none (no CONFIG_MAGIC_SYSRQ, say)
			}
			if !slices.ContainsFunc(ro.Paths, func(q spec.String) bool { return within(p, path.Clean(q.Value)) }) {
				left = append(left, p)
			}
		}
	}
	if len(left) > 0 {
		ec.errorf(ro.Pos, ec.field+".security.readonly_paths", "leaves %s writable: root inside would change the host's kernel through them (/proc/sys/kernel/core_pattern runs a program as the host's root); list them too, leave readonly_paths out (the default), or give the environment a user namespace that maps root elsewhere (idmap)", strings.Join(left, ", "))
	}
}

// confinePaths plans the masked and read-only paths held by mount i (or
// by the rootfs, i = len(mounts)). A path this kernel does not have (a
// default such as /proc/timer_stats, gone since Linux 4.11) is skipped,
// and the plan says so.
//
// held is the target of the held mount (Held: a proc, a sysfs, a bind)
// that holds them, or that the mount holding them (a tmpfs) is resolved
// beneath, or "": its paths are resolved beneath that mount's fd
// (Beneath), through the tmpfs where one lies between.
func (ec *envCompiler) confinePaths(paths []confinedPath, held string) {
	var skipped []string
	for _, c := range paths {
		isDir, ok := ec.pathKind(c)
		if !ok {
			skipped = append(skipped, c.path)
			continue
		}
		beneath := ""
		if held != "" && within(c.path, held) {
			beneath = held
		}
		in := func(target, source, fstype string, flags MountFlags, create string) {
			ec.add(Child, c.pos, Mount{Source: source, Target: target, FSType: fstype, Flags: flags,
				Root: ec.root, InRoot: true, Create: create, Confine: ConfineMasked, Beneath: beneath})
		}
		switch {
		case c.readonly:
			// A bind of the path onto itself, then read-only (and nosuid,
			// nodev, noexec), with whatever is mounted below it.
			ec.add(Child, c.pos, Mount{Source: c.path, SourceInRoot: true, Target: c.path, Flags: msBIND | msREC,
				Root: ec.root, InRoot: true, Confine: ConfineReadonly, Detached: true, Beneath: beneath})
			ec.add(Child, c.pos, MountSetattr{Path: c.path, Root: ec.root, InRoot: true, Recursive: true,
				Set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC, Confine: ConfineReadonly, ByFD: true})
		case isDir:
			in(c.path, "tmpfs", "tmpfs", msRDONLY|msNOSUID|msNODEV|msNOEXEC, "")
		default:
			ec.add(Child, c.pos, Mount{Source: "/dev/null", Target: c.path, Flags: msBIND,
				Root: ec.root, InRoot: true, Confine: ConfineMasked, Beneath: beneath, Detached: true})
			ec.add(Child, c.pos, hostNodeReadonly(c.path, ec.root, ConfineMasked))
		}
	}
	ec.skipped = append(ec.skipped, skipped...)
}

// pathKind says whether a confined path is a folder, and whether it
// exists: on the host for what a proc, sysfs or bind mount shows, in the
// tree for the rootfs's own paths (a tar root's whose shape is not known,
// tarshape.go: its paths are taken as folders, and must exist at apply).
func (ec *envCompiler) pathKind(c confinedPath) (isDir, ok bool) {
	if c.host != "" {
		// Asked once per plan: environments share their /proc paths.
		ec.mu.Lock()
		defer ec.mu.Unlock()
		if r, ok := ec.hostPaths[c.host]; ok {
			return r[0], r[1]
		}
		isDir, ok := ec.opts.HostPath(c.host)
		if ec.hostPaths == nil {
			ec.hostPaths = map[string][2]bool{}
		}
		ec.hostPaths[c.host] = [2]bool{isDir, ok}
		return isDir, ok
	}
	t := ec.baseView()
	if t == nil {
		return true, true
	}
	f, found := resolveIn(t, c.path)
	if !found {
		return false, false
	}
	return f.Type == "dir", true
}

// hostPath is the default Options.HostPath: lstat(2) on the host.
func hostPath(p string) (isDir, ok bool) {
	st, err := os.Lstat(p)
	if err != nil {
		return false, false
	}
	return st.IsDir(), true
}

// DefaultCapabilities are the capabilities a root process keeps inside an
// environment: Docker's default set without CAP_MKNOD (nsup confines no
// device by cgroup, so a device node could reach the host's disks) and
// without CAP_NET_RAW (raw sockets: spoofing on shared networks).
var DefaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_AUDIT_WRITE", "CAP_SETFCAP",
}
