package planner

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// Options tune Compile. The zero value plans for this host.
type Options struct {
	// CacheDir is where closure and tar trees are built; "" means
	// DefaultCacheDir().
	CacheDir string
	// Closure resolves rootfs.closure paths into a file list; nil means the
	// ELF resolver Closure. Golden tests pass a fixed resolver so that their
	// plans do not depend on this host's libraries.
	Closure func(paths []string) ([]File, error)
	// Envs restricts the plan to these environments and those they join by
	// name; empty means every environment.
	Envs []string
	// Caller is who will apply the plan; nil means this process
	// (CurrentCaller). Without CAP_SYS_ADMIN the plan is rootless.
	Caller *Caller
	// Seccomp resolves a seccomp profile ("default" or a file's path)
	// for a capability set; nil means Docker's default profile and the
	// file's rules, resolved for this kernel (package seccomp). Golden
	// tests pass a fixed one, so that their plans do not depend on the
	// kernel's version.
	Seccomp func(profile string, caps []string) (*specs.LinuxSeccomp, error)
	// HostPath tells whether a host path exists and is a folder (nil:
	// lstat(2)): the masked paths a kernel does not have are skipped.
	HostPath func(path string) (isDir, ok bool)
	// Terminal: nsup's stdin is a terminal. A single environment in the
	// foreground then gets a pty of its own (Openpty), relayed to it,
	// instead of the caller's terminal.
	Terminal bool
	// Index is the cache's digest index (read, never written, here); nil
	// means NewIndex(CacheDir). Pass the same one to executor.Apply, which
	// records in the cache what this compilation hashed.
	Index *Index
	// Detach plans for nsup apply -d: the environments are recorded under
	// StateDir and keep running after nsup returns.
	Detach bool
	// StateDir is where detached environments are recorded; "" means
	// DefaultStateDir().
	StateDir string
}

// Files of a detached environment's state directory, StateDir/ENV/.
const (
	StateFile   = "state.json"   // the state (SaveState)
	LockFile    = "lock"         // held by init while it runs; then its exit status (Flock)
	LogFile     = "output.log"   // fds 1 and 2 of the environment (Stdio)
	ControlFile = "control.sock" // init's control socket, for nsup exec (Listen)
)

// DefaultStateDir is where detached environments are recorded:
// $NSUP_STATE_DIR if set, /run/nsup for root, else $XDG_RUNTIME_DIR/nsup.
func DefaultStateDir() string {
	if d := os.Getenv("NSUP_STATE_DIR"); d != "" {
		if abs, err := filepath.Abs(d); err == nil {
			return abs
		}
		return d
	}
	if os.Geteuid() == 0 {
		return "/run/nsup"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "nsup")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("nsup-run-%d", os.Geteuid()))
}

// DefaultPath is the PATH of an environment whose spec does not set one.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// InitName is the name (comm, as ps shows it) of nsup's init.
const InitName = "nsup-init"

// DefaultCapabilities are the capabilities a root process keeps inside an
// environment: Docker's default set without CAP_MKNOD (nsup confines no
// device by cgroup, so a device node could reach the host's disks) and
// without CAP_NET_RAW (raw sockets: spoofing on shared networks).
var DefaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_AUDIT_WRITE", "CAP_SETFCAP",
}

// DefaultStopTimeout is the grace period between SIGTERM and SIGKILL, in ms.
const DefaultStopTimeout = 10_000

// DefaultCacheDir is nsup's cache of built rootfs trees: $NSUP_CACHE_DIR if
// set, /var/cache/nsup for root, else $XDG_CACHE_HOME/nsup (~/.cache/nsup).
func DefaultCacheDir() string {
	if d := os.Getenv("NSUP_CACHE_DIR"); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/var/cache/nsup"
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "nsup")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".cache", "nsup")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("nsup-cache-%d", os.Geteuid()))
}

// Compile turns a validated spec into a plan. It reads the host (ELF files
// of closures, the rootfs to resolve commands, bind sources) but writes
// nothing. Every problem it finds is reported at once, as spec errors are.
func Compile(s *spec.Spec, opts Options) (*Plan, error) {
	if opts.CacheDir == "" {
		opts.CacheDir = DefaultCacheDir()
	}
	if opts.Index == nil {
		opts.Index = NewIndex(opts.CacheDir)
	}
	if opts.Closure == nil {
		idx := opts.Index
		opts.Closure = func(paths []string) ([]File, error) {
			files, _, err := closure(paths, idx, false)
			return files, err
		}
	}
	if opts.Detach && opts.StateDir == "" {
		opts.StateDir = DefaultStateDir()
	}
	if opts.HostPath == nil {
		opts.HostPath = hostPath
	}
	c := &compiler{s: s, opts: opts, done: map[string]*envCompiler{}}
	if opts.Caller != nil {
		c.caller = *opts.Caller
	} else {
		c.caller = CurrentCaller()
	}
	envs, err := c.order()
	if err != nil {
		return nil, err
	}
	// One terminal, one environment: with several, none can have the
	// caller's input to itself (their processes still write to nsup's
	// stdout and stderr, prefixed).
	c.terminal = opts.Terminal && !opts.Detach && len(envs) == 1
	p := &Plan{Format: FormatVersion, Spec: s.File, SpecDigest: s.Digest, Detach: opts.Detach}
	if abs, err := filepath.Abs(s.File); err == nil {
		p.SpecPath = abs
	}
	for _, e := range envs {
		p.Environments = append(p.Environments, c.env(e))
	}
	c.outputs(p, envs)
	if len(c.errs) > 0 {
		return nil, c.errs.Sorted()
	}
	return p, nil
}

