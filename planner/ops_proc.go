package planner

// The ops of the process's side: its confinement (prctl, capabilities,
// rlimits, keyrings, the syscall filter), credentials, stdio and
// session, state, the processes init spawns, and pasta.

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

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

// Hold finds, or starts, the holder of pod Pod: a small process of its own
// (nsup's, as podman's infra container and Kubernetes' pause container)
// that holds the namespaces of Types which environment Pod creates and
// others join by name, so that either can be restarted (down, apply -d)
// and find the others' still there. Its pid and start time are in Record,
// written under a lock (Record.lock) when it is started; the
// environments then join its namespaces (Setns with Pod). It ends by
// itself once no process but itself has been in its namespaces for 2 s
// (10 s after its start), and nsup down of the pod's last environment
// ends it at once.
//
// With a user namespace among Types (the pod's owner has one), the
// holder's is mapped by UIDMap and GIDMap (setgroups denied first if
// DenySetgroups), written by nsup before the holder's execve: it is
// root in it, as the pod's owner would be in its own.
type Hold struct {
	Pod           string      `json:"pod"`
	Types         CloneFlags  `json:"types"`
	Record        string      `json:"record"`
	UIDMap        []IDMapLine `json:"uid_map,omitempty"`
	GIDMap        []IDMapLine `json:"gid_map,omitempty"`
	DenySetgroups bool        `json:"deny_setgroups,omitempty"`
	// Network is the pod's network as its environment declares it, when
	// the holder holds its network namespace: "user" (pasta, the host's
	// loopback out of reach), "user, host_loopback", or "" (none). A
	// holder started for one is not entered for another: the spec's
	// joiners were checked against this one (their CAP_NET_RAW, found by
	// a review entering a pasta network another spec of the project had
	// started).
	Network string `json:"network,omitempty"`
}

// HoldArgv is the command line of a pod's holder (nsup's binary).
var HoldArgv = []string{"nsup", "__nsup_hold"}

// Volume makes a named volume's folder if it is missing: mkdir(Path,
// Mode), then chown(UID, GID) (-1: the caller's), its parents (nsup's
// volume folder, the project's) made 0700. An existing one is used as it
// is: its content, mode and owner are the volume's. Never a symlink. A
// volume made by an apply that then fails is removed if still empty, with
// the parents the apply made. First, Lock (a file beside the volume,
// VolumeLockPath, never inside it: nothing of it is handed into the
// environment) is opened, made if missing, and locked shared,
// flock(LOCK_SH|LOCK_NB), by nsup for as long as it runs the environment
// (a detached one's record says it uses the volume once nsup has left):
// nsup volume rm takes it exclusive before it removes the volume, and
// refuses one in use; a volume being removed fails the apply.
type Volume struct {
	Name string `json:"name"`
	Path string `json:"path"`
	Lock string `json:"lock"`
	Mode uint32 `json:"mode"`
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
}

