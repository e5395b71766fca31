package planner

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nsup/nsup/planner/cgroup"
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
	// Cgroups reads the host's cgroup layout (nil: cgroup.Discover of
	// the host's /), where each environment's groups go.
	Cgroups func() (*cgroup.Layout, error)
	// LandlockABI is the kernel's Landlock ABI version, 0 without it (nil:
	// asked of this kernel): from 6 on, it scopes abstract unix sockets
	// and signals (hostScopes). Golden tests pass a fixed one.
	LandlockABI func() int
	// KernelRelease is the kernel's release, as uname -r says it (nil:
	// this kernel's): an overlay root of the cache with root inside
	// mapped elsewhere needs 5.19 (overlaytree.go). Golden tests pass a
	// fixed one.
	KernelRelease func() string
	// Terminal: nsup's stdin is a terminal. A single environment in the
	// foreground (the one planned, or the one named in Envs, with what it
	// joins) then gets a pty of its own (Openpty), relayed to it, instead
	// of the caller's terminal.
	Terminal bool
	// Term is the caller's TERM: the environment's processes get it with
	// the terminal (Terminal), unless the spec sets one.
	Term string
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
	// Project is the project of a detached plan (nsup -p NAME); ""
	// means the spec's own (spec.Spec.Project). Its environments are
	// recorded under StateDir/PROJECT/, so that two projects' names never
	// clash.
	Project string
	// VolumeDir is where named volumes are (VOLUMEDIR/PROJECT/NAME); ""
	// means DefaultVolumeDir().
	VolumeDir string
	// Running says whether the detached environment recorded in state
	// folder dir (PROJECTDIR/ENV) runs. With it, an environment that Envs
	// do not name, needed by those they name only through depends_on (or
	// a pod's namespaces, which its holder holds), is kept as it runs
	// instead of planned anew (compose's up of one service): nil, none.
	Running func(dir string) bool
	// PortableIDs: the ids nsup adds to a generated /etc/passwd and
	// /etc/group are named user1000, group1000, never by the host's files
	// (nsup export --image: an image is the same on every host).
	PortableIDs bool
	// Export: the plan is exported (nsup export: a bundle or an image
	// gets a copy of the tree), never applied: what only apply's child
	// stage needs of the host's folders (childReaches) is not checked.
	Export bool
	// FolderStat says how a host folder on the way to nsup's cache and
	// volumes is owned, and its mode (nil: stat(2)), for the walk of
	// apply's child stage as root inside a user namespace's maps
	// (childReaches). Golden tests pass a fixed one.
	FolderStat func(path string) (uid, gid, mode uint32, err error)
	// Clocks reads the host's CLOCK_MONOTONIC and CLOCK_BOOTTIME (nil:
	// this host's), against which a time namespace's offsets are checked
	// (timens.go). Tests pass fixed ones.
	Clocks func() (monotonic, boottime time.Duration, err error)
}

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
	ownClosure := opts.Closure == nil
	if opts.Detach && opts.StateDir == "" {
		opts.StateDir = DefaultStateDir()
	}
	if opts.HostPath == nil {
		opts.HostPath = hostPath
	}
	if opts.LandlockABI == nil {
		opts.LandlockABI = landlockABI
	}
	if opts.FolderStat == nil {
		opts.FolderStat = folderStat
	}
	if opts.KernelRelease == nil {
		opts.KernelRelease = kernelRelease
	}
	c := &compiler{s: s, opts: opts}
	if ownClosure {
		c.opts.Closure = c.ownClosure
	}
	if opts.Detach || usesVolumes(s) {
		project, err := projectOf(s, opts.Project)
		if err != nil {
			return nil, err
		}
		c.project = project
		if opts.Detach {
			c.projectDir = filepath.Join(opts.StateDir, project)
		}
		if opts.VolumeDir == "" {
			opts.VolumeDir = DefaultVolumeDir()
		}
		c.volumeDir = opts.VolumeDir
	}
	if opts.Caller != nil {
		c.caller = *opts.Caller
	} else {
		c.caller = CurrentCaller()
	}
	if opts.Detach {
		c.pods = pods(s, c.caller.Privileged)
	}
	envs, err := c.order()
	if err != nil {
		return nil, err
	}
	// One terminal, one environment: the one planned, or the one the
	// caller named (nsup run, nsup shell, apply FILE ENV) when those it
	// joins or depends on are planned with it. With several named, none
	// can have the caller's input to itself (their processes still write
	// to nsup's stdout and stderr, prefixed).
	if opts.Terminal && !opts.Detach {
		switch {
		case len(envs) == 1:
			c.terminalEnv = envs[0].Name
		case len(opts.Envs) == 1:
			c.terminalEnv = opts.Envs[0]
		}
	}
	p := &Plan{Format: FormatVersion, Spec: s.File, SpecDigest: s.Digest, Detach: opts.Detach, Project: c.project}
	if abs, err := filepath.Abs(s.File); err == nil {
		p.SpecPath = abs
	}
	p.EnvFile, p.EnvFileDigest = s.EnvFile, s.EnvDigest
	p.Vars = VarsOf(s)
	c.prefixes(envs)
	p.Environments = c.envs(envs)
	c.sharedUsersLifted()
	p.Writable = c.writableFolders()
	var errs Errors
	for _, sl := range c.slots {
		errs = append(errs, sl.ec.errs...)
	}
	if len(errs) > 0 {
		return nil, errs.Sorted()
	}
	return p, nil
}

