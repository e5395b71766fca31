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
	"github.com/nsup/nsup/planner/exportnote"
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

func (r Refused) Error() string { return exportnote.Lines(r) }

// Bundle is one environment translated for an OCI runtime.
type Bundle struct {
	// Config is config.json; its root.path is RootfsDir.
	Config *specs.Spec
	// Rootfs is the plan's rootfs step: the tree to copy into RootfsDir.
	Rootfs planner.Rootfs
	// Files are files nsup generates for the environment (its /etc/passwd
	// and /etc/group), written into the bundle's rootfs over what is
	// there.
	Files []File
	// Notes says what was translated into something other than itself.
	Notes []Note
}

// File is one generated file of a bundle's rootfs.
type File struct {
	Path    string // absolute, inside the rootfs
	Content string
}

// Export translates environment name of p (compiled from s) into a bundle.
// Every key of the environment maps onto the config, is translated with a
// Note, or is refused: the error is then Refused, listing each such key.
func Export(s *spec.Spec, p *planner.Plan, name string) (*Bundle, error) {
	return exportEnv(s, p, name, false)
}

// ExportImage is Export for an image (nsup export --image), which keeps
// of the bundle its root tree and main process: what Export refuses (a
// join by name, processes beyond the main one) is left out with a Note.
func ExportImage(s *spec.Spec, p *planner.Plan, name string) (*Bundle, error) {
	return exportEnv(s, p, name, true)
}

func exportEnv(s *spec.Spec, p *planner.Plan, name string, image bool) (*Bundle, error) {
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
	x := &exporter{s: s, e: e, key: "environments." + name, ns: map[string]string{}, image: image}
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
	x.resources()
	for _, t := range spec.NamespaceTypes {
		if p, ok := x.ns[t]; ok {
			x.cfg.Linux.Namespaces = append(x.cfg.Linux.Namespaces, specs.LinuxNamespace{Type: ociNS(t), Path: p})
		}
	}
	if x.cfg.Process.Args == nil {
		return nil, fmt.Errorf("%s: environment %s: the plan starts no main process", s.File, name)
	}
	x.finish()
	if len(x.refused) > 0 {
		return nil, x.refused // an image's (callerArgs)
	}
	x.cfg.Version = ociVersion(x.cfg)
	return &Bundle{Config: x.cfg, Rootfs: x.rootfs, Files: x.files, Notes: x.notes}, nil
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
	files   []File
	image   bool // ExportImage: refusals are notes
}

