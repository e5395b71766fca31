package planner

import (
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Plan is a self-contained, ordered list of operations: with it alone,
// executor.Apply can bring the environments up. It is pure data: printing it
// (nsup plan) and applying it (nsup apply) read the same value.
type Plan struct {
	// Format is the version of this JSON layout.
	Format int `json:"format"`
	// Spec is the spec file name as given; SpecPath its absolute path.
	Spec     string `json:"spec"`
	SpecPath string `json:"specPath"`
	// SpecDigest is "sha256:HEX" of the spec file's bytes when planned; a
	// saved plan is refused if the file changed since.
	SpecDigest string `json:"specDigest"`
	// Detach is set for nsup apply -d: the environments keep running after
	// nsup returns (see Mkdir, Flock, Stdio, Listen, Setsid, SaveState).
	Detach       bool  `json:"detach,omitempty"`
	Environments []Env `json:"environments"`
}

// FormatVersion is the current Plan.Format.
const FormatVersion = 2

// Env is one environment's steps, in the order apply performs them.
type Env struct {
	Name string `json:"name"`
	// Needs lists the environments whose namespaces this one joins; they are
	// planned (and started) before it.
	Needs []string `json:"needs,omitempty"`
	// Notes explain decisions the planner took that the steps alone do not
	// say (rootless mode adding a user namespace); printed as comments.
	Notes []string `json:"notes,omitempty"`
	Steps []Step   `json:"steps"`
}

// Stage says which process performs a step.
type Stage int

const (
	// Host is the nsup process itself, in the host's namespaces.
	Host Stage = iota
	// Child is the launcher's child: a copy of nsup's host thread made by
	// a raw clone3(2) in the new namespaces, which makes raw system calls
	// only, prepared before the clone, with no Go runtime of its own: the
	// mounts, the root switch, the confinement. It ends by executing the
	// main process (init: false), nsup's init (Execve of InitArgv), or by
	// forking the main process and staying as its PID 1 (Monitor).
	Child
	// Init is nsup's init, PID 1 of the environment: nsup executed by the
	// child stage, for a process tree, prefixed output, a detached
	// environment or a joined pid namespace. It starts the processes
	// (Spawn) and serves nsup exec.
	Init
	// Fork is a copy of nsup made by fork(2) on the host, single-threaded
	// and before any execve: setns(2) into a user, mount or time namespace
	// needs a process of one thread, which the Go runtime never is. It
	// makes raw system calls only, then creates the child stage.
	Forked
	// Proc is a new process between its fork and its execve (after a
	// Spawn or a Monitor, or the child stage itself with init: false):
	// raw system calls only, its limits, identity, session, working
	// directory, then the execve of its program.
	Proc
)

var stageNames = [...]string{"host", "child", "init", "fork", "proc"}

func (s Stage) String() string {
	if int(s) < len(stageNames) && s >= 0 {
		return stageNames[s]
	}
	return "stage?"
}

// Step is one operation of a plan, with the YAML node that caused it.
type Step struct {
	Stage  Stage
	Origin string // "examples/hello.yaml:14:7"
	Op     Op
}

// Op is implemented only by the operation types of this package. Each type
// is named after its syscall; a few (Rootfs, Overlay) are not single syscalls
// but still appear as steps, so that everything apply does is in the plan.
type Op interface {
	// Syscall is the syscall (or pseudo-operation) name, as printed.
	Syscall() string
	// Kind is the operation's name in JSON, its own: two operations may
	// print as one syscall (ioctl, prctl, capset, write), never share a
	// kind (AllOps is checked for that when the package starts).
	Kind() string
	isOp()
}

// File is one entry of a rootfs tree built into the cache.
type File struct {
	// Path is absolute inside the environment.
	Path string `json:"path"`
	// Type is "file", "dir" or "symlink".
	Type string `json:"type"`
	// Mode is the permission bits (setuid and setgid never kept).
	Mode uint32 `json:"mode"`
	// Source is the host path a file's bytes come from.
	Source string `json:"source,omitempty"`
	// Link is a symlink's target, as stored.
	Link string `json:"link,omitempty"`
	Size int64  `json:"size,omitempty"`
	// Digest is "sha256:HEX" of a file's bytes.
	Digest string `json:"digest,omitempty"`
	// Content are the bytes of a file nsup generates (no Source): its
	// /etc/passwd and /etc/group; none for an empty placeholder.
	Content string `json:"content,omitempty"`
}

// Rootfs resolves the environment's root tree: for "dir" it is the
// directory itself; for "closure" the tree is built from Files into Path (a
// cache entry keyed by Digest) unless an entry with that digest exists.
type Rootfs struct {
	Type    string   `json:"kind"`    // "dir", "closure" or "tar"
	Sources []string `json:"sources"` // what the spec named, absolute
	// Path is the host directory that becomes the root.
	Path string `json:"path"`
	// Digest covers the tree (closure: every File; tar: the archive).
	Digest string `json:"digest,omitempty"`
	Files  []File `json:"files,omitempty"`
	// Data are the files of closure.packages (from the host's dpkg
	// database), added to the closure as a folder's files are.
	Data []string `json:"data,omitempty"`
	// Host are the host folders a closure tree is made for (rootfs.host:
	// the tree holds their mount points and links, and no file of the
	// host's); they are bound by the child stage's steps.
	Host []string `json:"host,omitempty"`
}

// Clone creates the child stage with new namespaces: clone3(2) with Flags
// (CLONE_NEW*, and CLONE_PARENT from a forked copy; executor/launch.go).
type Clone struct {
	Flags CloneFlags `json:"flags"`
	// Cgroup is the environment's group in the unified hierarchy, which
	// the child is born in (CLONE_INTO_CGROUP), or "".
	Cgroup string `json:"cgroup,omitempty"`
}

// CgroupMkdir makes one of the environment's groups (GROUP/nsup/ENV of a
// hierarchy, its nsup/ folder too if missing). It is removed when the
// environment ends, its processes killed first.
type CgroupMkdir struct {
	Path string `json:"path"`
}

// CgroupWrite writes one file of a group nsup made: a limit, or a
// controller handed on to the environment's group (cgroup.subtree_control
// of nsup/).
type CgroupWrite struct {
	Path  string `json:"path"`
	Value string `json:"value"`
	// Limit is the spec's key and value it comes from, as written
	// ("limits.memory 512M"), for messages; "" for none.
	Limit string `json:"limit,omitempty"`
}

// CgroupJoin moves the host's thread that creates the child into a v1
// group (0, this thread, written to its tasks file), so that the child is
// born in it; after the clone the thread moves back to nsup's own group.
// (A thread, not the process: the kernel then moves it without the lock
// that a process's move takes, whose RCU grace period cost up to 30 ms.)
type CgroupJoin struct {
	Path string `json:"path"`
}

// Unshare is unshare(2) on the host thread that will create the child:
// used for a new time namespace, whose offsets must be written before any
// process is inside it (so it cannot be a clone flag; see design.md).
type Unshare struct {
	Flags CloneFlags `json:"flags"`
}

// Fork is fork(2) on the host: the steps of stage Fork that follow are
// performed by the copy, which ends by creating the child stage (a Clone
// with CLONE_PARENT, so that the child is nsup's) and exits.
type Fork struct{}

// Setns enters an existing namespace (setns(2)) before the child is created,
// so that the child is born in it.
type Setns struct {
	// Path is a namespace file; for a join by name it is
	// "/proc/$ENV/ns/TYPE", the environment's child stage while it runs
	// (apply opens it once that environment is up, before it can end).
	Path string `json:"path"`
	// Env is the environment joined by name, or "".
	Env    string     `json:"env,omitempty"`
	NSType CloneFlags `json:"nstype"`
}

// IDMapLine is one line of a uid_map or gid_map (user_namespaces(7)).
type IDMapLine struct {
	Inside  uint32 `json:"inside"`
	Outside uint32 `json:"outside"`
	Count   uint32 `json:"count"`
}

// UIDMap writes the child's uid_map, written from outside once the child
// exists and before its execve: directly, or through Helper (newuidmap,
// Debian package uidmap), which checks the ranges against /etc/subuid:
// how a user without privilege maps more than its own id.
type UIDMap struct {
	Lines  []IDMapLine `json:"lines"`
	Helper string      `json:"helper,omitempty"`
}

// GIDMap is UIDMap's gid_map (newgidmap, /etc/subgid).
type GIDMap struct {
	Lines  []IDMapLine `json:"lines"`
	Helper string      `json:"helper,omitempty"`
}

// DenySetgroups writes "deny" to the child's setgroups file, before its
// gid_map: what a writer of gid_map without CAP_SETGID in the parent user
// namespace must do (user_namespaces(7)). setgroups(2) then fails inside.
type DenySetgroups struct{}

// TimeOffsets writes the offsets of a new time namespace to
// /proc/TID/timens_offsets of the thread that unshared it, before any
// process is in it (time_namespaces(7)); nanoseconds.
type TimeOffsets struct {
	Monotonic int64 `json:"monotonic"`
	Boottime  int64 `json:"boottime"`
}

// MapText renders id map lines as uid_map takes them: "INSIDE OUTSIDE
// COUNT\n" each.
func MapText(lines []IDMapLine) string {
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%d %d %d\n", l.Inside, l.Outside, l.Count)
	}
	return b.String()
}