// compileWorkers is how many environments are compiled at once: one per
// CPU Go runs on (tests set it).
var compileWorkers = func() int { return runtime.GOMAXPROCS(0) }

// envs compiles the environments, in order (order), several at once: an
// environment that joins another's namespaces by name waits for that
// one (doneEnv), which comes before it; the others are independent. The
// plan is the same as one compiled one by one, whatever the schedule.
func (c *compiler) envs(envs []*spec.Environment) []Env {
	c.slots = make([]envSlot, len(envs))
	c.byName = make(map[string]int, len(envs))
	for i, e := range envs {
		c.slots[i].ready = make(chan struct{})
		c.byName[e.Name] = i // one environment a name (Parse refuses repeats)
	}
	out := make([]Env, len(envs))
	workers := min(compileWorkers(), len(envs))
	if workers <= 1 {
		for i, e := range envs {
			out[i] = c.env(i, e)
		}
		return out
	}
	// Each worker takes the next environment: those before it are
	// compiled or being compiled, so that the first not done can always
	// go on.
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(envs) {
					return
				}
				out[i] = c.env(i, envs[i])
			}
		})
	}
	wg.Wait()
	return out
}

// An envSlot is one environment of the plan: ready is closed once ec is
// compiled.
type envSlot struct {
	ec    *envCompiler
	ready chan struct{}
}

// doneEnv is the environment named name when it comes before ec in the
// plan, once compiled (it may be in the works: it is waited for), else
// nil: what an environment compiled one by one sees of the others.
func (ec *envCompiler) doneEnv(name string) *envCompiler {
	i, ok := ec.byName[name]
	if !ok || i >= ec.at {
		return nil
	}
	<-ec.slots[i].ready
	return ec.slots[i].ec
}

type compiler struct {
	s      *spec.Spec
	opts   Options
	caller Caller
	// slots are the plan's environments, in order; byName their index
	// (envs, doneEnv).
	slots  []envSlot
	byName map[string]int
	// mu guards the memos below, which environments compiled at once
	// share; the functions of opts they call are called under it, one
	// at a time.
	mu sync.Mutex
	// closures memoizes resolved closures by their path list: environments
	// of one file often share a closure, and resolving hashes every file.
	closures map[string]closureResult
	// filters memoizes compiled seccomp filters by profile and capability
	// set; hostPaths, what HostPath says of a path.
	filters   map[string]filterResult
	hostPaths map[string][2]bool
	// nsFiles memoizes the namespace files joined by path (nsFile).
	nsFiles map[string]nsFile
	// writable is writableFolders, found once per plan.
	writableOnce sync.Once
	writable     []WritableFolder
	// writableMounts are the host's mounts, read with them (shownBelow).
	writableMounts []cgroup.Mount
	// ownMounts is hostMounts' own read of the mount table, where the
	// cgroup layout could not be read.
	ownMountsOnce sync.Once
	ownMounts     []cgroup.Mount
	ownMountsErr  error
	// dirs memoizes what resolved and rootfs ask of a host directory
	// (environments of one file often share a rootfs).
	dirs map[string]hostDir
	// refusedBinds memoizes kernelBindRefused, by recursive and source.
	refusedBinds map[refusedBind]string
	// stats memoizes the lstat of a path below a host folder (dirTree,
	// mountedView).
	stats statCache
	// mountFacts memoizes the host mounts' flags and ids (readonlytarget.go).
	mountFacts hostMountFacts
	// lookups memoizes a command looked up in a dir rootfs: by root,
	// name, PATH and working directory.
	lookups map[string]lookup
	// layout is the host's cgroup layout (hostLayout), read once.
	// project is the plan's project (detached, or with volumes);
	// projectDir its folder of the state directory (detached), where its
	// environments are recorded; volumeDir where volumes are.
	project, projectDir, volumeDir string
	// kept are the environments left out of the plan because they run
	// (Options.Running), by name.
	kept map[string]bool
	// pods are the namespaces of each environment that others join by
	// name and a holder holds (detached, as root): see pods.
	pods       map[string]CloneFlags
	layout     *cgroup.Layout
	layoutErr  error
	parentErr  error // NSUP_CGROUP_PARENT, as given, is wrong
	layoutRead bool
	// terminalEnv is the environment that gets a pty (Options.Terminal),
	// "" for none.
	terminalEnv string
	// prefixed: the lines of the environment's processes are prefixed
	// (prefixes).
	prefixed map[string]bool
}