func (x *exporter) note(pos spec.Pos, key, format string, args ...any) {
	x.notes = append(x.notes, Note{Origin: x.s.Origin(pos), Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (x *exporter) refuse(pos spec.Pos, key, format string, args ...any) {
	n := Note{Origin: x.s.Origin(pos), Key: key, Msg: fmt.Sprintf(format, args...)}
	if x.image {
		n.Msg = "not in the image: " + strings.TrimPrefix(n.Msg, "refused: ")
		x.notes = append(x.notes, n)
		return
	}
	x.refused = append(x.refused, n)
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
	if n := e.Net; n != nil && (n.Network == spec.NetworkUser || len(n.Ports) > 0) {
		var ports []string
		for _, p := range n.Ports {
			ports = append(ports, "-p "+p.String())
		}
		x.note(n.NetworkPos, x.key+".net", "not carried: OCI has no network beyond the namespace (the bundle's has loopback only) and no ports; the engine above the runtime makes them: podman run --network pasta %s, or Kubernetes containerPort", strings.Join(ports, " "))
	}
	if len(e.Process) > 0 {
		p := e.Process[0]
		key := x.key + ".processes[0]"
		if r := p.Restart; r != nil {
			policy := r.Policy
			if r.Max > 0 {
				policy = fmt.Sprintf("%s:%d", r.Policy, r.Max)
			}
			x.note(r.Pos, key+".restart", "not carried: OCI has no restart policy (a runtime runs the process once); the engine above it restarts: podman run --restart %s, or Kubernetes restartPolicy", policy)
		}
		if h := p.Healthcheck; h != nil {
			x.note(h.Pos, key+".healthcheck", "not carried: OCI has no healthcheck; the engine above the runtime runs one: podman run --health-cmd, or a Kubernetes readinessProbe")
		}
	}
	for _, d := range e.DependsOn {
		x.note(d.Pos, x.key+".depends_on."+d.Env, "not carried: a bundle is one container, started when its runtime is told; the engine orders containers (compose's depends_on, a Kubernetes init container or readinessProbe)")
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
	case planner.MakeCwd:
		// An OCI runtime makes a missing cwd itself.
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
	case planner.Landlock:
		// OCI has no Landlock (runtime-spec 1.2): the runtime would let
		// the container reach what nsup scopes.
		var add []string
		scoped := op.Scoped
		if _, own := x.ns["pid"]; own && scoped&unix.LANDLOCK_SCOPE_SIGNAL != 0 {
			// With a pid namespace, the domain is for CAP_SYS_PTRACE of
			// the host's user namespace (the planner's hostScopes).
			scoped &^= unix.LANDLOCK_SCOPE_SIGNAL
			x.notes = append(x.notes, Note{Origin: st.Origin, Key: x.key + ".security.capabilities.add", Msg: "not carried: OCI has no Landlock; nsup keeps CAP_SYS_PTRACE to the environment's own processes, and the runtime will not: a process of another container that joins its pid namespace is visible there, with the host's root until its root switch"})
		}
		if scoped&unix.LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET != 0 {
			add = append(add, "net")
		}
		if scoped&unix.LANDLOCK_SCOPE_SIGNAL != 0 {
			add = append(add, "pid")
		}
		if scoped != 0 {
			x.notes = append(x.notes, Note{Origin: st.Origin, Key: x.key + ".namespaces", Msg: fmt.Sprintf("not carried: OCI has no Landlock; nsup keeps the environment from %s, and the runtime will not: add %s to namespaces", planner.LandlockScopeText(scoped), strings.Join(add, " and "))})
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
	case planner.NullDevice:
		// How nsup hands its caller's /dev/null in; a runtime gets the
		// process's stdio from its engine.
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
	case planner.Console, planner.ReadOnlyTerminal:
		// The terminal's /dev/console, and the read-only reopen of the
		// terminal's fds: a runtime makes its own terminal for
		// process.terminal (Openpty).
	case planner.EtcFile:
		// The generated /etc/passwd and /etc/group: written into the
		// bundle's rootfs, where the rootfs's own (or the tree's empty
		// placeholder) is; resolv.conf and hosts go with the user-mode
		// network, which is not in a bundle (keys says so).
		if op.Target == "/etc/passwd" || op.Target == "/etc/group" {
			x.files = append(x.files, File{Path: op.Target, Content: op.Content})
		}
	case planner.Pasta:
		// The user-mode network: not in a bundle (keys says so).
	case planner.CgroupMkdir, planner.CgroupWrite, planner.CgroupJoin:
		// The environment's groups, from the spec's limits: the runtime
		// makes its own, from linux.resources (resources).
	case planner.Mkdir, planner.Flock, planner.Stdio, planner.Listen, planner.SaveState:
		// nsup apply -d's state (/run/nsup/ENV); a runtime keeps its own.
	case planner.Hold:
		// Planned for nsup apply -d only; a bundle is exported from the
		// foreground plan, whose joins by name are an engine's to make.
		return fmt.Errorf("a pod's holder (nsup apply -d) has no OCI equivalent: export the foreground plan")
	case planner.Volume, planner.MkdirAll:
		// The folder of a named volume or of a bind with create: true,
		// made by nsup apply: the bundle binds it by its path (the mount
		// step's), and a runtime does not make a bind's source. The
		// volume is there once an nsup apply has used it.
	case planner.OpenTree, planner.IdmapTree:
		// The host's clone of a tree for a child whose root inside
		// may not search nsup's folders: never in an exported plan
		// (Options.Export), whose bundle binds the tree by its path.
	case planner.WaitHealthy:
		// nsup's wait for another environment (depends_on): keys notes
		// it is not carried.
	default:
		return fmt.Errorf("unhandled operation %T", op)
	}
	return nil
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
	x.allCaps()
	if x.image {
		x.callerValues()
	}
}