// Text renders the offsets as timens_offsets takes them.
func (t TimeOffsets) Text() string {
	return fmt.Sprintf("monotonic %s\nboottime %s\n", offset(t.Monotonic), offset(t.Boottime))
}

// mapSyscall is what an id map write prints as.
func mapSyscall(helper string) string {
	if helper != "" {
		return "newidmap"
	}
	return "write"
}

// offset renders nanoseconds as timens_offsets wants: "SECONDS NANOSECONDS".
func offset(ns int64) string {
	sec, nsec := SplitOffset(ns)
	return fmt.Sprintf("%d %d", sec, nsec)
}

// SplitOffset splits an offset in nanoseconds as timens_offsets (and
// OCI's linux.timeOffsets) hold it: seconds, and 0 <= nanoseconds < 1e9.
func SplitOffset(ns int64) (sec int64, nsec uint32) {
	s, n := ns/1e9, ns%1e9
	if n < 0 {
		s--
		n += 1e9
	}
	return s, uint32(n)
}

// InitArgv is how the child stage executes nsup's init: nsup's own
// binary (/proc/self/exe, opened by the host, executed through that fd)
// with these arguments.
var InitArgv = []string{"nsup", "__nsup_init"}

// KeeperArgv is how the host starts pasta's keeper (Pasta): nsup's own
// binary (/proc/self/exe) with these arguments, then the number of fds
// it hands pasta, pasta's path and its arguments. Its fd 3 is a pidfd of
// the environment's child; the fds from 4 on are pasta's from 3 on.
var KeeperArgv = []string{"nsup", "__nsup_keep"}