// outputs decides where the processes write. One process alone writes
// straight to nsup's stdout and stderr (or a detached environment's log):
// its fds are passed through, nothing copies them. When more than one
// process writes to one place (several in the foreground plan, or several
// in one detached environment's log), each line is prefixed with
// "ENV/PROCESS | ", by init (or by nsup for an init: false environment).
func (c *compiler) outputs(p *Plan, envs []*spec.Environment) {
	count := func(e *spec.Environment) int {
		n := 0
		walkProcs(e.Process, func(*spec.Process, string) { n++ })
		return n
	}
	total := 0
	for _, e := range envs {
		total += count(e)
	}
	for i := range p.Environments {
		pe, e := &p.Environments[i], envs[i]
		label := total > 1
		if c.opts.Detach {
			label = count(e) > 1
		}
		for j, st := range pe.Steps {
			switch op := st.Op.(type) {
			case Start:
				if label {
					op.Output = e.Name + "/" + op.Process
					pe.Steps[j].Op = op
				}
			case Execve:
				if st.Stage == Init && label && len(e.Process) > 0 {
					op.Output = e.Name + "/" + e.Process[0].Name
					pe.Steps[j].Op = op
				}
			}
		}
	}
}

type compiler struct {
	s      *spec.Spec
	opts   Options
	caller Caller
	errs   Errors
	// done are the environments compiled so far, by name: those joined
	// by name come first (order).
	done map[string]*envCompiler
	// closures memoizes resolved closures by their path list: environments
	// of one file often share a closure, and resolving hashes every file.
	closures map[string]closureResult
	// filters memoizes compiled seccomp filters by profile and capability
	// set; hostPaths, what HostPath says of a path.
	filters   map[string]filterResult
	hostPaths map[string][2]bool
	// terminal: the plan's one environment gets a pty (Options.Terminal).
	terminal bool
}

type closureResult struct {
	files []File
	err   error
}

func (c *compiler) closure(paths []string) ([]File, error) {
	key := strings.Join(paths, "\x00")
	r, ok := c.closures[key]
	if !ok {
		r.files, r.err = c.opts.Closure(paths)
		if c.closures == nil {
			c.closures = map[string]closureResult{}
		}
		c.closures[key] = r
	}
	// A copy: each environment adds its own directories to its tree.
	return append([]File(nil), r.files...), r.err
}

func (c *compiler) errorf(pos spec.Pos, field, format string, args ...any) {
	c.errs = append(c.errs, &spec.Error{File: c.s.File, Pos: pos, Path: field, Msg: fmt.Sprintf(format, args...)})
}

