package oci

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
)

// Annotations export writes, so that Import gives the environment and its
// main process their names back.
const (
	AnnotationEnvironment = "dev.nsup.environment"
	AnnotationProcess     = "dev.nsup.process"
)

// RootfsDir is the bundle's root filesystem, relative to the bundle (the
// name runtime-spec's bundle.md recommends).
const RootfsDir = "rootfs"

// Note is a key of one side that has no exact equivalent on the other: it
// was translated into something close, as Msg says, or (in a Refused
// error) not translated at all.
type Note struct {
	// Origin is FILE:LINE:COL of the spec node (export), or the config
	// file's name (import).
	Origin string
	// Key is the spec's field path (environments.web.rootfs.overlay) or
	// the config's (process.rlimits).
	Key string
	Msg string
}

func (n Note) String() string { return n.Origin + ": " + n.Key + ": " + n.Msg }

// Refused lists every key of an environment that has no OCI equivalent
// and no faithful translation; with one of them, no bundle is made.
type Refused []Note

func (r Refused) Error() string {
	lines := make([]string, len(r))
	for i, n := range r {
		lines[i] = n.String()
	}
	return strings.Join(lines, "\n")
}

// Bundle is one environment translated for an OCI runtime.
type Bundle struct {
	// Config is config.json; its root.path is RootfsDir.
	Config *specs.Spec
	// Rootfs is the plan's rootfs step: the tree to copy into RootfsDir.
	Rootfs planner.Rootfs
	// Notes says what was translated into something other than itself.
	Notes []Note
}

// ociNS is the OCI name of a spec-v1 namespace type (spec.Namespaces).
func ociNS(t string) specs.LinuxNamespaceType {
	if n, ok := spec.NamespaceOf(t); ok {
		return specs.LinuxNamespaceType(n.OCI)
	}
	return specs.LinuxNamespaceType(t)
}

// devLink reports whether link -> target is one of the links of nsup's
// `type: dev` that every OCI runtime makes in /dev by itself (runtime-spec
// config-linux.md, "Default Devices", and runc/crun's /dev/fd, stdin,
// stdout, stderr links).
func devLink(link, target string) bool {
	switch link {
	case "/dev/ptmx":
		return target == "pts/ptmx"
	case "/dev/fd":
		return target == "/proc/self/fd"
	case "/dev/stdin":
		return target == "/proc/self/fd/0"
	case "/dev/stdout":
		return target == "/proc/self/fd/1"
	case "/dev/stderr":
		return target == "/proc/self/fd/2"
	}
	return false
}

// defaultDevice reports whether p is one of the device nodes every OCI
// runtime makes in /dev ("Default Devices"): those nsup's dev binds.
func defaultDevice(p string) bool {
	switch p {
	case "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty":
		return true
	}
	return false
}

// Export translates environment name of p (compiled from s) into a bundle.
// Every key of the environment maps onto the config, is translated with a
// Note, or is refused: the error is then Refused, listing each such key.
func Export(s *spec.Spec, p *planner.Plan, name string) (*Bundle, error) {
	e := s.Env(name)
	var pe *planner.Env
	for i := range p.Environments {
		if p.Environments[i].Name == name {
			pe = &p.Environments[i]
		}
	}
	if e == nil || pe == nil {
		return nil, fmt.Errorf("%s: no environment named %q", s.File, name)
	}
	x := &exporter{s: s, e: e, key: "environments." + name, ns: map[string]string{}}
	x.keys()
	if len(x.refused) > 0 {
		return nil, x.refused
	}
	x.cfg = &specs.Spec{
		Root:        &specs.Root{Path: RootfsDir},
		Process:     &specs.Process{},
		Linux:       &specs.Linux{},
		Annotations: map[string]string{AnnotationEnvironment: name},
	}
	for i, st := range pe.Steps {
		if err := x.step(st); err != nil {
			return nil, fmt.Errorf("%s: step %d: %s: %w", st.Origin, i, planner.FormatOp(st.Op), err)
		}
	}
	for _, t := range spec.NamespaceTypes {
		if p, ok := x.ns[t]; ok {
			x.cfg.Linux.Namespaces = append(x.cfg.Linux.Namespaces, specs.LinuxNamespace{Type: ociNS(t), Path: p})
		}
	}
	if x.cfg.Process.Args == nil {
		return nil, fmt.Errorf("%s: environment %s: the plan starts no main process", s.File, name)
	}
	x.finish()
	x.cfg.Version = ociVersion(x.cfg)
	return &Bundle{Config: x.cfg, Rootfs: x.rootfs, Notes: x.notes}, nil
}

