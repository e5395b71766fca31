package planner

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nsup/nsup/spec"
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
	Detach bool `json:"detach,omitempty"`
	// Project is a detached plan's project: its environments are recorded
	// in the state directory's folder of that name.
	Project string `json:"project,omitempty"`
	// Vars are the spec's variable references as they were resolved (the
	// values are in the steps already; these say where each came from),
	// and EnvFile the .env file read ("" for none), EnvFileDigest its
	// bytes' "sha256:HEX".
	Vars          []Var  `json:"vars,omitempty"`
	EnvFile       string `json:"envFile,omitempty"`
	EnvFileDigest string `json:"envFileDigest,omitempty"`
	Environments  []Env  `json:"environments"`
	// Writable are the host folders an environment of the spec may write
	// (a writable bind's source, a volume, a writable dir root), for nsup
	// plan -o to refuse saving the plan there (WritableHolding). Not
	// part of the plan's JSON.
	Writable []WritableFolder `json:"-"`
}

// VarsOf are the spec's variable references as a plan shows them.
func VarsOf(s *spec.Spec) []Var {
	var out []Var
	for _, v := range s.Vars {
		out = append(out, Var{At: s.Origin(v.Pos), Text: v.Text, Value: v.Value, From: v.From})
	}
	return out
}

// Var is one variable reference of the spec: at FILE:LINE:COL, the text
// ${TAG:-dev} gave Value, from From ("environment", the .env file's
// FILE:LINE, "default" or "unset").
type Var struct {
	At    string `json:"at"`
	Text  string `json:"text"`
	Value string `json:"value"`
	From  string `json:"from"`
}

// FormatVersion is the current Plan.Format.
const FormatVersion = 2

// Env is one environment's steps, in the order apply performs them.
type Env struct {
	Name string `json:"name"`
	// Needs lists the environments whose namespaces this one joins; they are
	// planned (and started) before it.
	Needs []string `json:"needs,omitempty"`
	// DependsOn are the environments this one starts after
	// (depends_on), each with its condition ("started" or "healthy");
	// they are planned (and started) before it.
	DependsOn []Dependency `json:"dependsOn,omitempty"`
	// Notes explain decisions the planner took that the steps alone do not
	// say (rootless mode adding a user namespace); printed as comments.
	Notes []string `json:"notes,omitempty"`
	Steps []Step   `json:"steps"`
}