// order selects the environments to plan and sorts them so that every
// environment comes after those whose namespaces it joins by name (they
// must exist before it can enter them); ties keep declaration order, so the
// plan is deterministic. spec.Parse has already refused cycles.
func (c *compiler) order() ([]*spec.Environment, error) {
	want := map[string]bool{}
	if len(c.opts.Envs) == 0 {
		for _, e := range c.s.Environments {
			want[e.Name] = true
		}
	} else {
		var missing []string
		for _, n := range c.opts.Envs {
			if c.s.Env(n) == nil {
				missing = append(missing, n)
			}
			want[n] = true
		}
		if len(missing) > 0 {
			var names []string
			for _, e := range c.s.Environments {
				names = append(names, e.Name)
			}
			return nil, fmt.Errorf("%s: no environment named %s (the file has %s)",
				c.s.File, strings.Join(quoteAll(missing), ", "), strings.Join(names, ", "))
		}
		// Add what the wanted environments join by name, transitively.
		for changed := true; changed; {
			changed = false
			for _, e := range c.s.Environments {
				if !want[e.Name] {
					continue
				}
				for _, j := range e.Join {
					if !j.IsPath() && !want[j.Ref] {
						want[j.Ref] = true
						changed = true
					}
				}
			}
		}
	}
	var out []*spec.Environment
	done := map[string]bool{}
	for len(out) < len(want) {
		progressed := false
		for _, e := range c.s.Environments {
			if !want[e.Name] || done[e.Name] {
				continue
			}
			ready := true
			for _, j := range e.Join {
				if !j.IsPath() && !done[j.Ref] {
					ready = false
				}
			}
			if ready {
				out = append(out, e)
				done[e.Name] = true
				progressed = true
				break // restart: the earliest declared ready environment goes next
			}
		}
		if !progressed {
			return nil, fmt.Errorf("%s: join cycle among environments", c.s.File)
		}
	}
	return out, nil
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// nsFlag maps spec namespace names to clone flags. nsOrder is the order
// in which namespaces are joined: user first, because entering it grants
// the capabilities needed to enter the namespaces it owns (setns(2));
// mnt before the others as runc and crun do.
var (
	nsFlag = map[string]CloneFlags{
		spec.NSUser: unix.CLONE_NEWUSER, spec.NSMount: unix.CLONE_NEWNS, spec.NSPID: unix.CLONE_NEWPID,
		spec.NSNet: unix.CLONE_NEWNET, spec.NSIPC: unix.CLONE_NEWIPC, spec.NSUTS: unix.CLONE_NEWUTS,
		spec.NSCgroup: unix.CLONE_NEWCGROUP, spec.NSTime: unix.CLONE_NEWTIME,
	}
	nsOrder = []string{spec.NSUser, spec.NSMount, spec.NSPID, spec.NSNet, spec.NSIPC, spec.NSUTS, spec.NSCgroup, spec.NSTime}
)

// Short names for the kernel's constants the planner writes into steps
// (the same values flags.go prints by name).
const (
	msRDONLY       = unix.MS_RDONLY
	msNOSUID       = unix.MS_NOSUID
	msNODEV        = unix.MS_NODEV
	msNOEXEC       = unix.MS_NOEXEC
	msREMOUNT      = unix.MS_REMOUNT
	msNOATIME      = unix.MS_NOATIME
	msBIND         = unix.MS_BIND
	msREC          = unix.MS_REC
	msPRIVATE      = unix.MS_PRIVATE
	msRELATIME     = unix.MS_RELATIME
	mntDETACH      = unix.MNT_DETACH
	prSetNoNew     = unix.PR_SET_NO_NEW_PRIVS
	prSetPdeathsig = unix.PR_SET_PDEATHSIG
	prSetDumpable  = unix.PR_SET_DUMPABLE
	prSetName      = unix.PR_SET_NAME
	prSetSubreaper = unix.PR_SET_CHILD_SUBREAPER
)

var optionFlag = map[string]MountFlags{
	"nosuid": msNOSUID, "nodev": msNODEV, "noexec": msNOEXEC,
	"relatime": msRELATIME, "noatime": msNOATIME,
}

type envCompiler struct {
	*compiler
	e     *spec.Environment
	field string // "environments.NAME"
	steps []Step
	root  string // host path of the root tree
	// tree is the closure's file list by path, nil for other kinds.
	tree  map[string]File
	notes []string

	// The namespaces, as namespaces() decided them (see namespaces.go).
	joins         []joinRef // in nsOrder: user first
	addedUser     bool      // rootless: a new user namespace the spec did not ask for
	forked        bool      // the joins and the clone are made by a forked copy
	timeInChild   bool      // a new time namespace is unshared by the child stage
	denySetgroups bool      // setgroups(2) is denied in the user namespace
	uidMap        []spec.IDRange
	gidMap        []spec.IDRange
	uidHelper     bool // uid_map through newuidmap
	gidHelper     bool // gid_map through newgidmap
	// stateDir is the environment's state directory when detached, else "".
	stateDir string
	// skipped are the masked or read-only paths this host does not have.
	skipped []string
}

// lock plans the first steps of a detached environment: its state
// directory and its lock, before anything else, so that a second nsup
// apply -d of the same name stops at once, having built nothing.
func (ec *envCompiler) lock() {
	ec.add(Host, ec.e.Pos, Mkdir{Path: ec.stateDir, Mode: 0o700})
	ec.add(Host, ec.e.Pos, Flock{Path: filepath.Join(ec.stateDir, LockFile), State: filepath.Join(ec.stateDir, StateFile)})
}

// detach plans the last steps of a detached environment, once its tree
// is started: the state file, then the end of the parent-death signal.
// In that order: killed in between, nsup takes the environment along (a
// state without a running init is shown as exited); the other way round,
// an environment could outlive nsup with no state to find it by.
func (ec *envCompiler) detach() {
	if ec.stateDir == "" {
		return
	}
	if ec.e.Init != nil && !ec.e.Init.Value {
		ec.errorf(ec.e.Init.Pos, ec.field+".init", "init: false cannot be detached (apply -d): nsup's init holds the environment's lock, serves nsup exec and records its exit status")
		return
	}
	ec.add(Host, ec.e.Pos, SaveState{Path: filepath.Join(ec.stateDir, StateFile)})
	ec.add(Init, ec.e.Pos, Prctl{Option: prSetPdeathsig, Arg: 0})
}

func (c *compiler) env(e *spec.Environment) Env {
	ec := &envCompiler{compiler: c, e: e, field: "environments." + e.Name}
	ec.namespaces()
	ec.checkRlimits()
	if c.opts.Detach {
		ec.stateDir = filepath.Join(c.opts.StateDir, e.Name)
		ec.lock()
	}
	ec.rootfs()
	ec.host()
	ec.child()
	ec.init()
	ec.detach()
	c.done[e.Name] = ec
	out := Env{Name: e.Name, Steps: ec.steps, Notes: ec.notes}
	for _, j := range ec.joins {
		if !j.isPath() && !contains(out.Needs, j.ref) {
			out.Needs = append(out.Needs, j.ref)
		}
	}
	return out
}

// resolved is a host path with every symlink in it resolved, as the plan
// uses it: apply opens it with openat2(2) RESOLVE_NO_SYMLINKS, so a
// symlink put in its way after planning (by an environment that can
// write there, say) is refused instead of followed (to the host's /). A
// path that does not resolve is left as it is: its error is the caller's.
func (ec *envCompiler) resolved(p, field string) string {
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		return p
	}
	if r != p {
		ec.notes = append(ec.notes, fmt.Sprintf("%s: %s is %s (symlinks resolved now; apply refuses a symlink in that path)", field, p, r))
	}
	return r
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func (ec *envCompiler) add(stage Stage, pos spec.Pos, op Op) {
	ec.steps = append(ec.steps, Step{Stage: stage, Origin: ec.s.Origin(pos), Op: op})
}

// rootfs plans the root tree. A closure tree is immutable once in the
// cache (its digest names it), so every directory the environment needs
// to exist (mount targets, working directories) is part of the tree:
// nothing is ever created inside a cache entry at apply time.
func (ec *envCompiler) rootfs() {
	r := ec.e.Rootfs
	field := ec.field + ".rootfs"
	if ec.joined(spec.NSMount) != nil {
		ec.joinedRootfs()
		return
	}
	switch {
	case r.Dir != "":
		ec.root = ec.resolved(r.Dir, field+".dir")
		st, err := os.Stat(r.Dir)
		if err != nil {
			ec.errorf(r.DirPos, field+".dir", "%v", unwrapPath(err))
		} else if !st.IsDir() {
			ec.errorf(r.DirPos, field+".dir", "%s is not a directory", r.Dir)
		}
		ec.add(Host, r.Pos, Rootfs{Kind: "dir", Sources: []string{r.Dir}, Path: ec.root})
	case r.Tar != "":
		// Only the archive's digest: its files are listed when it is
		// unpacked (apply) or locked (nsup lock), not at every plan.
		digest, _, err := ec.opts.Index.hashFile(IndexKey("tar", []string{r.Tar}), r.Tar)
		if err != nil {
			ec.errorf(r.TarPos, field+".tar", "%v", unwrapPath(err))
			digest = "sha256:?"
		}
		ec.root = filepath.Join(ec.opts.CacheDir, "tar", strings.TrimPrefix(digest, "sha256:"))
		ec.add(Host, r.Pos, Rootfs{Kind: "tar", Sources: []string{r.Tar}, Path: ec.root, Digest: digest})
	default:
		paths := ec.closureTree(r, field)
		for _, d := range ec.neededDirs() {
			ec.mkdirTree(d)
		}
		files := make([]File, 0, len(ec.tree))
		for _, f := range ec.tree {
			files = append(files, f)
		}
		sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
		digest := TreeDigest(files)
		ec.root = filepath.Join(ec.opts.CacheDir, "closure", strings.TrimPrefix(digest, "sha256:"))
		ec.add(Host, r.Pos, Rootfs{Kind: "closure", Sources: paths, Path: ec.root, Digest: digest, Files: files})
	}
}

// joinedRootfs: an environment that joins a mount namespace sees that
// namespace's root, and mounts nothing in it (another environment's, or
// the host's: a mount there would change theirs). Its rootfs only says
// what tree that is, to resolve commands in: for a join by name it must
// be the joined environment's own.
func (ec *envCompiler) joinedRootfs() {
	e, j := ec.e, ec.joined(spec.NSMount)
	r := e.Rootfs
	field := ec.field + ".rootfs"
	why := fmt.Sprintf("the mount namespace is joined (join.mnt: %s) and used as it is", j.ref)
	if r.Overlay {
		ec.errorf(r.Pos, field+".overlay", "%s: nsup mounts nothing in it; remove overlay", why)
	}
	if len(e.Mounts) > 0 {
		ec.errorf(e.Mounts[0].Pos, ec.field+".mounts", "%s: nsup mounts nothing in it; remove mounts (or give the environment its own mnt namespace)", why)
	}
	if !j.isPath() {
		o := ec.done[j.ref]
		if o == nil {
			return
		}
		if !sameRootfs(o.e.Rootfs, r) {
			ec.errorf(r.Pos, field, "%s: the environment sees %s's root, so its rootfs must be %s's (the same dir, tar or closure)", why, j.ref, j.ref)
		}
		ec.root, ec.tree = o.root, o.tree
		return
	}
	switch {
	case r.Dir != "":
		ec.root = r.Dir
	case len(r.Closure) > 0:
		ec.closureTree(r, field)
	}
}

// closureTree resolves the rootfs's closure into ec.tree (by path) and
// returns the host paths it was asked for.
func (ec *envCompiler) closureTree(r spec.Rootfs, field string) []string {
	var paths []string
	for _, p := range r.Closure {
		paths = append(paths, p.Value)
	}
	files, err := ec.closure(paths)
	if err != nil {
		ec.errorf(r.ClosurePos, field+".closure", "%v", err)
	}
	ec.tree = map[string]File{}
	for _, f := range files {
		ec.tree[f.Path] = f
	}
	return paths
}

func sameRootfs(a, b spec.Rootfs) bool {
	if a.Dir != b.Dir || a.Tar != b.Tar || len(a.Closure) != len(b.Closure) {
		return false
	}
	for i := range a.Closure {
		if a.Closure[i].Value != b.Closure[i].Value {
			return false
		}
	}
	return true
}

// neededDirs lists the directories an environment needs in its root:
// mount targets not inside an earlier mount (those are created in that
// mount at apply time), and working directories.
func (ec *envCompiler) neededDirs() []string {
	var dirs, mounted []string
	for _, m := range ec.e.Mounts {
		inside := false
		for _, t := range mounted {
			if within(m.Target, t) {
				inside = true
			}
		}
		mounted = append(mounted, m.Target)
		if inside {
			continue
		}
		if m.Type == spec.MountBind {
			if st, err := os.Stat(m.Source); err == nil && !st.IsDir() {
				dirs = append(dirs, path.Dir(m.Target)) // a file target: its folder
				continue
			}
		}
		dirs = append(dirs, m.Target)
	}
	if ec.e.Cwd != nil {
		dirs = append(dirs, ec.e.Cwd.Value)
	}
	walkProcs(ec.e.Process, func(p *spec.Process, _ string) {
		if p.Cwd != nil {
			dirs = append(dirs, p.Cwd.Value)
		}
	})
	return dirs
}

// within reports whether p is t or below it.
func within(p, t string) bool {
	return p == t || t == "/" || strings.HasPrefix(p, t+"/")
}

// mkdirTree adds d and its missing parents to the closure tree. A path
// that passes through a symlink already in the tree is left alone: the
// link's target directory is in the tree or will be created at apply time.
func (ec *envCompiler) mkdirTree(d string) {
	var parts []string
	for p := d; p != "/"; p = path.Dir(p) {
		parts = append([]string{p}, parts...)
	}
	for _, p := range parts {
		if f, ok := ec.tree[p]; ok {
			if f.Type != "dir" {
				return
			}
			continue
		}
		ec.tree[p] = File{Path: p, Type: "dir", Mode: 0o755}
	}
}

func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return fmt.Errorf("%s: %v", pe.Path, pe.Err)
	}
	return err
}