// Keeper is the keeper's argv for this pasta.
func (op Pasta) Keeper() []string {
	fds := 2 // the network namespace, the pid pipe
	if op.UserNS {
		fds++
	}
	return append(append(append([]string(nil), KeeperArgv...), strconv.Itoa(fds), op.Program), op.Args...)
}

// Execve replaces the process image. With ByFD, Path was opened on the
// host before the namespaces changed, and the file is executed through
// that fd (execveat(2), AT_EMPTY_PATH): nsup's init, whose binary is
// not in the environment's root. An empty Path (a tar root, unknown when
// planned) is argv[0] looked up in the PATH of Env inside the root when
// the process starts (LookPath).
type Execve struct {
	Path string   `json:"path"`
	Argv []string `json:"argv"`
	Env  []string `json:"env"`
	ByFD bool     `json:"byFD,omitempty"`
	// Output, for the main process of an init: false environment, is the
	// label of its output: there is no init to prefix its lines, so nsup
	// does (see Spawn.Output).
	Output string `json:"output,omitempty"`
}

// Mount is mount(2). When InRoot is set, Target is a path inside the
// environment's root (Root): it is resolved there with
// openat2(RESOLVE_IN_ROOT), created if missing as Create says ("dir" or
// "file"), and mounted through the resolved fd, so that no symlink in the
// rootfs can redirect it outside.
type Mount struct {
	Source string     `json:"source"`
	Target string     `json:"target"`
	FSType string     `json:"fstype"`
	Flags  MountFlags `json:"flags"`
	Data   string     `json:"data"`
	Root   string     `json:"root,omitempty"`
	InRoot bool       `json:"inRoot,omitempty"`
	Create string     `json:"create,omitempty"`
	// SourceInRoot: Source too is a path inside Root (a bind of a path
	// of the environment onto itself, to make it read-only).
	SourceInRoot bool `json:"sourceInRoot,omitempty"`
	// Confine says what a mount of nsup's confinement is for:
	// ConfineMasked (a masked path) or ConfineReadonly (a read-only
	// path), "" for the spec's own mounts and the root's.
	Confine string `json:"confine,omitempty"`
}