// Dependency is one entry of an environment's depends_on.
type Dependency struct {
	Env       string `json:"env"`
	Condition string `json:"condition"`
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
	// UserRoot: in a user namespace, new (its maps have a 0) or joined,
	// the child first becomes its uid and gid 0 (setresgid, setresuid),
	// whose capabilities there survive a change of ids only so
	// (capabilities(7)); DropGroups: setgroups(0, NULL) before, where it
	// is not denied (an EPERM in a joined namespace says it is: the
	// groups are then kept). The child always sets its parent-death
	// signal first (SIGKILL: it dies with nsup's thread), and again
	// after a change of ids, which clears it (prctl(2)).
	UserRoot   bool `json:"userRoot,omitempty"`
	DropGroups bool `json:"dropGroups,omitempty"`
	// Late: the child stage's clone after its root switch and its join
	// of a pid namespace (the Setns before it, stage child): before it
	// the stage closes every fd of nsup's but fds 0 to N, the report
	// pipe and nsup's binary; the child is born in the joined pid
	// namespace, sets its parent-death signal, waits until the stage has
	// seen nsup alive, and makes a session of its own (setsid); the
	// stage reports its pid and exits (executor/rawlate.go).
	Late bool `json:"late,omitempty"`
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
// so that the child is born in it; in stage child (a pid namespace), before
// the child stage's Late clone.
type Setns struct {
	// Path is a namespace file; for a join by name it is
	// "/proc/$ENV/ns/TYPE", the environment's child stage while it runs
	// (apply opens it once that environment is up, before it can end).
	Path string `json:"path"`
	// Env is the environment joined by name, or "".
	Env string `json:"env,omitempty"`
	// Pod is the pod whose holder's namespace is joined (Hold), or "".
	Pod string `json:"pod,omitempty"`
	// NSIdentity is, for a join by path, the namespace the file was when
	// planned, and its owner: apply joins that namespace or none (zero if
	// the file could not be opened then: apply refuses it).
	NSIdentity
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
	// StopTimeout, for the main process of an init: false environment,
	// is its stop_timeout in ms, which nsup applies (there is no init to):
	// SIGKILL that long after the first SIGINT or SIGTERM nsup forwards
	// to it or sends it in an ordered stop (at once for 0). nil for any
	// other process.
	StopTimeout *int64 `json:"stopTimeout,omitempty"`
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
	// Detached (a bind whose attributes the next step sets, ByFD): the
	// bind is made as a detached clone of the source (open_tree(2),
	// OPEN_TREE_CLONE) moved onto the target (move_mount(2)), and the
	// clone's fd is kept for that step, which then needs no path: a
	// folder renamed meanwhile in a tree another environment shares
	// cannot send the attributes to another mount.
	Detached bool `json:"detached,omitempty"`
	// Held (a proc or sysfs mount, which nsup's masked and read-only
	// paths lie in; the dev's tmpfs, which its nodes, devpts, shm, links
	// and console lie in): the filesystem is made detached (fsopen(2),
	// its Data one fsconfig(2) per option, fsmount(2)) and moved onto
	// the target, and the mount's fd is held for the steps below it
	// (Beneath). A bind
	// that holds masked or read-only paths of the spec's is held too: a
	// detached clone of its source (open_tree(2)) moved onto the target,
	// whether Detached or not; so is one that mounts of the spec's lie
	// below. The child stage holds one fd per held target, up to the
	// root switch.
	Held bool `json:"held,omitempty"`
	// PidNS is, for a proc mount of a stage that joins a pid namespace
	// after its root switch (the Setns of stage child), that namespace's
	// file: proc is made for it (fsconfig(2) "pidns", its fd), not for
	// the stage's own.
	PidNS string `json:"pidns,omitempty"`
	// Beneath is the target of the Held mount that Source and Target
	// (paths inside the root) lie below, held by any earlier step (not
	// only the one before): they are resolved beneath that
	// mount's fd, not by their paths from the root again, so that a
	// folder renamed meanwhile in a tree another environment may write
	// cannot send the masks and read-only binds to a folder of its own
	// and leave the real /proc/sys writable (found by a review). A
	// read-only bind of the held mount onto itself (readonly_paths:
	// [/proc]) covers it: its clone's fd is held from then on, else the
	// masks after it went below the clone, where nothing sees them.
	Beneath string `json:"beneath,omitempty"`
	// NoXDev (a target inside Root, not Beneath, whose path as planned
	// crosses no earlier mount): what Create makes is made by a walk
	// that crosses no mount either (openat2(2) RESOLVE_NO_XDEV), so that
	// a symlink a writer of the tree put in the path since cannot have
	// a folder made in a host folder bound inside (helper-59's review).
	NoXDev bool `json:"noXDev,omitempty"`
	// NoLinks (a target inside Root, not Beneath, not NoXDev: it lies on
	// a mount of the host's below the root, and its path as planned
	// passes no link of the tree): what Create makes is made by a walk
	// that follows no symlink (RESOLVE_NO_SYMLINKS), which a writer of
	// the tree may have put in that host mount since (helper-68's
	// review).
	NoLinks bool `json:"noLinks,omitempty"`
	// HostTree (a bind of a folder of nsup's, the root's or a volume's):
	// the source is the clone the host made of it before the clone
	// (OpenTree), moved in: not opened by path. The root's is moved onto
	// "/" of the child's mount namespace (its own path may not be
	// reachable), and its fd is the root's handle as with a root bound
	// onto itself.
	HostTree bool `json:"hostTree,omitempty"`
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
	// HostTree: the lower layer is the host's clone of Lower (OpenTree,
	// idmapped: IdmapTree): root inside may not reach Lower's path. The
	// tmpfs is moved onto "/" of the child's mount namespace and the clone
	// onto a folder of it while the overlay is made (fsopen: overlayfs
	// takes layers of this mount namespace's mounts), the tmpfs then
	// unmounted (MNT_DETACH) and the overlay moved onto "/": its fd is the
	// root's handle, as a root bound onto itself (overlaytree.go).
	HostTree bool `json:"hostTree,omitempty"`
}

// Symlink is symlinkat(2) inside the root: Link (inside) points to Target.
type Symlink struct {
	Target string `json:"target"`
	Link   string `json:"link"`
	Root   string `json:"root"`
	// Beneath is the target of the held mount (the dev's tmpfs) that
	// Link lies below: its folder is resolved beneath that mount's fd
	// (as Mount.Beneath), not by its path from the root again.
	Beneath string `json:"beneath,omitempty"`
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