// host plans the host stage: joins, then the child's creation, then the
// maps of a new user namespace.
//
// A child is born in the namespaces of the thread that creates it, which
// is how net, ipc, uts and cgroup namespaces are joined: setns(2) on
// nsup's locked thread, then clone. A user, mount or time namespace cannot
// be entered by a process of several threads (setns(2): EINVAL for user
// and mnt, EUSERS for time), and a Go program always has several: those
// joins, a pid namespace's (Go's exec kills a child whose parent is
// outside its pid namespace: its Pdeathsig check reads getppid() 0), and
// every join of rootless nsup (it may enter a namespace only from the user
// namespace that owns it) are made by a forked copy of nsup (stage fork),
// which then creates the child with CLONE_PARENT.
func (ec *envCompiler) host() {
	e := ec.e
	if ec.stateDir != "" {
		// A detached environment writes to its log, reads nothing, and
		// is reached by nsup exec through init's control socket.
		ec.add(Host, e.Pos, Stdio{Stdin: "/dev/null", Stdout: filepath.Join(ec.stateDir, LogFile)})
		ec.add(Host, e.Pos, Listen{Path: filepath.Join(ec.stateDir, ControlFile)})
	}
	if ec.terminal {
		ec.add(Host, e.Pos, Openpty{})
	}
	first := e.Pos
	if len(e.Namespaces) > 0 {
		first = e.Namespaces[0].Pos
	}
	var flags CloneFlags
	if ec.addedUser {
		flags |= nsFlag[spec.NSUser]
	}
	for _, n := range e.Namespaces {
		if n.Type != spec.NSTime {
			flags |= nsFlag[n.Type]
		}
	}
	// A time namespace's offsets can only be written before any process is
	// in it, so it is unshared by the creating thread (which stays outside:
	// only its future children enter), offsets written, then the child is
	// created inside it (time_namespaces(7)). In a user namespace that is
	// the child stage's job (see child), so that the user namespace owns it.
	hostTime := func() {
		if !ec.isNew(spec.NSTime) || ec.timeInChild {
			return
		}
		ec.add(Host, ec.nsPos(spec.NSTime), Unshare{Flags: nsFlag[spec.NSTime]})
		if e.Time != nil {
			ec.add(Host, e.Time.Pos, Write{Path: "/proc/$TID/timens_offsets", Data: ec.offsets()})
		}
	}
	stage := Host
	if ec.forked {
		// Before the fork: the copy is then born in the time namespace.
		hostTime()
		pos := first
		if len(ec.joins) > 0 {
			pos = ec.joins[0].pos
		}
		ec.add(Host, pos, Fork{})
		stage = Forked
	}
	for _, j := range ec.joins {
		op := Setns{NSType: nsFlag[j.t]}
		if j.isPath() {
			op.Path = j.ref
		} else {
			op.Env = j.ref
			op.Path = "/proc/$" + j.ref + "/ns/" + j.t
			if j.t == spec.NSTime {
				// Where the environment's processes are: its child stage
				// may have made the namespace for its children only.
				op.Path += "_for_children"
			}
		}
		ec.add(stage, j.pos, op)
	}
	if !ec.forked {
		hostTime()
	}
	if ec.forked {
		// CLONE_PARENT: the child is nsup's, not the copy's, which exits.
		flags |= cloneParent
	}
	ec.add(stage, first, Clone{Flags: flags})
	if ec.isNew(spec.NSUser) {
		ec.userMaps(first)
	}
}