// Values of Mount.Confine and MountSetattr.Confine.
const (
	ConfineMasked   = "masked"
	ConfineReadonly = "readonly"
)

// Overlay mounts overlayfs on Target: a scratch tmpfs is mounted on Target
// first (holding upper/ and work/), then the overlay with Lower, the tree
// that was at Target before, held open by fd. UserXattr adds the
// "userxattr" option, which an overlay mounted in a user namespace needs:
// its own bookkeeping goes to user.overlay.* extended attributes, since
// trusted.* ones are out of reach there (overlayfs docs, "User xattr").
type Overlay struct {
	Target    string `json:"target"`
	Lower     string `json:"lower"`
	UserXattr bool   `json:"userxattr,omitempty"`
	// NoDev mounts the overlay MS_NODEV: device nodes of the tree do not
	// work (rootfs.dev: true leaves it out).
	NoDev bool `json:"nodev,omitempty"`
}

// Symlink is symlinkat(2) inside the root: Link (inside) points to Target.
type Symlink struct {
	Target string `json:"target"`
	Link   string `json:"link"`
	Root   string `json:"root"`
}

// LinkUp brings a network interface up: ioctl(2) SIOCSIFFLAGS with IFF_UP
// on a socket of the environment's network namespace (netdevice(7)).
type LinkUp struct {
	Name string `json:"name"`
}

// Sethostname is sethostname(2).
type Sethostname struct {
	Name string `json:"name"`
}

// Setdomainname is setdomainname(2).
type Setdomainname struct {
	Name string `json:"name"`
}

// PivotRoot is pivot_root(2), always called as pivot_root(".", ".") after
// chdir to the new root: the old root is stacked under the new one.
type PivotRoot struct {
	NewRoot string `json:"newRoot"`
	PutOld  string `json:"putOld"`
}

// Chdir is chdir(2).
type Chdir struct {
	Path string `json:"path"`
}

// Umount2 is umount2(2).
type Umount2 struct {
	Target string      `json:"target"`
	Flags  UmountFlags `json:"flags"`
}

// Prctl is prctl(2) with one argument.
type Prctl struct {
	Option PrctlOption `json:"option"`
	Arg    uint64      `json:"arg"`
	// Name is the string argument of PR_SET_NAME (Arg is then unused).
	Name string `json:"name,omitempty"`
}

// Capset makes Keep the permitted and effective sets, with nothing
// inheritable, with capset(2) on every thread of the stage (capabilities
// are a thread's; syscall.AllThreadsSyscall). The bounding set was
// reduced before the stage's execve (CapbsetDrop), and that execve, by
// root, left the ambient set empty.
type Capset struct {
	Keep []string `json:"keep"`
}

// CloseRange is close_range(2): every fd from First on is closed
// (CLOSE_RANGE_CLOEXEC: they are closed at the next execve).
type CloseRange struct {
	First uint32 `json:"first"`
}

// Setgroups is setgroups(2).
type Setgroups struct {
	Groups []uint32 `json:"groups"`
}

// Setresgid is setresgid(2) with rgid = egid = sgid = GID.
type Setresgid struct {
	GID uint32 `json:"gid"`
}

// Setresuid is setresuid(2) with ruid = euid = suid = UID.
type Setresuid struct {
	UID uint32 `json:"uid"`
}

// Mkdir makes an environment's state directory, and the state root above
// it, mode 0700 (root-only): an existing one is used if it is a directory
// of this user, not a symlink.
type Mkdir struct {
	Path string `json:"path"`
	Mode uint32 `json:"mode"`
}

// Flock opens (creating it) the environment's lock file and takes
// flock(2) LOCK_EX|LOCK_NB on it: of two nsup apply -d of one name, exactly
// one gets it. The fd is handed to init, which holds it for the
// environment's whole life (the lock held means the environment runs) and
// writes its exit status into the file as it ends. An existing State file
// is an earlier run that nobody took down: refused.
type Flock struct {
	Path  string `json:"path"`
	State string `json:"state"`
}