// MkdirAll makes a bind's source folder if it is missing (create: true),
// and its missing parents, with Mode (the umask applies, as mkdir -p's);
// an apply that then fails removes those it made, if still empty.
type MkdirAll struct {
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
// stage and init: a detached environment's output goes to a log file
// instead of nsup's terminal. With Max, init alone writes the log: every
// process writes to pipes of its own, which init copies there, and once
// the log would grow past Max bytes, init cuts its oldest half (LogMax;
// the log is then opened O_RDWR, for init to move what it keeps).
type Stdio struct {
	Stdin  string `json:"stdin"`
	Stdout string `json:"stdout"`
	Max    int64  `json:"max,omitempty"`
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
// environment's own terminal only (CVE-2017-5226). With ReadOnly (a
// mount namespace joined, whose child can clone no node of the host's:
// neither a Console nor a ReadOnlyTerminal step), the peer is
// opened again through a read-only clone of it alone (open_tree,
// mount_setattr), as nsup exec -t's is: root inside cannot chmod or chown
// the host's /dev/pts/N through its fds.
type Openpty struct {
	ReadOnly bool `json:"readOnly,omitempty"`
	// Helper: the clone is made by a short-lived nsup helper (nsup's
	// binary again, __nsup_ptyro) in a user and mount namespace of its
	// own, the caller's ids mapped to 0, which sends the reopened fd
	// back: a rootless nsup can clone no mount of the host's (open_tree
	// needs CAP_SYS_ADMIN over its mount namespace). Without it, with a
	// mount namespace joined, the user's own node went in writable: root
	// inside (the user) chmod'ed it 666 for every host user. A helper
	// that cannot (no user namespace for the user) fails the step.
	Helper bool `json:"helper,omitempty"`
}

// ReadOnlyTerminal opens the environment's terminal, its fd 0 (the slave
// of the Openpty step), again through a read-only clone of it alone, in
// the child's new mount namespace, where the child may clone (rootless
// too, in its own user namespace): the terminal's /dev/pts/N there (the
// readlink of /proc/self/fd/0, in this copy of the host's mounts) opened
// following no link and checked to be fd 0's inode, cloned (open_tree),
// made read-only (nosuid, noexec) and opened (O_RDWR|O_NOCTTY); it is put
// in place of each of fds 0 to 2 that is the terminal (dup3). The fds
// were on the host's devpts mount, writable: root inside made the node
// 0666 for every host user (chmod of /proc/self/fd/0). Planned with a
// terminal and no dev mount, whose Console step does the same.
type ReadOnlyTerminal struct{}

// NullDevice opens the null device for the environment's fds 0, 1 and 2
// that are the host's (nsup's caller gave it /dev/null, a detached
// environment's stdin): a clone of the host's /dev/null alone
// (open_tree, the node checked to be 1:3), made read-only, then opened
// through its fd. The device reads and writes as before; root inside can
// no longer chmod or chown the host's node through the fd it was given
// (EROFS), which every host user opens. Planned where root inside is
// the host's root to the node's owner check: nsup as root, outside a
// user namespace that maps root elsewhere.
type NullDevice struct{}

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
	// Restart is the process's restart policy, nil for none: init starts
	// it again (its Proc steps, then its children's Spawns) when it exits
	// and the policy says so, after a back-off (RestartBackoff).
	Restart *RestartPolicy `json:"restart,omitempty"`
	// Healthcheck is run by init while the process runs; nil for none.
	Healthcheck *Healthcheck `json:"healthcheck,omitempty"`
	// NoTerminal gives the process an empty pipe as its fd 0 instead of
	// the environment's terminal, which the main process holds: it runs
	// as another user, and would otherwise read what is typed for the
	// main process, or run what the main process types into the
	// terminal (TIOCSTI) with its own ids.
	NoTerminal bool `json:"noTerminal,omitempty"`
}

// RestartPolicy is a process's restart policy: "on-failure" (restarted
// when it exits with a status other than 0) or "always"; Max is the most
// restarts, 0 for no limit.
type RestartPolicy struct {
	Policy string `json:"policy"`
	Max    int    `json:"max,omitempty"`
}

// The back-off of restarts (docker's): RestartBackoffMin before the first
// restart, doubled at each one up to RestartBackoffMax, and back to the
// first once the process has run RestartBackoffReset before it exited.
const (
	RestartBackoffMin   = 100 * time.Millisecond
	RestartBackoffMax   = 10 * time.Second
	RestartBackoffReset = 10 * time.Second
)

// Healthcheck is a process's healthcheck: init runs Argv (Path is
// argv[0] as found in the process's PATH, "" when only the root init
// runs in can tell: a tar root) as the process's own steps would run a
// command (nsup exec --process), every IntervalMs (the first IntervalMs
// after the process starts), killed after TimeoutMs; the process is
// unhealthy after Retries failures in a row, those within StartPeriodMs
// of its start not counted until a first success.
type Healthcheck struct {
	Argv          []string `json:"argv"`
	Path          string   `json:"path,omitempty"`
	IntervalMs    int64    `json:"intervalMs"`
	TimeoutMs     int64    `json:"timeoutMs"`
	Retries       int      `json:"retries"`
	StartPeriodMs int64    `json:"startPeriodMs,omitempty"`
}

// WaitHealthy waits, on the host, until environment Env (planned before
// this one) is healthy: its main process Process has passed its
// healthcheck. It fails if Env turns unhealthy, ends, or is still
// starting after TimeoutMs. The steps of this environment that follow
// are done only then (depends_on: {ENV: healthy}). With Release (a
// detached plan), Env is released first (its last steps are done, which
// apply -d otherwise holds back until every environment is up): its init
// then runs the healthcheck meanwhile. With StateDir, Env is not in the
// plan: it runs already (detached, recorded there), and its init is asked
// (nsup ps's status request) until it says.
type WaitHealthy struct {
	Env       string `json:"env"`
	Process   string `json:"process"`
	TimeoutMs int64  `json:"timeoutMs"`
	Release   bool   `json:"release,omitempty"`
	StateDir  string `json:"stateDir,omitempty"`
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
	// ByFD: the attributes are set through the fd of the mount the
	// previous step made (Mount.Detached), not on Path resolved again.
	ByFD bool `json:"byFD,omitempty"`
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

// Landlock is landlock_create_ruleset(2) of a ruleset that handles no
// access and scopes Scoped (LANDLOCK_SCOPE_* bits), then
// landlock_restrict_self(2) of it, and close: the environment's
// processes, every one to come, may no longer connect to an abstract unix
// socket (LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET) nor signal a process
// (LANDLOCK_SCOPE_SIGNAL) outside the domain. Done by the launcher in the
// new child, one thread, before its execve.
type Landlock struct {
	Scoped uint64 `json:"scoped"`
}

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
	Profile string `json:"profile"`
	// NoHostIPC: the environment shares the host's IPC namespace, and
	// its SysV IPC and POSIX message queue calls are refused (EPERM),
	// whatever the profile says (hostIPCSyscalls).
	NoHostIPC bool `json:"no_host_ipc,omitempty"`
	// SelfOnly: the environment is in the host's pid namespace, and its
	// calls that set another process's resource limits, priority or I/O
	// priority are refused (EPERM), whatever the profile says
	// (limitsOfSelfOnly).
	SelfOnly bool `json:"self_only,omitempty"`
	// RootRefused: the profile is a file of the spec's, root inside is
	// the host's root (no user namespace that maps root elsewhere), and
	// what it names is refused whatever the profile says (rootRefusals):
	// the keyring calls, and without CAP_SYS_ADMIN new user namespaces.
	RootRefused string              `json:"root_refused,omitempty"`
	Flags       SeccompFlags        `json:"flags"`
	Program     []byte              `json:"program"`
	Digest      string              `json:"digest"`
	Rules       *specs.LinuxSeccomp `json:"rules"`
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
// tty(1), ttyname(3) and ps find it there. The bind is of the file fd
// 0 is: its /dev/pts/N opened and checked to be that inode, cloned
// (open_tree), made read-only (the node is the host devpts's: root
// inside would chmod it for every host user) and moved onto Target;
// fds 0 to 2 that are the terminal are reopened through it (they were
// on the host's devpts mount, writable: chmod of /proc/self/fd/0).
type Console struct {
	Target string `json:"target"`
	Root   string `json:"root"`
	// Beneath is the target of the held mount (the dev's tmpfs) that
	// Target lies below, resolved beneath its fd (as Mount.Beneath).
	Beneath string `json:"beneath,omitempty"`
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

// text renders a Hold step: the holder's clone, and what it does before
// and after its execve of nsup's binary (Go's os/exec, then RunHolder),
// as the strace test checks it.
func (op Hold) text() string {
	maps := ""
	if op.UIDMap != nil || op.GIDMap != nil {
		deny := ""
		if op.DenySetgroups {
			deny = ", setgroups deny"
		}
		maps = fmt.Sprintf(", uid_map %s%s, gid_map %s", q(strings.TrimSpace(MapText(op.UIDMap))), deny, q(strings.TrimSpace(MapText(op.GIDMap))))
	}
	pod := q(op.Pod)
	if op.Network != "" {
		pod += " (network " + q(op.Network) + ")"
	}
	return fmt.Sprintf("clone(%s)%s of nsup's holder of pod %s, unless %s names one that runs; "+
		"it: setsid(), chdir(\"/\"), execve(nsup, no environment), prctl(PR_SET_NAME, \"nsup-pod\"), prctl(PR_SET_DUMPABLE, 0), "+
		"on every thread prctl(PR_SET_NO_NEW_PRIVS, 1), prctl(PR_CAPBSET_DROP) of all but CAP_SYS_PTRACE, capset(CAP_SYS_PTRACE); "+
		"at the state step, with the child in its namespaces, the record still naming that holder (under the record's lock), else the step fails",
		op.Types, maps, pod, q(op.Record))
}

// text renders a Pasta step: its keeper and pasta, each started by Go's
// os/exec (in /, with no environment; the keeper in a session of its
// own, with nsup's thread's parent-death signal when nsup waits for the
// environment in the foreground; pasta with its keeper's, always).
func (op Pasta) text() string {
	args := make([]string, len(op.Args))
	for i, a := range op.Args {
		args[i] = q(a)
	}
	udp := ""
	if binds, err := op.UDPBinds(); (len(binds) > 0 || err != nil) && !op.UserNS {
		udp = "; once it is up, each of its sockets of a published UDP port: pidfd_getfd(pasta, FD), setsockopt(SO_REUSEADDR, 0), and no other process's socket on that port (/proc/PASTA/net/udp, udp6)"
	}
	if binds, err := op.TCPBinds(); len(binds) > 0 || err != nil {
		whose := "its fds' sockets"
		if op.UserNS {
			whose = "sockets of the caller's uid"
		}
		udp += "; once it is up, pasta listening on each published TCP port, and no other process (" + whose + ", /proc/PASTA/net/tcp, tcp6)"
	}
	return fmt.Sprintf("spawn(%s, [%s]) by its keeper (/proc/self/exe %s), in the environment's group, until the child ends; the child waits until it is up; "+
		"keeper: setsid(), chdir(\"/\"), prctl(PR_SET_PDEATHSIG, SIGKILL) unless detached, execve(nsup, no environment), prctl(PR_SET_NAME, \"nsup-keeper\"); "+
		"pasta: chdir(\"/\"), prctl(PR_SET_PDEATHSIG, SIGKILL), execve(no environment)%s",
		q(op.Program), strings.Join(args, ", "), strings.Join(KeeperArgv[1:], " "), udp)
}

// UDPBinds are the host addresses and ports of pasta's published UDP
// ports, read from its arguments (-u ADDR/HOST[-HOST]:PORT[-PORT]), which
// the plan shows: those apply makes the port's alone as root
// (executor/pastaudp.go), and the step's text says so.
func (op Pasta) UDPBinds() ([]netip.AddrPort, error) { return op.binds("-u") }

// TCPBinds are those of its published TCP ports (-t): apply checks, as
// root, that pasta listens on each and no other process does
// (executor/pastatcp.go), as the step's text says.
func (op Pasta) TCPBinds() ([]netip.AddrPort, error) { return op.binds("-t") }

// binds reads the ADDR/HOST[-HOST]:PORT[-PORT] arguments of pasta's
// option flag.
func (op Pasta) binds(flag string) ([]netip.AddrPort, error) {
	var out []netip.AddrPort
	for i := 0; i+1 < len(op.Args); i++ {
		if op.Args[i] != flag || op.Args[i+1] == "none" {
			continue
		}
		s := op.Args[i+1]
		slash := strings.LastIndexByte(s, '/')
		colon := strings.LastIndexByte(s, ':')
		if slash < 0 || colon < slash {
			return nil, fmt.Errorf("pasta's %s %q: not ADDR/HOST:PORT: %w", flag, s, unix.EINVAL)
		}
		addr, err := netip.ParseAddr(s[:slash])
		if err != nil {
			return nil, fmt.Errorf("pasta's %s %q: %w", flag, s, err)
		}
		from, to, _ := strings.Cut(s[slash+1:colon], "-")
		a, err1 := strconv.ParseUint(from, 10, 16)
		b := a
		var err2 error
		if to != "" {
			b, err2 = strconv.ParseUint(to, 10, 16)
		}
		if err1 != nil || err2 != nil || b < a {
			return nil, fmt.Errorf("pasta's %s %q: not a port range: %w", flag, s, unix.EINVAL)
		}
		for p := a; p <= b; p++ {
			out = append(out, netip.AddrPortFrom(addr.Unmap(), uint16(p)))
		}
	}
	return out, nil
}
