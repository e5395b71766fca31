package oci

import (
	"fmt"
	"path"
	"sort"
	"strconv"
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

// namespaces names each namespace type in spec v1, in OCI and as a clone
// flag. (Arrays and functions rather than maps: nothing of this package
// runs at nsup's start-up, which is on apply's measured path.)
var namespaces = [...]struct {
	nsup string
	oci  specs.LinuxNamespaceType
	flag planner.CloneFlags
}{
	{spec.NSMount, specs.MountNamespace, unix.CLONE_NEWNS},
	{spec.NSPID, specs.PIDNamespace, unix.CLONE_NEWPID},
	{spec.NSNet, specs.NetworkNamespace, unix.CLONE_NEWNET},
	{spec.NSIPC, specs.IPCNamespace, unix.CLONE_NEWIPC},
	{spec.NSUTS, specs.UTSNamespace, unix.CLONE_NEWUTS},
	{spec.NSCgroup, specs.CgroupNamespace, unix.CLONE_NEWCGROUP},
	{spec.NSUser, specs.UserNamespace, unix.CLONE_NEWUSER},
	{spec.NSTime, specs.TimeNamespace, unix.CLONE_NEWTIME},
}

// ociNS is the OCI name of a spec-v1 namespace type.
func ociNS(t string) specs.LinuxNamespaceType {
	for _, n := range namespaces {
		if n.nsup == t {
			return n.oci
		}
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
	x.cfg.Version = ociVersion(x.cfg)
	return &Bundle{Config: x.cfg, Rootfs: x.rootfs, Notes: x.notes}, nil
}

// ociVersion is the oldest runtime-spec release that defines every field
// the config uses: runtimes refuse versions newer than they know (crun 1.8,
// Debian 12's, refuses anything above 1.1), and a config is valid under
// every later 1.x release.
func ociVersion(c *specs.Spec) string {
	v := "1.0.2"
	for _, n := range c.Linux.Namespaces {
		if n.Type == specs.TimeNamespace {
			v = "1.1.0"
		}
	}
	if c.Domainname != "" || len(c.Linux.TimeOffsets) > 0 {
		v = "1.1.0" // domainname and timeOffsets are new in 1.1.0
	}
	return v
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
	if e.Init == nil || e.Init.Value {
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
	case planner.Write:
		return x.write(op)
	case planner.Newidmap:
		// The map newuidmap/newgidmap write for rootless nsup: the same
		// linux.uidMappings / gidMappings (the engine maps its own way).
		var err error
		if strings.Contains(op.Program, "newgidmap") {
			x.cfg.Linux.GIDMappings, err = idMappings(op.Map)
		} else {
			x.cfg.Linux.UIDMappings, err = idMappings(op.Map)
		}
		return err
	case planner.Execve:
		if st.Stage == planner.Init { // init: false: the main process itself
			c.Process.Args, c.Process.Env = op.Argv, op.Env
			x.processName()
		}
		// The child stage's re-execution of nsup: the runtime is its own.
	case planner.Mount:
		return x.mount(op)
	case planner.Overlay:
		c.Root.Readonly = false // noted in keys
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
		if st.Stage == planner.Init {
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
	case planner.Capset:
		keep := append([]string(nil), op.Keep...)
		c.Process.Capabilities = &specs.LinuxCapabilities{Bounding: keep, Effective: keep, Permitted: keep}
	case planner.Setgroups:
		if len(op.Groups) > 0 {
			c.Process.User.AdditionalGids = append([]uint32(nil), op.Groups...)
		}
	case planner.Setresgid:
		c.Process.User.GID = op.GID
	case planner.Setresuid:
		c.Process.User.UID = op.UID
	case planner.Start:
		if !op.Main {
			return nil // refused in keys
		}
		c.Process.Args, c.Process.Env, c.Process.Cwd = op.Argv, op.Env, op.Cwd
		c.Process.User = specs.User{UID: op.UID, GID: op.GID}
		x.processName()
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

func (x *exporter) processName() {
	if len(x.e.Process) > 0 {
		x.cfg.Annotations[AnnotationProcess] = x.e.Process[0].Name
	}
}

func nsType(f planner.CloneFlags) (string, error) {
	for _, n := range namespaces {
		if n.flag == f {
			return n.nsup, nil
		}
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

// write reads back the maps and offsets that the plan writes.
func (x *exporter) write(op planner.Write) error {
	var err error
	switch path.Base(op.Path) {
	case "uid_map":
		x.cfg.Linux.UIDMappings, err = idMappings(op.Data)
	case "gid_map":
		x.cfg.Linux.GIDMappings, err = idMappings(op.Data)
	case "setgroups":
		// Written "deny" for an unprivileged writer of gid_map: the
		// runtime does the same when it must.
	case "timens_offsets":
		x.cfg.Linux.TimeOffsets, err = timeOffsets(op.Data)
	default:
		err = fmt.Errorf("a write to %s has no OCI equivalent", op.Path)
	}
	return err
}

// idMappings parses uid_map lines: "INSIDE OUTSIDE COUNT".
func idMappings(data string) ([]specs.LinuxIDMapping, error) {
	var out []specs.LinuxIDMapping
	for _, line := range strings.Split(strings.TrimSpace(data), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("bad map line %q", line)
		}
		var n [3]uint32
		for i, s := range f {
			v, err := strconv.ParseUint(s, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("bad map line %q", line)
			}
			n[i] = uint32(v)
		}
		out = append(out, specs.LinuxIDMapping{ContainerID: n[0], HostID: n[1], Size: n[2]})
	}
	return out, nil
}

// timeOffsets parses timens_offsets lines: "CLOCK SECONDS NANOSECONDS",
// the form OCI's linux.timeOffsets has too (time_namespaces(7)).
func timeOffsets(data string) (map[string]specs.LinuxTimeOffset, error) {
	out := map[string]specs.LinuxTimeOffset{}
	for _, line := range strings.Split(strings.TrimSpace(data), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || (f[0] != "monotonic" && f[0] != "boottime") {
			return nil, fmt.Errorf("bad offset line %q", line)
		}
		s, err1 := strconv.ParseInt(f[1], 10, 64)
		ns, err2 := strconv.ParseUint(f[2], 10, 32)
		if err1 != nil || err2 != nil || ns >= 1e9 {
			return nil, fmt.Errorf("bad offset line %q", line)
		}
		out[f[0]] = specs.LinuxTimeOffset{Secs: s, Nanosecs: uint32(ns)}
	}
	return out, nil
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
	const (
		bindRec   = unix.MS_BIND | unix.MS_REC
		remountRO = unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY
		locked    = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME
	)
	if !op.InRoot {
		switch {
		case op.Target == "/" && op.Flags == unix.MS_REC|unix.MS_PRIVATE:
			// nsup makes every mount private before mounting anything.
			c.Linux.RootfsPropagation = "private"
		case op.Source != "" && op.Source == op.Target && op.Flags == bindRec:
			// The root bound onto itself for pivot_root: the runtime's own.
		case op.Target == "/" && op.Flags&remountRO == remountRO && op.Flags&^(remountRO|locked) == 0:
			// Read-only, repeating (in a user namespace) the flags locked
			// on the host's mount, as runtimes do by themselves.
			c.Root.Readonly = true
		default:
			return fmt.Errorf("a mount outside the root's setup has no OCI equivalent")
		}
		return nil
	}
	if op.Flags&unix.MS_REMOUNT != 0 {
		// A remount applies flags to the mount just made at Target (a
		// bind's read-only, or a readonly dev): in OCI, its options.
		for i := len(c.Mounts) - 1; i >= 0; i-- {
			if c.Mounts[i].Destination == op.Target {
				names, rest := flagNames(op.Flags &^ (unix.MS_REMOUNT | unix.MS_BIND))
				if rest != 0 {
					return fmt.Errorf("remount flags %s have no OCI option", rest)
				}
				for _, n := range names {
					if !contains(c.Mounts[i].Options, n) {
						c.Mounts[i].Options = append(c.Mounts[i].Options, n)
					}
				}
				sortOptions(c.Mounts[i].Options)
				return nil
			}
		}
		return fmt.Errorf("a remount of %s, which is not mounted", op.Target)
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
		if flags&unix.MS_REC != 0 {
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

// sortOptions puts flag options in flagOptions order after bind/rbind,
// keeping data options (size=, mode=) last in their order: the same set
// always reads the same, whichever step it came from.
func sortOptions(o []string) {
	rank := func(s string) int {
		if s == "bind" || s == "rbind" {
			return 0
		}
		for i, f := range flagOptions {
			if f.name == s {
				return 1 + i
			}
		}
		return 1 + len(flagOptions)
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