// userMaps plans the maps of a new user namespace, written from outside
// once the child exists and before its execve (user_namespaces(7)):
// setgroups "deny" first where an unprivileged writer must, then
// uid_map and gid_map, each written directly or through newuidmap /
// newgidmap when the map holds more than the caller's own id.
func (ec *envCompiler) userMaps(first spec.Pos) {
	pos := first
	if ec.e.IDMap != nil {
		pos = ec.e.IDMap.Pos
	}
	if ec.denySetgroups {
		ec.add(Host, pos, Write{Path: "/proc/$CHILD/setgroups", Data: "deny"})
	}
	if ec.uidHelper {
		ec.add(Host, pos, Newidmap{Program: ec.caller.NewUIDMap, Map: mapText(ec.uidMap)})
	} else {
		ec.add(Host, pos, Write{Path: "/proc/$CHILD/uid_map", Data: mapText(ec.uidMap)})
	}
	if ec.gidHelper {
		ec.add(Host, pos, Newidmap{Program: ec.caller.NewGIDMap, Map: mapText(ec.gidMap)})
	} else {
		ec.add(Host, pos, Write{Path: "/proc/$CHILD/gid_map", Data: mapText(ec.gidMap)})
	}
}

// offsets renders the time offsets as timens_offsets wants them.
func (ec *envCompiler) offsets() string {
	t := ec.e.Time
	return fmt.Sprintf("monotonic %s\nboottime %s\n", offset(t.Monotonic.Nanoseconds()), offset(t.Boottime.Nanoseconds()))
}

// offset renders nanoseconds as timens_offsets wants: "SECONDS NANOSECONDS".
func offset(ns int64) string {
	sec, nsec := ns/1e9, ns%1e9
	if nsec < 0 {
		sec--
		nsec += 1e9
	}
	return fmt.Sprintf("%d %d", sec, nsec)
}

func mapText(rs []spec.IDRange) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "%d %d %d\n", r.Inside, r.Outside, r.Count)
	}
	return b.String()
}