func (ec *envCompiler) errorf(pos spec.Pos, field, format string, args ...any) {
	ec.errs = append(ec.errs, &spec.Error{File: ec.s.File, Pos: pos, Path: field, Msg: fmt.Sprintf(format, args...)})
}

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

type envCompiler struct {
	*compiler
	// terminal: this environment gets a pty of its own (terminalEnv).
	terminal bool
	e        *spec.Environment
	at       int    // its index in the plan
	field    string // "environments.NAME"
	errs     Errors
	steps    []Step
	root     string // host path of the root tree
	// tree is the closure's file list by path, nil for other kinds.
	tree map[string]File
	// rootFailed: the closure or the dir root could not be read
	// (reported): nothing is looked up in the root (baseView).
	rootFailed bool
	// hostTrees: the trees the host clones for the child, by path, not
	// yet taken by a bind (hosttree.go).
	hostTrees map[string]int
	// idmapped: the host's clones idmapped once the maps are written, at
	// idmappedPos (overlaytree.go).
	idmapped    []IdmapTree
	idmappedPos spec.Pos
	// tarEtc is what a tar root has at tarEtcPaths (TarEtc.String).
	tarEtc string
	// tarID is what a tar root has where identityOf looks (nil: not
	// known).
	tarID *tarIDRecord
	notes []string

	// The namespaces, as namespaces() decided them (see namespaces.go).
	joins     []joinRef // in spec.JoinOrder: user first
	addedUser bool      // rootless: a new user namespace the spec did not ask for
	forked    bool      // the joins and the clone are made by a forked copy
	// latePid is the join of a pid namespace made by the child stage after
	// its root switch (a setns and a clone of its own), or nil: see
	// namespaces.go.
	latePid       *Setns
	latePidPos    spec.Pos
	timeInChild   bool   // a new time namespace is unshared by the child stage
	denySetgroups bool   // setgroups(2) is denied in the user namespace
	podUser       string // the pod whose holder's user namespace the environment is in
	// made are the folders apply makes before they are bound (volumes,
	// create: true), by path: "volume" or "create".
	made      map[string]string
	uidMap    []spec.IDRange
	gidMap    []spec.IDRange
	uidHelper bool // uid_map through newuidmap
	gidHelper bool // gid_map through newgidmap
	// stateDir is the environment's state directory when detached, else "".
	stateDir string
	// skipped are the masked or read-only paths this host does not have.
	skipped []string
	// origins are the origins of the steps so far (origin).
	origins []posText
	// hostBinds are the binds of a rootfs of host folders (rootfs.host),
	// the first entries of e.Mounts, by their index in rootfs.host.
	hostBinds []int
	// hostEntries are rootfs.host's entries as this host has them.
	hostEntries []hostEntry
	// views are the mounts as mountedView takes them (viewMounts).
	views []viewMount
	// ident is the processes' identity files (identityOf), once known.
	ident *identity
	// pkgFiles are the files of closure.packages.
	pkgFiles []string
	// treeTargets are the mounts' targets as a dir root's symlinks lead
	// them (linkedBelowBind), by index, where one was followed.
	treeTargets []treeTarget
	// madeBy are the host paths of the folders apply's mounts make in
	// the dir root or a bound host folder (targetMakeable), so far.
	madeBy map[string]bool
	// caps is capabilities()'s answer, once capsKnown (shared by the
	// steps and checks that ask it: not to be changed).
	caps      []string
	capsKnown bool
	// peer is pidPeer's answer, once peerKnown.
	peer      string
	peerKnown bool
}