// Stdio opens the environment's fd 0 (Stdin, read-only) and fds 1 and 2
// (Stdout, O_WRONLY|O_CREAT|O_TRUNC|O_APPEND, mode 0600), for the child
// stage and every process started from it: a detached environment's
// output goes to a log file instead of nsup's terminal.
type Stdio struct {
	Stdin  string `json:"stdin"`
	Stdout string `json:"stdout"`
}

// Listen binds and listens on a unix socket (SOCK_SEQPACKET) at Path,
// removing a stale one first: the control socket nsup exec connects to.
// The listening fd is handed to init, which serves it.
type Listen struct {
	Path string `json:"path"`
}

// Setsid is setsid(2): the child stage leaves nsup's session and process
// group, so that no process of the environment has nsup's controlling
// terminal (TIOCSTI could type into the caller's shell through it), and
// its hang-up and ^C reach nsup alone (which forwards or stops in order).
type Setsid struct{}

// Setctty is ioctl(0, TIOCSCTTY, 0): the pty of an Openpty step becomes
// the controlling terminal of the session the caller leads.
type Setctty struct{}

// Openpty opens a new pseudo-terminal (/dev/ptmx; its peer with
// TIOCGPTPEER) on the host, when nsup's stdin is a terminal: the
// environment's fds 0, 1 and 2 are its peer, the main process's
// controlling terminal, and nsup relays it to its own terminal (in raw
// mode meanwhile, the window size followed). The caller's terminal never
// reaches the environment, so TIOCSTI from inside types into the
// environment's own terminal only (CVE-2017-5226).
type Openpty struct{}

// SaveState writes the environment's state file at Path atomically
// (written beside it, then renamed): init's pid, its start time and
// namespace inodes (so that a reused pid is never taken for it), the
// processes of the tree. Once it exists, nsup ps lists the environment.
type SaveState struct {
	Path string `json:"path"`
}

// Spawn starts one process of the tree from nsup's init: a raw clone(2)
// of init's thread whose child makes the Proc steps that follow, up to
// its execve. Parent names the process it is a child of ("" for a
// top-level process); Main marks the environment's main process.
type Spawn struct {
	Process string `json:"process"`
	Parent  string `json:"parent,omitempty"`
	Main    bool   `json:"main,omitempty"`
	// StopTimeout is the grace period in milliseconds between SIGTERM and
	// SIGKILL when the process is stopped.
	StopTimeout int64 `json:"stopTimeout"`
	// Output, when set, is the label of the process's output: its fds 1
	// and 2 are pipes to init, which writes each line prefixed with
	// "LABEL | " (when more than one process writes to one place).
	Output string `json:"output,omitempty"`
}

// Monitor forks the main process, whose Proc steps follow, and keeps the
// child stage as PID 1 of the environment, a minimal one with no Go
// runtime (as bubblewrap's): it reaps every child, forwards SIGINT,
// SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH to the main process,
// stops it on SIGTERM (SIGKILL after StopTimeout ms), and exits with its
// status once it has ended, which ends every other process of the pid
// namespace. Planned for one process in the foreground, in a pid
// namespace of its own.
type Monitor struct {
	Process     string `json:"process"`
	StopTimeout int64  `json:"stopTimeout"`
}

// MountSetattr is mount_setattr(2): Set and Clear are MOUNT_ATTR_ flags
// of the mount at Path (inside Root when InRoot, resolved as Mount's
// target is), and of every mount below it when Recursive (AT_RECURSIVE).
// Unlike a remount it never clears a flag it is not asked to, so in a
// user namespace it needs no copy of the flags locked on the host's
// mount (mount_namespaces(7)).
type MountSetattr struct {
	Path      string    `json:"path"`
	Root      string    `json:"root,omitempty"`
	InRoot    bool      `json:"inRoot,omitempty"`
	Recursive bool      `json:"recursive,omitempty"`
	Set       MountAttr `json:"set"`
	Clear     MountAttr `json:"clear,omitempty"`
	// Confine is ConfineReadonly for a read-only path of nsup's
	// confinement, else "".
	Confine string `json:"confine,omitempty"`
}