// ociVersion is the oldest runtime-spec release that defines every field
// (and value) the config uses: runtimes refuse versions newer than they
// know (crun 1.8, Debian 12's, refuses anything above 1.1), and a config
// is valid under every later 1.x release. New in 1.1.0 and used here:
// domainname, a time namespace and its offsets, the recursive mount
// options (rro, rnosuid...: config.md lists them since 1.1.0), and in
// seccomp defaultErrnoRet, errnoRet, SCMP_ACT_KILL_PROCESS and
// SCMP_ACT_KILL_THREAD, SCMP_ACT_NOTIFY and its listener, the flag
// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Docker's default profile has
// defaultErrnoRet and errnoRet).
func ociVersion(c *specs.Spec) string {
	const v11 = "1.1.0"
	for _, n := range c.Linux.Namespaces {
		if n.Type == specs.TimeNamespace {
			return v11
		}
	}
	if c.Domainname != "" || len(c.Linux.TimeOffsets) > 0 {
		return v11 // domainname and timeOffsets are new in 1.1.0
	}
	for _, m := range c.Mounts {
		for _, o := range m.Options {
			if recursiveOption(o) {
				return v11
			}
		}
	}
	if s := c.Linux.Seccomp; s != nil {
		if s.DefaultErrnoRet != nil || s.ListenerPath != "" || s.ListenerMetadata != "" || seccomp11Action(s.DefaultAction) {
			return v11
		}
		for _, f := range s.Flags {
			if f == specs.LinuxSeccompFlagWaitKillableRecv {
				return v11
			}
		}
		for _, a := range s.Architectures {
			if a == specs.ArchRISCV64 {
				return v11
			}
		}
		for _, r := range s.Syscalls {
			if r.ErrnoRet != nil || seccomp11Action(r.Action) {
				return v11
			}
		}
	}
	return "1.0.2"
}

// seccomp11Action reports whether a seccomp action is new in runtime-spec
// 1.1.0.
func seccomp11Action(a specs.LinuxSeccompAction) bool {
	switch a {
	case specs.ActKillProcess, specs.ActKillThread, specs.ActNotify:
		return true
	}
	return false
}

type exporter struct {
	s       *spec.Spec
	e       *spec.Environment
	key     string
	cfg     *specs.Spec
	rootfs  planner.Rootfs
	ns      map[string]string // spec-v1 type -> "" (new) or the joined path
	notes   []Note
	refused Refused
}