func (c *compiler) env(at int, e *spec.Environment) Env {
	// Room for the steps of a usual environment (about 45).
	ec := &envCompiler{compiler: c, e: e, at: at, field: "environments." + e.Name, steps: make([]Step, 0, 64), terminal: e.Name == c.terminalEnv}
	ec.hostRootBinds()
	ec.namespaces()
	ec.checkRlimits()
	ec.checkTimeOffsets()
	if c.opts.Detach {
		ec.stateDir = filepath.Join(c.projectDir, e.Name)
		ec.lock()
	}
	ec.volumes()
	ec.waitHealthy()
	ec.rootfs()
	ec.devBinds()
	ec.host()
	ec.child()
	ec.dirRootMade()
	ec.init()
	ec.detach()
	ec.sharedUIDs()
	c.slots[at].ec = ec
	close(c.slots[at].ready)
	out := Env{Name: e.Name, Steps: ec.steps, Notes: ec.notes}
	for _, j := range ec.joins {
		if !j.isPath() && !ec.inPod(j) && !slices.Contains(out.Needs, j.ref) {
			out.Needs = append(out.Needs, j.ref)
		}
	}
	for _, d := range e.DependsOn {
		out.DependsOn = append(out.DependsOn, Dependency{Env: d.Env, Condition: d.Condition})
	}
	return out
}

// healthWaitMargin is what a wait for an environment's health allows
// beyond the time its healthcheck needs to say healthy or unhealthy.
const healthWaitMargin = 10 * time.Second

// waitHealthy plans, for each depends_on: {ENV: healthy}, the host's wait
// for ENV's main process to pass its healthcheck, before anything of this
// environment is made. It is bounded by the time the healthcheck needs to
// decide: its start period, then retries+1 checks of an interval and a
// timeout each (a failure after a success counts from there), and a
// margin.
func (ec *envCompiler) waitHealthy() {
	for _, d := range ec.e.DependsOn {
		if d.Condition != spec.DependsHealthy {
			continue
		}
		field := ec.field + ".depends_on." + d.Env
		other := ec.s.Env(d.Env)
		if other == nil || len(other.Process) == 0 {
			continue // refused by spec.Parse
		}
		main := other.Process[0]
		h := main.Healthcheck
		if h == nil {
			ec.errorf(d.Pos, field, "%s's main process %q has no healthcheck: give it one, or depend on %s with started", d.Env, main.Name, d.Env)
			continue
		}
		bound := h.StartPeriod + time.Duration(h.Retries+1)*(h.Interval+h.Timeout) + healthWaitMargin
		w := WaitHealthy{Env: d.Env, Process: main.Name, TimeoutMs: bound.Milliseconds(), Release: ec.stateDir != ""}
		if ec.compiler.kept[d.Env] {
			// Not in the plan: it runs, and its init says how it is.
			w.Release, w.StateDir = false, filepath.Join(ec.compiler.projectDir, d.Env)
		}
		ec.add(Host, d.Pos, w)
	}
}

func (ec *envCompiler) add(stage Stage, pos spec.Pos, op Op) {
	ec.steps = append(ec.steps, Step{Stage: stage, Origin: ec.origin(pos), Op: op})
}

// origin is spec.Origin, made once per position of the environment: its
// steps come from a few nodes (about six), each the origin of several.
func (ec *envCompiler) origin(pos spec.Pos) string {
	for _, o := range ec.origins {
		if o.pos == pos {
			return o.text
		}
	}
	o := ec.s.Origin(pos)
	ec.origins = append(ec.origins, posText{pos, o})
	return o
}

type posText struct {
	pos  spec.Pos
	text string
}

// projectOf is a detached plan's project: given (-p), else the spec's.
func projectOf(s *spec.Spec, given string) (string, error) {
	fail := func(p spec.Pos, format string, args ...any) error {
		return Errors{&spec.Error{File: s.File, Pos: p, Msg: fmt.Sprintf(format, args...)}}
	}
	switch {
	case given != "":
		if !spec.ValidName(given) {
			return "", fail(spec.Pos{Line: 1, Col: 1}, "-p %q: invalid project name: 1 to 63 of a-z, 0-9 and -, beginning and ending with a letter or digit", given)
		}
		return given, nil
	case s.Project() == "":
		return "", fail(spec.Pos{Line: 1, Col: 1}, "no project name: the folder %s gives none (its name has no letter or digit): add name: PROJECT to the spec, or give -p PROJECT", s.Dir)
	}
	return s.Project(), nil
}