// child plans the child stage: the mount namespace, the root switch, and
// what the processes inherit.
func (ec *envCompiler) child() {
	e := ec.e
	pos := e.Pos
	if len(e.Namespaces) > 0 {
		pos = e.Namespaces[0].Pos
	}
	joinedMnt := ec.joined(spec.NSMount) != nil
	ec.launch(pos)
	// In a joined mount namespace /proc/self/exe may not exist: the
	// launcher executes nsup through an fd it holds.
	ec.add(Child, pos, Execve{Path: "/proc/self/exe", Argv: StageArgv, Env: []string{}, ByFD: joinedMnt})
	// A session of its own, always: nothing inside may have nsup's
	// controlling terminal (through it, TIOCSTI types into the caller's
	// shell, CVE-2017-5226), and a ^C or hang-up of that terminal reaches
	// nsup alone, which forwards it (one environment) or stops them in
	// order (several). The caller's terminal itself is replaced by a pty
	// of the environment's own when it is nsup's stdin (Openpty).
	ec.add(Child, e.Pos, Setsid{})
	if ec.timeInChild {
		// Unshared by the stage's thread, inside the user namespace, which
		// then owns it; the processes init forks from this thread are born
		// in it (time_for_children, time_namespaces(7)), and the stage
		// itself, which stays outside, is not a process of it when the
		// offsets are written.
		ec.add(Child, ec.nsPos(spec.NSTime), Unshare{Flags: nsFlag[spec.NSTime]})
		if e.Time != nil {
			ec.add(Child, e.Time.Pos, Write{Path: "/proc/$TID/timens_offsets", Data: ec.offsets()})
		}
	}
	rpos := e.Rootfs.Pos
	// A joined mount namespace is entered as it is (setns(2) makes its
	// root the stage's root and working directory): it is another
	// environment's, or the host's, and a mount or a root switch in it
	// would change theirs. rootfs() refused the keys that would need one.
	if !joinedMnt {
		// Make / private before anything else is mounted: otherwise the
		// mounts below propagate to the host, and pivot_root(2) fails on a
		// shared parent.
		ec.add(Child, mntPos(e), Mount{Target: "/", Flags: msREC | msPRIVATE})
		// The root must be a mount point for pivot_root(2): bind it onto
		// itself (recursive, so that mounts below it come along), or lay the
		// overlay on it, which is a mount too.
		// Device nodes of the tree do not work (nodev), whatever the tree
		// holds, unless the spec says rootfs.dev: only type: dev's nodes
		// do. For a bound root, on every mount below it too.
		if e.Rootfs.Overlay {
			ec.add(Child, rpos, Overlay{Target: ec.root, Lower: ec.root, UserXattr: ec.inUserNS(), NoDev: !e.Rootfs.Dev})
		} else {
			ec.add(Child, rpos, Mount{Source: ec.root, Target: ec.root, Flags: msBIND | msREC})
			if !e.Rootfs.Dev {
				ec.add(Child, rpos, MountSetattr{Path: ec.root, Recursive: true, Set: unix.MOUNT_ATTR_NODEV})
			}
		}
		confined := ec.confinedPaths()
		for i, m := range e.Mounts {
			ec.mount(fmt.Sprintf("%s.mounts[%d]", ec.field, i), m)
			// Right after the mount that holds them: a later mount may
			// hide them, not the other way round.
			ec.confinePaths(confined[i])
		}
		ec.confinePaths(confined[len(e.Mounts)])
		if len(ec.skipped) > 0 {
			ec.notes = append(ec.notes, "not there, so not masked or made read-only: "+strings.Join(ec.skipped, ", "))
		}
	}
	// A new network namespace has only lo, and down: up, so that the
	// environment's processes can talk to each other over 127.0.0.1.
	if e.HasNamespace(spec.NSNet) {
		ec.add(Child, ec.nsPos(spec.NSNet), LinkUp{Name: "lo"})
	}
	if e.Hostname != nil {
		ec.add(Child, e.Hostname.Pos, Sethostname{Name: e.Hostname.Value})
	}
	if e.Domainname != nil {
		ec.add(Child, e.Domainname.Pos, Setdomainname{Name: e.Domainname.Value})
	}
	if !joinedMnt {
		// pivot_root(".", ".") stacks the old root on top of the new one
		// (pivot_root(2), NOTES); detaching "." then removes it, and with it
		// every host mount. No chroot: the classic chroot escape has nowhere
		// to go. The old root is already private: "/" was made MS_REC|
		// MS_PRIVATE above, so the detach cannot propagate to the host.
		ec.add(Child, rpos, Chdir{Path: ec.root})
		ec.add(Child, rpos, PivotRoot{NewRoot: ".", PutOld: "."})
		ec.add(Child, rpos, Umount2{Target: ".", Flags: mntDETACH})
		ec.add(Child, rpos, Chdir{Path: "/"})
		// Read-only last: the mounts above needed their targets created. An
		// overlay root is writable by definition (spec-v1 rootfs.overlay).
		if e.Rootfs.Readonly && !e.Rootfs.Overlay {
			ec.add(Child, rpos, MountSetattr{Path: "/", Set: unix.MOUNT_ATTR_RDONLY})
		}
	}
	ec.confine(pos)
}

// owns reports whether the environment's namespace of type t belongs to
// its user namespace: new, or joined from an environment in the same one.
func (ec *envCompiler) owns(t string) bool {
	if ec.isNew(t) {
		return true
	}
	j, u := ec.joined(t), ec.joined(spec.NSUser)
	if j == nil || u == nil || j.isPath() || u.isPath() {
		return false
	}
	o := ec.done[j.ref]
	return o != nil && o.owns(t) && ec.userKey(u.ref) == ec.userKey(j.ref)
}

func mntPos(e *spec.Environment) spec.Pos {
	for _, n := range e.Namespaces {
		if n.Type == spec.NSMount {
			return n.Pos
		}
	}
	return e.Pos
}