func (x *exporter) note(pos spec.Pos, key, format string, args ...any) {
	x.notes = append(x.notes, Note{Origin: x.s.Origin(pos), Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (x *exporter) refuse(pos spec.Pos, key, format string, args ...any) {
	x.refused = append(x.refused, Note{Origin: x.s.Origin(pos), Key: key, Msg: fmt.Sprintf(format, args...)})
}

// keys goes over the spec's keys that have no exact OCI equivalent. The
// rest map one to one and are read from the plan's steps.
func (x *exporter) keys() {
	e := x.e
	for _, j := range e.Join {
		if !j.IsPath() {
			x.refuse(j.Pos, x.key+".join."+j.Type,
				"refused: a bundle joins a namespace only by path (linux.namespaces[].path), and environment %q does not exist until it runs: run it first and join its namespace by path (join: {%s: /proc/PID/ns/%s}), or put both containers in one Kubernetes pod",
				j.Ref, j.Type, j.Type)
		}
	}
	// One process per container: OCI starts exactly process.args.
	for i, p := range e.Process {
		key := fmt.Sprintf("%s.processes[%d]", x.key, i)
		if i > 0 {
			x.refuse(p.Pos, key, "refused: an OCI container runs one process (process.args); split %q into an environment of its own, or run a supervisor as the main process", p.Name)
		}
		var walk func(ps []*spec.Process, key string)
		walk = func(ps []*spec.Process, key string) {
			for j, c := range ps {
				k := fmt.Sprintf("%s.children[%d]", key, j)
				x.refuse(c.Pos, k, "refused: an OCI container runs one process, with no children started or stopped by the runtime; start %q from the main process instead", c.Name)
				walk(c.Children, k)
			}
		}
		walk(p.Children, key)
	}
	for i, m := range e.Mounts {
		if m.Type == spec.MountDev && m.Target != "/dev" {
			x.refuse(m.Pos, fmt.Sprintf("%s.mounts[%d]", x.key, i),
				"refused: type dev at %s: OCI runtimes make the /dev links (ptmx, fd, stdin, stdout, stderr) in /dev only", m.Target)
		}
	}
	if e.Rootfs.Overlay {
		x.note(e.Rootfs.Pos, x.key+".rootfs.overlay",
			"translated: a writable root (root.readonly: false) on the bundle's own copy of the tree; the spec's source is never written, but changes persist in %s/ from one run to the next (podman and Kubernetes run an image, whose fresh writable layer vanishes with the container, as the overlay does)", RootfsDir)
	}
	if e.InitEnabled() {
		pos, how := e.ProcessesPos, "default true"
		if e.Init != nil {
			pos, how = e.Init.Pos, "true"
		}
		x.note(pos, x.key+".init", "translated: OCI has no init (%s here): the main process runs as PID 1, as with init: false, and must reap its orphans and handle SIGTERM itself (or use podman run --init, or tini)", how)
	}
}

// step translates one step of the plan. Every operation type has a case,
// even those the runtime performs by itself (its own root switch, its own
// re-execution), so that a new operation cannot be forgotten (the test
// runs every planner.AllOps through this switch).
func (x *exporter) step(st planner.Step) error {
	c := x.cfg
	switch op := st.Op.(type) {
	case planner.Rootfs:
		x.rootfs = op
	case planner.Setns:
		if op.Env != "" {
			return nil // refused in keys
		}
		t, err := nsType(op.NSType)
		if err != nil {
			return err
		}
		x.ns[t] = op.Path
	case planner.Fork:
		// nsup's single-threaded copy that enters user, mount, pid and
		// time namespaces; the runtime enters them its own way.
	case planner.Clone:
		return x.newNS(op.Flags &^ unix.CLONE_PARENT)
	case planner.Unshare:
		return x.newNS(op.Flags)
	case planner.UIDMap:
		// Written directly or by newuidmap for rootless nsup: the same
		// linux.uidMappings (the engine maps its own way).
		x.cfg.Linux.UIDMappings = idMappings(op.Lines)
	case planner.GIDMap:
		x.cfg.Linux.GIDMappings = idMappings(op.Lines)
	case planner.DenySetgroups:
		// Written "deny" for an unprivileged writer of gid_map: the
		// runtime does the same when it must.
	case planner.TimeOffsets:
		x.cfg.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{
			"monotonic": timeOffset(op.Monotonic), "boottime": timeOffset(op.Boottime)}
	case planner.Execve:
		if st.Stage == planner.Proc { // the main process (the only one: keys)
			c.Process.Args, c.Process.Env = op.Argv, op.Env
			x.processName()
		}
		// The child stage's execution of nsup's init: the runtime is its own.
	case planner.Mount:
		return x.mount(op)
	case planner.Overlay:
		c.Root.Readonly = false // noted in keys
		if op.NoDev {
			x.rootNodev()
		}
	case planner.Symlink:
		if !devLink(op.Link, op.Target) {
			return fmt.Errorf("a symlink %s -> %s has no OCI equivalent", op.Link, op.Target)
		}
		// Made by the runtime in /dev.
	case planner.LinkUp:
		if op.Name != "lo" {
			return fmt.Errorf("interface %s: OCI runtimes bring up only lo", op.Name)
		}
		// runc and crun bring lo up in a new network namespace.
	case planner.Sethostname:
		c.Hostname = op.Name
	case planner.Setdomainname:
		c.Domainname = op.Name
	case planner.PivotRoot, planner.Umount2, planner.CloseRange:
		// The runtime's own root switch (pivot_root, old root detached)
		// and its own closing of every fd but stdio.
	case planner.Chdir:
		if st.Stage == planner.Proc {
			c.Process.Cwd = op.Path
		}
	case planner.Prctl:
		switch op.Option {
		case unix.PR_SET_NO_NEW_PRIVS:
			c.Process.NoNewPrivileges = op.Arg == 1
		case unix.PR_SET_PDEATHSIG:
			// nsup's own link to the environment; the runtime has its own.
		case unix.PR_SET_NAME:
			// the name of nsup's init, which OCI has not.
		case unix.PR_SET_DUMPABLE:
			// nsup's detached init, which holds nsup's lock and control
			// socket; runc's init makes itself non-dumpable too.
		case unix.PR_SET_CHILD_SUBREAPER:
			// nsup's init without a pid namespace of its own, which kills
			// what the tree leaves; the runtime's container has its own.
		default:
			return fmt.Errorf("prctl %s has no OCI equivalent", op.Option)
		}
	case planner.Keyctl:
		// A new session keyring of its own: runc and crun join a new
		// session keyring for every container by themselves.
	case planner.InheritCaps:
		// How nsup's child stage carries its capabilities over the execve
		// of nsup's init; the
		// runtime sets the container's sets from process.capabilities.
	case planner.CapbsetDrop:
		x.caps().Bounding = slices.Clone(op.Keep)
	case planner.Capset:
		// The permitted and effective sets of a root process; finish
		// empties them for another uid, as its setresuid does.
		cp := x.caps()
		cp.Effective, cp.Permitted = slices.Clone(op.Keep), slices.Clone(op.Keep)
	case planner.Seccomp:
		// The resolved profile the program was compiled from: the
		// runtime compiles it again (libseccomp for runc and crun).
		if op.Rules == nil {
			return fmt.Errorf("a seccomp filter without its rules has no OCI equivalent")
		}
		b, err := json.Marshal(op.Rules)
		if err != nil {
			return err
		}
		c.Linux.Seccomp = &specs.LinuxSeccomp{}
		if err := json.Unmarshal(b, c.Linux.Seccomp); err != nil {
			return err
		}
	case planner.MountSetattr:
		return x.setattr(op)
	case planner.Prlimit:
		if st.Stage != planner.Proc {
			return fmt.Errorf("prlimit64 outside the main process has no OCI equivalent")
		}
		// The main process's own limits.
		x.rlimits(op)
	case planner.Openpty, planner.Setctty:
		// nsup's stdin was a terminal when planned: the process gets a
		// terminal of its own (the runtime's pty, relayed by it, or
		// handed to the engine's console socket).
		c.Process.Terminal = true
	case planner.Setgroups:
		if len(op.Groups) > 0 {
			c.Process.User.AdditionalGids = append([]uint32(nil), op.Groups...)
		}
	case planner.Setresgid:
		c.Process.User.GID = op.GID
	case planner.Setresuid:
		c.Process.User.UID = op.UID
	case planner.Spawn, planner.Monitor:
		// How nsup starts the main process (the only one: keys), from its
		// init or its minimal PID 1; the runtime starts process.args
		// itself, as PID 1.
	case planner.Setsid:
		// nsup's own session or process group for the environment; the
		// runtime (or the engine above it) puts its container in its own.
	case planner.Mkdir, planner.Flock, planner.Stdio, planner.Listen, planner.SaveState:
		// nsup apply -d's state (/run/nsup/ENV); a runtime keeps its own.
	default:
		return fmt.Errorf("unhandled operation %T", op)
	}
	return nil
}

// caps is the process's capabilities, made when first needed.
func (x *exporter) caps() *specs.LinuxCapabilities {
	if x.cfg.Process.Capabilities == nil {
		x.cfg.Process.Capabilities = &specs.LinuxCapabilities{}
	}
	return x.cfg.Process.Capabilities
}

// rlimits adds resource limits of the main process to process.rlimits.
func (x *exporter) rlimits(rs ...planner.Prlimit) {
	for _, r := range rs {
		x.cfg.Process.Rlimits = append(x.cfg.Process.Rlimits, specs.POSIXRlimit{Type: r.Resource.String(), Hard: r.Hard, Soft: r.Soft})
	}
}

// finish completes what the steps give in pieces.
func (x *exporter) finish() {
	c := x.cfg
	// A process of another uid than 0 starts with no permitted or
	// effective capability under nsup: its setresuid from root clears
	// them (capabilities(7)), and its execve gives none back. A runtime
	// sets process.capabilities after it changes uid: they must say so.
	if cp := c.Process.Capabilities; cp != nil && c.Process.User.UID != 0 {
		cp.Effective, cp.Permitted = nil, nil
	}
	// In one order whatever the plan's (runtimes set them all before the
	// process starts): by name.
	sort.SliceStable(c.Process.Rlimits, func(i, j int) bool { return c.Process.Rlimits[i].Type < c.Process.Rlimits[j].Type })
	x.skippedPaths()
}

// skippedPaths notes the paths of the spec's own masked_paths and
// readonly_paths that the plan does not confine: they were not there when
// planned (the plan skips them, as runtimes skip a missing path).
func (x *exporter) skippedPaths() {
	s := x.e.Security
	if s == nil {
		return
	}
	for _, l := range []struct {
		paths *spec.Paths
		key   string
		got   []string
		oci   string
	}{
		{s.MaskedPaths, "masked_paths", x.cfg.Linux.MaskedPaths, "linux.maskedPaths"},
		{s.ReadonlyPaths, "readonly_paths", x.cfg.Linux.ReadonlyPaths, "linux.readonlyPaths"},
	} {
		if l.paths == nil {
			continue
		}
		for i, p := range l.paths.Paths {
			if !slices.Contains(l.got, p.Value) {
				x.note(p.Pos, fmt.Sprintf("%s.security.%s[%d]", x.key, l.key, i),
					"not there when planned, so neither confined by nsup nor listed in %s", l.oci)
			}
		}
	}
}

func (x *exporter) processName() {
	if len(x.e.Process) > 0 {
		x.cfg.Annotations[AnnotationProcess] = x.e.Process[0].Name
	}
}

func nsType(f planner.CloneFlags) (string, error) {
	if n, ok := spec.NamespaceOfFlag(uint64(f)); ok {
		return n.Name, nil
	}
	return "", fmt.Errorf("unknown namespace flag %s", f)
}

func (x *exporter) newNS(flags planner.CloneFlags) error {
	for f := planner.CloneFlags(1); f != 0 && f <= flags; f <<= 1 {
		if flags&f == 0 {
			continue
		}
		t, err := nsType(f)
		if err != nil {
			return err
		}
		x.ns[t] = ""
	}
	return nil
}

// idMappings converts map lines to OCI's form.
func idMappings(lines []planner.IDMapLine) []specs.LinuxIDMapping {
	out := make([]specs.LinuxIDMapping, len(lines))
	for i, l := range lines {
		out[i] = specs.LinuxIDMapping{ContainerID: l.Inside, HostID: l.Outside, Size: l.Count}
	}
	return out
}

// timeOffset splits nanoseconds as OCI's linux.timeOffsets (and
// timens_offsets) hold them: seconds, and 0 <= nanoseconds < 1e9.
func timeOffset(ns int64) specs.LinuxTimeOffset {
	sec, nsec := ns/1e9, ns%1e9
	if nsec < 0 {
		sec--
		nsec += 1e9
	}
	return specs.LinuxTimeOffset{Secs: sec, Nanosecs: uint32(nsec)}
}

// flagOptions are the mount(2) flags that OCI mount options name, in the
// order export writes them. MS_BIND and MS_REC are "bind" and "rbind".
var flagOptions = []struct {
	flag planner.MountFlags
	name string
}{
	{unix.MS_RDONLY, "ro"}, {unix.MS_NOSUID, "nosuid"}, {unix.MS_NODEV, "nodev"}, {unix.MS_NOEXEC, "noexec"},
	{unix.MS_RELATIME, "relatime"}, {unix.MS_NOATIME, "noatime"}, {unix.MS_STRICTATIME, "strictatime"},
	{unix.MS_NODIRATIME, "nodiratime"},
}

func flagNames(f planner.MountFlags) ([]string, planner.MountFlags) {
	var out []string
	for _, o := range flagOptions {
		if f&o.flag != 0 {
			out = append(out, o.name)
			f &^= o.flag
		}
	}
	return out, f
}

// mount translates a mount step. The spec's mounts are the steps resolved
// inside the root; the others are the root's own setup.
func (x *exporter) mount(op planner.Mount) error {
	c := x.cfg
	const bindRec = unix.MS_BIND | unix.MS_REC
	switch op.Confine {
	case planner.ConfineMasked:
		// An empty read-only tmpfs over a folder, /dev/null over a file:
		// what runtimes do for a masked path.
		c.Linux.MaskedPaths = append(c.Linux.MaskedPaths, op.Target)
		return nil
	case planner.ConfineReadonly:
		// The path bound onto itself, then made read-only (setattr): what
		// runtimes do for a read-only path.
		c.Linux.ReadonlyPaths = append(c.Linux.ReadonlyPaths, op.Target)
		return nil
	case "":
	default:
		return fmt.Errorf("a mount confining %q has no OCI equivalent", op.Confine)
	}
	if !op.InRoot {
		switch {
		case op.Target == "/" && op.Flags == unix.MS_REC|unix.MS_PRIVATE:
			// nsup makes every mount private before mounting anything.
			c.Linux.RootfsPropagation = "private"
		case op.Source != "" && op.Source == op.Target && op.Flags == bindRec:
			// The root bound onto itself for pivot_root: the runtime's own.
		default:
			return fmt.Errorf("a mount outside the root's setup has no OCI equivalent")
		}
		return nil
	}
	if op.Flags&unix.MS_REMOUNT != 0 {
		// A remount applies flags to the mount just made at Target (a
		// readonly dev): in OCI, its options.
		m := x.mountAt(op.Target)
		if m == nil {
			return fmt.Errorf("a remount of %s, which is not mounted", op.Target)
		}
		names, rest := flagNames(op.Flags &^ (unix.MS_REMOUNT | unix.MS_BIND))
		if rest != 0 {
			return fmt.Errorf("remount flags %s have no OCI option", rest)
		}
		addOptions(m, names...)
		return nil
	}
	if _, userns := x.ns[spec.NSUser]; userns && op.Flags == unix.MS_BIND && op.Source == op.Target && defaultDevice(op.Target) {
		// In a new user namespace, runtimes bind the default devices from
		// the host by themselves (they cannot mknod), as nsup's dev does;
		// a second bind of /dev/tty fails in runc (it opens the node).
		return nil
	}
	m := specs.Mount{Destination: op.Target, Type: op.FSType, Source: op.Source}
	flags := op.Flags
	if flags&unix.MS_BIND != 0 {
		m.Type = "bind"
		m.Options = []string{"bind"}
		// A file has no mount below it: its bind, recursive or not, is
		// one mount, written bind, whose options need no recursive
		// form (and crun 1.8 refuses one on a file: "open mount target:
		// Not a directory").
		if flags&unix.MS_REC != 0 && op.Create != "file" {
			m.Options = []string{"rbind"}
		}
		flags &^= bindRec
	}
	names, rest := flagNames(flags)
	if rest != 0 {
		return fmt.Errorf("mount flags %s have no OCI option", rest)
	}
	m.Options = append(m.Options, names...)
	if op.Data != "" {
		m.Options = append(m.Options, strings.Split(op.Data, ",")...)
	}
	sortOptions(m.Options)
	c.Mounts = append(c.Mounts, m)
	return nil
}

// mountAt is the last mount of the config at target, or nil.
func (x *exporter) mountAt(target string) *specs.Mount {
	for i := len(x.cfg.Mounts) - 1; i >= 0; i-- {
		if x.cfg.Mounts[i].Destination == target {
			return &x.cfg.Mounts[i]
		}
	}
	return nil
}

// addOptions adds options a mount does not have yet, in order.
func addOptions(m *specs.Mount, names ...string) {
	for _, n := range names {
		if !contains(m.Options, n) {
			m.Options = append(m.Options, n)
		}
	}
	sortOptions(m.Options)
}

// attrOptions are the mount_setattr(2) attributes that OCI mount options
// name (the atime policy, a field of its own, is read apart).
var attrOptions = []struct {
	attr planner.MountAttr
	name string
}{
	{unix.MOUNT_ATTR_RDONLY, "ro"}, {unix.MOUNT_ATTR_NOSUID, "nosuid"}, {unix.MOUNT_ATTR_NODEV, "nodev"},
	{unix.MOUNT_ATTR_NOEXEC, "noexec"}, {unix.MOUNT_ATTR_NODIRATIME, "nodiratime"},
}

// setattrOptions names the attributes a mount_setattr step sets (and the
// atime policy it chooses) as OCI mount options.
func setattrOptions(op planner.MountSetattr) ([]string, error) {
	set := op.Set
	var names []string
	for _, a := range attrOptions {
		if set&a.attr != 0 {
			names = append(names, a.name)
			set &^= a.attr
		}
	}
	if op.Clear&^unix.MOUNT_ATTR__ATIME != 0 {
		return nil, fmt.Errorf("clearing %s has no OCI option", op.Clear&^unix.MOUNT_ATTR__ATIME)
	}
	if op.Clear&unix.MOUNT_ATTR__ATIME != 0 {
		switch set & unix.MOUNT_ATTR__ATIME {
		case unix.MOUNT_ATTR_RELATIME: // 0
			names = append(names, "relatime")
		case unix.MOUNT_ATTR_NOATIME:
			names = append(names, "noatime")
		case unix.MOUNT_ATTR_STRICTATIME:
			names = append(names, "strictatime")
		}
		set &^= unix.MOUNT_ATTR__ATIME
	}
	if set != 0 {
		return nil, fmt.Errorf("%s has no OCI option", set)
	}
	return names, nil
}

// setattr translates a mount_setattr step: the flags of a bind of the
// spec (its options), the root's read-only (root.readonly) or nodev (a
// Note), or part of a read-only path (linux.readonlyPaths).
func (x *exporter) setattr(op planner.MountSetattr) error {
	switch {
	case op.Confine == planner.ConfineReadonly:
		// Read-only, nosuid, nodev and noexec, with every mount below:
		// runtimes make each path of linux.readonlyPaths read-only
		// (recorded by mount), runc keeping the nosuid, nodev and noexec
		// of the mount it binds, crun not (the mount is proc's, with
		// nothing to run nor a device node).
		return nil
	case op.Confine != "":
		return fmt.Errorf("mount_setattr confining %q has no OCI equivalent", op.Confine)
	case !op.InRoot && op.Path == "/" && !op.Recursive && op.Set == unix.MOUNT_ATTR_RDONLY && op.Clear == 0:
		// After pivot_root: the root read-only, as runtimes make it.
		x.cfg.Root.Readonly = true
		return nil
	case !op.InRoot && op.Path != "" && op.Path == x.rootfs.Path && op.Recursive && op.Set == unix.MOUNT_ATTR_NODEV && op.Clear == 0:
		x.rootNodev()
		return nil
	case !op.InRoot:
		return fmt.Errorf("mount_setattr outside the root has no OCI equivalent")
	}
	m := x.mountAt(op.Path)
	if m == nil || m.Type != "bind" {
		return fmt.Errorf("mount_setattr of %s, which is not a bind", op.Path)
	}
	names, err := setattrOptions(op)
	if err != nil {
		return err
	}
	if op.Recursive && contains(m.Options, "rbind") {
		// A recursive bind (rbind) gets its flags on every mount it
		// brought along, as mount_setattr(AT_RECURSIVE) sets them. OCI
		// says so with the recursive options of runtime-spec 1.1 (rro,
		// rnosuid, rnodev, rnoexec, rrelatime, rnoatime...: mount_setattr
		// with AT_RECURSIVE), which runc 1.1 (`runc features` lists them)
		// and crun 1.8 (its option table has them) honour, as
		// TestRootOCISameEnvironment checks; a plain "ro" on an rbind
		// makes only its top mount read-only (a remount is never
		// recursive). Each flag is written in both forms: the plain one
		// keeps the top mount read-only under a runtime that predates
		// the recursive options (it would pass an unknown option to
		// mount(2) as data, which a bind ignores), and import, reading
		// both, knows the bind is read-only throughout. Both validate
		// against runtime-spec's JSON Schema (options are strings), and
		// the config's ociVersion becomes 1.1.0.
		for _, n := range slices.Clone(names) {
			names = append(names, "r"+n)
		}
	}
	addOptions(m, names...)
	return nil
}

// recursiveOption reports whether o is one of runtime-spec 1.1's
// recursive mount options that export writes.
func recursiveOption(o string) bool {
	for _, f := range flagOptions {
		if o == "r"+f.name {
			return true
		}
	}
	return false
}

// rootNodev notes what has no OCI equivalent: the root mounted nodev.
func (x *exporter) rootNodev() {
	x.note(x.e.Rootfs.Pos, x.key+".rootfs.dev",
		"not honoured (default false here): nsup mounts the root nodev, so that no device node of the tree opens a device; OCI has no option for the root's mount flags, and runtimes mount the root without nodev: under them a device node in %s/ works (one copied from a dir rootfs, or made inside with CAP_MKNOD)", RootfsDir)
}

// sortOptions puts flag options in flagOptions order after bind/rbind,
// then their recursive forms (rro...) in the same order, keeping data
// options (size=, mode=) last in their order: the same set
// always reads the same, whichever step it came from.
func sortOptions(o []string) {
	rank := func(s string) int {
		if s == "bind" || s == "rbind" {
			return 0
		}
		for i, f := range flagOptions {
			switch s {
			case f.name:
				return 1 + i
			case "r" + f.name:
				return 1 + len(flagOptions) + i
			}
		}
		return 1 + 2*len(flagOptions)
	}
	sort.SliceStable(o, func(i, j int) bool { return rank(o[i]) < rank(o[j]) })
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