// Prlimit is prlimit64(0, Resource, {Soft, Hard}, NULL): a resource limit
// of the process itself, inherited by every process it starts.
type Prlimit struct {
	Resource Resource `json:"resource"`
	Soft     uint64   `json:"soft"`
	Hard     uint64   `json:"hard"`
}

// RlimInfinity is RLIM_INFINITY.
const RlimInfinity = ^uint64(0)

// Keyctl is keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL): the environment
// gets a new, anonymous session keyring, so that no process inside
// reaches the keys of the caller's session (keyrings are not namespaced;
// keyrings(7)). Done by the launcher in the new child, before its
// execve: every thread and process to come inherits it.
type Keyctl struct{}

// InheritCaps is capset(2) with the inheritable set raised to the
// permitted one: an execve by root keeps them (capabilities(7):
// P'(permitted) includes P(inheritable)) once the bounding set no longer
// holds them (CapbsetDrop). The stage needs them for its setup; Capset
// clears the inheritable set after it.
type InheritCaps struct{}

// CapbsetDrop is prctl(PR_CAPBSET_DROP) of every capability the kernel
// has but Keep, up to /proc/sys/kernel/cap_last_cap: no execve can ever
// bring one back. Done by the launcher in the new child, one thread,
// before its execve: every thread and process to come inherits it.
type CapbsetDrop struct {
	Keep []string `json:"keep"`
}

// Seccomp installs a syscall filter on every thread (seccomp(2)
// SECCOMP_SET_MODE_FILTER with SECCOMP_FILTER_FLAG_TSYNC): Program, the
// classic BPF compiled from Rules (an OCI profile, resolved for the
// capabilities the environment keeps), whose sha256 is Digest. Profile
// says where the rules came from: "default" (Docker's default profile)
// or a file's path.
type Seccomp struct {
	Profile string              `json:"profile"`
	Flags   SeccompFlags        `json:"flags"`
	Program []byte              `json:"program"`
	Digest  string              `json:"digest"`
	Rules   *specs.LinuxSeccomp `json:"rules"`
}

// Pasta starts pasta (Debian's passt package, podman's user-mode network
// stack) for the environment's new network namespace, once the child is
// there and before it goes on: the child waits until pasta has set up
// the namespace's interface, address and routes (pasta writes its pid to
// its --pid file, a pipe, once it has) and its ports are published. The
// namespace is given as an fd (/proc/self/fd/3: pasta, as root, drops
// what would let it open /proc/PID/ns/net), and rootless the child's user
// namespace too (/proc/self/fd/4); the pid pipe is the next fd.
//
// It is the environment's, and ends with it whatever ends that: pasta is
// started by its keeper (KeeperArgv: nsup's own binary, /proc/self/exe),
// born in the environment's unified group, which holds a pidfd of the
// child and ends pasta (pasta's parent-death signal, and a kill it waits
// for) once the child has ended: in the foreground or detached, by down,
// on its own, or killed with nsup (the child's parent-death signal).
type Pasta struct {
	Program string   `json:"program"`
	Args    []string `json:"args"`
	UserNS  bool     `json:"userns,omitempty"`
	// Ports are the published ports as compose writes them, host address
	// included (127.0.0.1:8080:80/tcp), for ps and nsup port.
	Ports []string `json:"ports,omitempty"`
}

// Console binds the environment's terminal, its fd 0 (the slave of the
// Openpty step), onto Target inside the root (/dev/console of its dev
// mount), as runc and crun make /dev/console: the environment's devpts is
// an instance of its own, where the terminal's /dev/pts/N is not, and
// tty(1), ttyname(3) and ps find it there.
type Console struct {
	Target string `json:"target"`
	Root   string `json:"root"`
}

// EtcFile puts a file nsup writes (Content) read-only at Target inside
// the root, an existing file there, without writing the rootfs: a tmpfs
// of its own made detached (fsopen, fsmount), the file written in it, a
// clone of just that file (open_tree) made read-only and moved onto the
// target (move_mount). The environment's resolv.conf and hosts.
type EtcFile struct {
	Target  string `json:"target"`
	Root    string `json:"root"`
	Content string `json:"content"`
}