// mount plans one entry of `mounts`. Kernel filesystems get nosuid, nodev
// and noexec whatever the spec says (as runc's default config does): none
// of them has a legitimate setuid binary or device node to offer. The
// spec's options add to that.
func (ec *envCompiler) mount(field string, m spec.Mount) {
	var opt MountFlags
	for _, o := range m.Options {
		opt |= optionFlag[o]
	}
	// nodev unless the spec says dev (a bind, a tmpfs): a device node in
	// a folder the environment can reach must not open the host's disk.
	nodev := MountFlags(msNODEV)
	if slices.Contains(m.Options, "dev") {
		nodev = 0
	}
	var ro MountFlags
	if m.Readonly {
		ro = msRDONLY
	}
	in := func(target, source, fstype string, flags MountFlags, data, create string) {
		ec.add(Child, m.Pos, Mount{Source: source, Target: target, FSType: fstype, Flags: flags,
			Data: data, Root: ec.root, InRoot: true, Create: create})
	}
	// In a user namespace, the kernel lets proc, sysfs and mqueue be
	// mounted only for a pid, net or ipc namespace that user namespace
	// owns (pid_namespaces(7), mount(2) EPERM): not the host's.
	if need := map[string]string{spec.MountProc: spec.NSPID, spec.MountSysfs: spec.NSNet, spec.MountMqueue: spec.NSIPC}[m.Type]; need != "" && ec.inUserNS() && !ec.owns(need) {
		ec.errorf(m.Pos, field, "%s in a user namespace needs a %s namespace of that user namespace: add %s to namespaces (mounting %s for the host's needs privilege)", m.Type, need, need, m.Type)
	}
	switch m.Type {
	case spec.MountProc:
		in(m.Target, "proc", "proc", msNOSUID|msNODEV|msNOEXEC|opt|ro, "", "dir")
	case spec.MountSysfs:
		in(m.Target, "sysfs", "sysfs", msNOSUID|msNODEV|msNOEXEC|opt|ro, "", "dir")
	case spec.MountMqueue:
		in(m.Target, "mqueue", "mqueue", msNOSUID|msNODEV|msNOEXEC|opt|ro, "", "dir")
	case spec.MountDevpts:
		in(m.Target, "devpts", "devpts", msNOSUID|msNOEXEC|opt|ro, "newinstance,ptmxmode=0666,mode=0620", "dir")
	case spec.MountTmpfs:
		var data []string
		if m.Size != "" {
			data = append(data, "size="+strings.ToLower(m.Size))
		}
		if m.Mode != "" {
			data = append(data, "mode="+m.Mode)
		}
		in(m.Target, "tmpfs", "tmpfs", msNOSUID|nodev|opt|ro, strings.Join(data, ","), "dir")
	case spec.MountBind:
		create := "dir"
		st, err := os.Stat(m.Source)
		if err != nil {
			ec.errorf(m.Pos, field+".source", "%v", unwrapPath(err))
		} else if !st.IsDir() {
			create = "file"
		}
		flags := MountFlags(msBIND)
		if m.Recursive {
			flags |= msREC
		}
		in(m.Target, ec.resolved(m.Source, field+".source"), "", flags, "", create)
		// MS_RDONLY and the other flags are ignored by a bind (mount(2),
		// "Creating a bind mount"): mount_setattr(2) sets them after, on
		// every mount the bind brought along when it is recursive, and
		// clears nothing, so that in a user namespace the flags locked on
		// the host's mount need not be repeated.
		if set, clear := mountAttrs(opt|ro|nodev, m.Options); set != 0 || clear != 0 {
			ec.add(Child, m.Pos, MountSetattr{Path: m.Target, Root: ec.root, InRoot: true, Recursive: m.Recursive, Set: set, Clear: clear})
		}
	case spec.MountDev:
		ec.dev(m, opt)
	}
}

// mountAttrs translates mount flags to mount_setattr(2) attributes: the
// atime policy is a field of its own, cleared before one is set.
func mountAttrs(f MountFlags, options []string) (set, clear MountAttr) {
	for _, x := range []struct {
		flag MountFlags
		attr MountAttr
	}{{msRDONLY, unix.MOUNT_ATTR_RDONLY}, {msNOSUID, unix.MOUNT_ATTR_NOSUID}, {msNODEV, unix.MOUNT_ATTR_NODEV}, {msNOEXEC, unix.MOUNT_ATTR_NOEXEC}} {
		if f&x.flag != 0 {
			set |= x.attr
		}
	}
	switch {
	case slices.Contains(options, "noatime"):
		set |= unix.MOUNT_ATTR_NOATIME
		clear |= unix.MOUNT_ATTR__ATIME
	case slices.Contains(options, "relatime"):
		clear |= unix.MOUNT_ATTR__ATIME // MOUNT_ATTR_RELATIME is 0
	}
	return set, clear
}

// devNodes are the device nodes of the minimal /dev (spec-v1 "Mount"),
// bound from the host: a bind needs no CAP_MKNOD and works in a user
// namespace.
var devNodes = []string{"null", "zero", "full", "random", "urandom", "tty"}

// dev plans the minimal /dev of spec-v1: a tmpfs with the safe device
// nodes, a private devpts, shm and the fd links.
func (ec *envCompiler) dev(m spec.Mount, opt MountFlags) {
	in := func(target, source, fstype string, flags MountFlags, data, create string) {
		ec.add(Child, m.Pos, Mount{Source: source, Target: target, FSType: fstype, Flags: flags,
			Data: data, Root: ec.root, InRoot: true, Create: create})
	}
	link := func(target, link string) {
		ec.add(Child, m.Pos, Symlink{Target: target, Link: link, Root: ec.root})
	}
	t := m.Target
	in(t, "tmpfs", "tmpfs", msNOSUID|msNOEXEC|opt, "mode=755,size=65536k", "dir")
	for _, n := range devNodes {
		in(path.Join(t, n), "/dev/"+n, "", msBIND, "", "file")
	}
	// newinstance: a devpts of its own, so the environment sees none of
	// the host's terminals; ptmx reached through the pts/ptmx link.
	in(path.Join(t, "pts"), "devpts", "devpts", msNOSUID|msNOEXEC, "newinstance,ptmxmode=0666,mode=0620", "dir")
	link("pts/ptmx", path.Join(t, "ptmx"))
	in(path.Join(t, "shm"), "tmpfs", "tmpfs", msNOSUID|msNODEV, "mode=1777", "dir")
	link("/proc/self/fd", path.Join(t, "fd"))
	link("/proc/self/fd/0", path.Join(t, "stdin"))
	link("/proc/self/fd/1", path.Join(t, "stdout"))
	link("/proc/self/fd/2", path.Join(t, "stderr"))
	if m.Readonly {
		in(t, "", "", msREMOUNT|msBIND|msRDONLY|msNOSUID|msNOEXEC|opt, "", "")
	}
}

// init plans the process tree: with init, PID 1 starts every process; without,
// the child becomes the main process.
func (ec *envCompiler) init() {
	e := ec.e
	if e.Init != nil && !e.Init.Value {
		if len(e.Process) != 1 || len(e.Process[0].Children) > 0 {
			ec.errorf(e.Init.Pos, ec.field+".init", "init: false runs exactly one process (it becomes PID 1); the spec declares more, which need nsup's init")
			return
		}
		p := e.Process[0]
		st := ec.start(p, "", ec.field+".processes[0]")
		// Its limits first, while it is still root of the stage: a
		// capability to raise one is gone after setresuid.
		for _, r := range st.Rlimits {
			ec.add(Init, ec.limitPos(p, r.Resource), r)
		}
		if !ec.denySetgroups {
			ec.add(Init, p.Pos, Setgroups{Groups: []uint32{}})
		}
		ec.add(Init, p.Pos, Setresgid{GID: st.GID})
		ec.add(Init, p.Pos, Setresuid{UID: st.UID})
		// A change of credentials clears the parent-death signal
		// (prctl(2)): set it again, or the main process would outlive a
		// kill -9 of nsup.
		ec.add(Init, p.Pos, Prctl{Option: prSetPdeathsig, Arg: 9})
		if ec.terminal {
			// The stage leads a session of its own (Setsid): the pty
			// becomes its controlling terminal, and the main process's.
			ec.add(Init, p.Pos, Setctty{})
		}
		ec.add(Init, p.Pos, Chdir{Path: st.Cwd})
		ec.add(Init, p.Pos, Execve{Path: st.Path, Argv: st.Argv, Env: st.Env})
		return
	}
	var walk func(ps []*spec.Process, parent, field string)
	walk = func(ps []*spec.Process, parent, field string) {
		for i, p := range ps {
			f := fmt.Sprintf("%s[%d]", field, i)
			st := ec.start(p, parent, f)
			st.Main = parent == "" && i == 0
			st.Terminal = st.Main && ec.terminal
			ec.add(Init, p.Pos, st)
			walk(p.Children, p.Name, f+".children")
		}
	}
	walk(e.Process, "", ec.field+".processes")
}

func walkProcs(ps []*spec.Process, fn func(p *spec.Process, parent string)) {
	var walk func(ps []*spec.Process, parent string)
	walk = func(ps []*spec.Process, parent string) {
		for _, p := range ps {
			fn(p, parent)
			walk(p.Children, p.Name)
		}
	}
	walk(ps, "")
}

// start resolves one process: its environment (the spec's, then the
// process's on top; PATH defaults when neither sets it), identity, working
// directory, and argv[0] looked up in PATH inside the rootfs.
func (ec *envCompiler) start(p *spec.Process, parent, field string) Start {
	e := ec.e
	env := mergeEnv(e.Env, p.Env)
	st := Start{Process: p.Name, Parent: parent, Argv: p.Command, Env: env, Cwd: "/", StopTimeout: DefaultStopTimeout}
	if p.StopTimeout != nil {
		st.StopTimeout = p.StopTimeout.Value.Milliseconds()
	}
	if e.Cwd != nil {
		st.Cwd = e.Cwd.Value
	}
	if p.Cwd != nil {
		st.Cwd = p.Cwd.Value
	}
	if u := e.User; u != nil {
		st.UID, st.GID = u.UID, u.GID
	}
	upos := e.Pos
	if u := e.User; u != nil {
		upos = u.Pos
	}
	if u := p.User; u != nil {
		st.UID, st.GID = u.UID, u.GID
		upos = u.Pos
	}
	st.NoSetgroups = ec.denySetgroups
	st.Rlimits = ec.processLimits(p, field)
	// In a new user namespace only mapped ids exist: setresuid(2) of
	// another fails with EINVAL.
	if ec.isNew(spec.NSUser) && (!mapped(ec.uidMap, st.UID) || !mapped(ec.gidMap, st.GID)) {
		ufield := field + ".user"
		if p.User == nil {
			ufield = ec.field + ".user"
		}
		ec.errorf(upos, ufield, "%d:%d is not mapped in the new user namespace (uid map %q, gid map %q): add it to idmap",
			st.UID, st.GID, strings.TrimSpace(mapText(ec.uidMap)), strings.TrimSpace(mapText(ec.gidMap)))
	}
	pathVar := DefaultPath
	for _, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			pathVar = kv[len("PATH="):]
		}
	}
	st.Path = ec.lookPath(p.Command[0], pathVar, st.Cwd, p, field)
	return st
}

// mergeEnv builds the clean environment: nothing from the host.
func mergeEnv(base, over []spec.EnvVar) []string {
	var names []string
	vals := map[string]string{}
	for _, vs := range [][]spec.EnvVar{base, over} {
		for _, v := range vs {
			if _, ok := vals[v.Name]; !ok {
				names = append(names, v.Name)
			}
			vals[v.Name] = v.Value
		}
	}
	if _, ok := vals["PATH"]; !ok {
		names = append([]string{"PATH"}, names...)
		vals["PATH"] = DefaultPath
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n + "=" + vals[n]
	}
	return out
}

// lookPath finds argv[0] inside the rootfs as execvp(3) would. It is
// resolved at plan time when the tree is known (closure, dir), so the plan
// shows the exact execve; a tar tree is looked up when the process starts.
func (ec *envCompiler) lookPath(name, pathVar, cwd string, p *spec.Process, field string) string {
	var t treeView
	switch {
	case ec.tree != nil:
		t = mapTree(ec.tree)
	case ec.e.Rootfs.Dir != "":
		t = dirTree(ec.e.Rootfs.Dir)
	default:
		return ""
	}
	var cands []string
	if strings.Contains(name, "/") {
		cands = []string{path.Join(cwd, name)}
		if path.IsAbs(name) {
			cands = []string{path.Clean(name)}
		}
	} else {
		for _, d := range filepath.SplitList(pathVar) {
			if d == "" {
				d = "."
			}
			cands = append(cands, path.Join(cwd, d, name))
			if path.IsAbs(d) {
				cands[len(cands)-1] = path.Join(d, name)
			}
		}
	}
	for _, c := range cands {
		if f, ok := resolveIn(t, c); ok && f.Type == "file" && f.Mode&0o111 != 0 {
			return c
		}
	}
	ec.errorf(p.Pos, field+".command[0]", "%q not found in the rootfs (PATH=%s)", name, pathVar)
	return ""
}
