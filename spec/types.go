package spec

import (
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Pos is the place of a YAML node in its file (1-based line and column).
type Pos struct {
	Line int `json:"line"`
	Col  int `json:"col"`
}

// Spec is a parsed and validated nsup file (spec-v1.md).
type Spec struct {
	// File is the file name as given to Parse; every origin is printed with it.
	File string
	// Dir is the absolute folder of File; relative paths in the spec are
	// resolved against it, never against the current directory.
	Dir string
	// Digest is "sha256:HEX" of the file's bytes.
	Digest  string
	Version int
	// Name is the project's name (the top-level name key), "" if not
	// written: Project then derives it from Dir.
	Name    string
	NamePos Pos
	// Volumes are the named volumes (the top-level volumes key), by name.
	Volumes []*Volume
	// Vars are the variable references of its values, resolved, in file
	// order; EnvFile is the .env file read ("" for none).
	Vars    []VarUse
	EnvFile string
	// EnvDigest is "sha256:HEX" of EnvFile's bytes as read ("" for none).
	EnvDigest string
	// Environments in declaration order.
	Environments []*Environment
}

// Project is the spec's project: the name key, else the name of its
// folder made a valid name (compose's rule: lowercase, and what a name
// cannot hold dropped); "" if that leaves nothing.
func (s *Spec) Project() string {
	if s.Name != "" {
		return s.Name
	}
	return ProjectFromDir(s.Dir)
}

// ProjectFromDir is the project name a folder gives: its base name in
// lowercase, each run of characters other than a-z and 0-9 made one -,
// no - at either end, at most 63 characters; "" if nothing is left.
func ProjectFromDir(dir string) string {
	base := filepath.Base(dir)
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(base) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		} else {
			dash = true
		}
	}
	out := b.String()
	if len(out) > 63 {
		out = strings.TrimRight(out[:63], "-")
	}
	return out
}

// Origin formats a position of this spec as FILE:LINE:COL.
func (s *Spec) Origin(p Pos) string {
	return s.File + ":" + strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Col)
}

// Env returns the environment named name, or nil.
func (s *Spec) Env(name string) *Environment {
	for _, e := range s.Environments {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// Namespace types, by their spec-v1 names.
const (
	NSMount  = "mnt"
	NSPID    = "pid"
	NSNet    = "net"
	NSIPC    = "ipc"
	NSUTS    = "uts"
	NSCgroup = "cgroup"
	NSUser   = "user"
	NSTime   = "time"
)

// NamespaceTypes lists every namespace type in spec-v1 order (the names
// of Namespaces).
var NamespaceTypes = func() []string {
	out := make([]string, len(Namespaces))
	for i, n := range Namespaces {
		out[i] = n.Name
	}
	return out
}()

// Environment is one sandbox of the file.
type Environment struct {
	Name string
	Pos  Pos // position of the environment's key

	Rootfs Rootfs
	// Namespaces created new, in the order written.
	Namespaces []Namespace
	// Join lists namespaces entered instead of created, in the order written.
	Join []Join

	Hostname   *String // nil when unset
	Domainname *String // nil when unset

	// IDMap is nil when the spec leaves it to the default.
	IDMap *IDMap
	// Time is nil when unset.
	Time *Time

	Mounts []Mount
	// Env is the environment's variables in the order written; nil means the
	// spec left it unset (the default PATH applies).
	Env    []EnvVar
	EnvPos Pos     // position of the `env` key
	Cwd    *String // nil: "/"
	User   *User   // nil: 0:0
	// Init is nil when unset (default true).
	Init *Bool
	// Security is nil when the spec leaves every default.
	Security *Security
	// Rlimits are the environment's resource limits, in the order
	// written; every process has them unless its own say otherwise.
	Rlimits []Rlimit
	// Limits are the environment's cgroup limits; nil when not written
	// (the default pids limit applies).
	Limits *Limits
	// Net is the environment's network beyond loopback, ports and name
	// resolution; nil when not written (loopback only, files of the
	// rootfs).
	Net *Net
	// DependsOn lists the environments this one starts after (an
	// addition to spec v1, compose's depends_on), in the order written.
	DependsOn []Dependency
	Process   []*Process // the top-level processes; Process[0] is the main one
	// ProcessesPos is the position of the `processes` key.
	ProcessesPos Pos
}

// HasNamespace reports whether t is created new for e.
func (e *Environment) HasNamespace(t string) bool {
	for _, n := range e.Namespaces {
		if n.Type == t {
			return true
		}
	}
	return false
}

// NamespaceOwner is the environment whose namespace of type t environment
// name is in, following joins by name: name's own if it joins none of
// that type (which may be the host's, if it makes none either), nil where
// the chain ends in a join by path or a name the file does not have.
func (s *Spec) NamespaceOwner(name, t string) *Environment {
	e := s.Env(name)
	for seen := 0; e != nil && seen <= len(s.Environments); seen++ {
		j := e.Joined(t)
		if j == nil {
			return e
		}
		if j.IsPath() {
			return nil
		}
		e = s.Env(j.Ref)
	}
	return nil
}

// Joined returns the join of type t, or nil.
func (e *Environment) Joined(t string) *Join {
	for i := range e.Join {
		if e.Join[i].Type == t {
			return &e.Join[i]
		}
	}
	return nil
}

// String is a string value with its position.
type String struct {
	Value string
	Pos   Pos
}

// Bool is a bool value with its position.
type Bool struct {
	Value bool
	Pos   Pos
}

// Namespace is one entry of `namespaces`.
type Namespace struct {
	Type string // one of NamespaceTypes
	Pos  Pos
}

// Join is one entry of `join`: Ref is either another environment's name or
// an absolute path to a namespace file.
type Join struct {
	Type string
	Ref  string
	Pos  Pos // position of the value
}

// IsPath reports whether the join refers to a namespace file by path.
func (j Join) IsPath() bool { return len(j.Ref) > 0 && j.Ref[0] == '/' }

// Rootfs is the root filesystem: exactly one of Dir, Tar, Closure, Host is
// set.
type Rootfs struct {
	Pos Pos // position of the `rootfs` key's value
	// Dir and Tar are absolute (resolved against Spec.Dir); empty when unset.
	Dir    string
	Tar    string
	DirPos Pos
	TarPos Pos
	// Closure holds absolute host paths in the order written (closure, or
	// closure.files); nil when unset.
	Closure    []String
	ClosurePos Pos
	// Packages are the Debian packages of closure.packages, whose files
	// (from the host's dpkg database, dependencies followed) join the
	// closure; nil when unset.
	Packages    []String
	PackagesPos Pos
	// Host holds absolute host paths (folders or files) bound read-only at
	// the same paths in an otherwise empty root, in the order written; nil
	// when unset.
	Host     []String
	HostPos  Pos
	Readonly bool // default true
	Overlay  bool // default false
	// Dev lets device nodes of the tree work (`dev: true`, an addition to
	// spec v1); by default the root is mounted nodev.
	Dev bool
}

// Mount types.
const (
	MountProc   = "proc"
	MountSysfs  = "sysfs"
	MountTmpfs  = "tmpfs"
	MountBind   = "bind"
	MountDev    = "dev"
	MountDevpts = "devpts"
	MountMqueue = "mqueue"
	MountVolume = "volume"
)

// MountTypes lists every mount type (the names of MountKinds).
var MountTypes = func() []string {
	out := make([]string, len(MountKinds))
	for i, k := range MountKinds {
		out[i] = k.Name
	}
	return out
}()

// MountOptions lists the words allowed in a mount's `options`.
// "dev" (an addition to spec v1) lets the device nodes of a bind or a
// tmpfs work: both are nodev otherwise.
var MountOptions = []string{"nosuid", "nodev", "dev", "noexec", "relatime", "noatime"}

// Mount is one entry of `mounts`, with every default applied.
type Mount struct {
	Pos    Pos // position of the list item
	Type   string
	Target string // absolute, cleaned, inside the environment
	// Source is an absolute host path (bind), resolved against Spec.Dir;
	// for a volume, the volume's name (Spec.Volumes).
	Source    string
	SourcePos Pos // source's value; zero for one of nsup's (SourceAt)
	// Within (bind with a subpath): the source as written, below which
	// Source (source/subpath) must stay once its symlinks are followed,
	// as Kubernetes' subPath stays within its volume; "" without one.
	Within string
	// Create (bind): a missing source folder is made by apply (0755).
	Create    bool
	Readonly  bool     // default false, true for sysfs
	Options   []string // in the order written, without duplicates
	Size      string   // tmpfs: as written ("16M"); empty when unset
	SizeBytes int64    // tmpfs: Size in bytes; 0 when unset
	Mode      string   // tmpfs: octal as written ("1777"); empty when unset
	Recursive bool     // bind: default true
}

// Volume is a named volume: a folder of the project's, kept across down,
// made on first use (nsup volume ls, nsup volume rm).
type Volume struct {
	Name string
	Pos  Pos
	// Mode is its mode when made, octal as written ("0755" when not).
	Mode string
	// Owner is its owner when made, as ids inside the environment (nil:
	// root, which a rootless nsup's user is).
	Owner *User
}

// Volume returns the volume named name, or nil.
func (s *Spec) Volume(name string) *Volume {
	for _, v := range s.Volumes {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// IDMap is the `idmap` of an environment.
type IDMap struct {
	Pos Pos
	UID []IDRange
	GID []IDRange
}

// IDRange is one line of a uid_map or gid_map.
type IDRange struct {
	Inside, Outside, Count uint32
	Pos                    Pos
}

// Time holds clock offsets for a new time namespace.
type Time struct {
	Pos          Pos
	Monotonic    time.Duration
	Boottime     time.Duration
	MonotonicPos Pos
	BoottimePos  Pos
}

// EnvVar is one environment variable.
type EnvVar struct {
	Name, Value string
	Pos         Pos // the name's
	ValuePos    Pos // the value's
}

// User is a numeric identity.
type User struct {
	UID, GID uint32
	Pos      Pos
}

// Process is one node of the process tree.
type Process struct {
	Pos     Pos // position of the list item
	Name    string
	NamePos Pos // position of the name's value
	Command []string
	// CommandPos are the positions of Command's items.
	CommandPos []Pos
	// Env, Cwd, User override the environment's; nil when unset. Env entries
	// are added to (and override) the environment's variables.
	Env      []EnvVar
	Cwd      *String
	User     *User
	Children []*Process
	// StopTimeout is the grace period between SIGTERM and SIGKILL when the
	// process is stopped (`stop_timeout`, an addition to spec v1); nil when
	// unset (the default, 10s, applies).
	StopTimeout *Duration
	// Rlimits override the environment's, by name.
	Rlimits []Rlimit
	// Restart is the process's restart policy (`restart`, an addition to
	// spec v1, compose's); nil when unset ("no").
	Restart *Restart
	// Healthcheck is the command that says whether the process is
	// healthy (`healthcheck`, an addition, compose's); nil when unset.
	Healthcheck *Healthcheck
}

// Restart policies (compose's `restart`, docker's --restart).
const (
	RestartNo        = "no"
	RestartOnFailure = "on-failure"
	RestartAlways    = "always"
)

// Restart is a process's restart policy: Policy is RestartNo,
// RestartOnFailure or RestartAlways; Max, for on-failure, is the most
// restarts (on-failure:N), 0 for no limit.
type Restart struct {
	Policy string
	Max    int
	Pos    Pos
}

// Healthcheck is a process's healthcheck, every default applied: Command
// runs inside the environment as nsup exec --process runs a command,
// every Interval (first Interval after the process starts), killed after
// Timeout; the process is unhealthy after Retries failures in a row,
// failures within StartPeriod of its start not counted until a first
// success.
type Healthcheck struct {
	Pos         Pos
	Command     []string
	CommandPos  []Pos         // positions of Command's items
	Interval    time.Duration // default DefaultHealthInterval
	Timeout     time.Duration // default DefaultHealthTimeout
	Retries     int           // default DefaultHealthRetries
	StartPeriod time.Duration // default 0
}

// The defaults of a healthcheck (compose's).
const (
	DefaultHealthInterval = 30 * time.Second
	DefaultHealthTimeout  = 30 * time.Second
	DefaultHealthRetries  = 3
)

// Conditions of depends_on (compose's service_started, service_healthy).
const (
	DependsStarted = "started"
	DependsHealthy = "healthy"
)

// Dependency is one entry of an environment's depends_on: it starts after
// environment Env, and with DependsHealthy only once Env's main process
// has passed its healthcheck.
type Dependency struct {
	Env       string
	Condition string
	Pos       Pos // position of the entry's key (or list item)
}

// Duration is a duration value with its position.
type Duration struct {
	Value time.Duration
	Pos   Pos
}

// Security is an environment's `security` block (an addition to spec
// v1): what confines root inside beyond the namespaces. Every field has a
// default that confines as Docker's defaults do; nil or empty means that
// default.
type Security struct {
	Pos Pos
	// CapAdd and CapDrop change the default capability set: names as in
	// capabilities(7), normalised to upper case with the CAP_ prefix
	// ("CAP_NET_ADMIN"); "ALL" stands for every capability.
	CapAdd, CapDrop []String
	// Seccomp is nil (the default profile), or "default", "unconfined",
	// or an absolute host path of a profile in Docker's or OCI's JSON
	// format (resolved against the spec's folder when written relative).
	Seccomp *String
	// MaskedPaths and ReadonlyPaths are nil for the defaults, else the
	// lists that replace them (empty: none).
	MaskedPaths, ReadonlyPaths *Paths
	// NoNewPrivileges is nil for the default, true.
	NoNewPrivileges *Bool
}

// Seccomp profiles a spec may name instead of a path.
const (
	SeccompDefault    = "default"
	SeccompUnconfined = "unconfined"
)

// Paths is a list of absolute paths inside the environment.
type Paths struct {
	Pos   Pos
	Paths []String
}

// Rlimit is one entry of `rlimits` (an addition to spec v1): a resource
// limit, setrlimit(2), soft and hard.
type Rlimit struct {
	// Name is the resource as written, lower case: "nofile" for
	// RLIMIT_NOFILE (RlimitNames).
	Name       string
	Soft, Hard uint64 // RlimitInfinity for "unlimited"
	Pos        Pos
}

// RlimitInfinity is RLIM_INFINITY: no limit.
const RlimitInfinity = ^uint64(0)

// RlimitNames lists the resources `rlimits` takes, as Docker's --ulimit
// names them (setrlimit(2) RLIMIT_ without the prefix, lower case).
var RlimitNames = []string{"as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue",
	"nice", "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"}

// rlimitBytes are the resources counted in bytes: they take a size with a
// suffix (16M, 1G) as well as a number.
var rlimitBytes = []string{"as", "core", "data", "fsize", "memlock", "msgqueue", "rss", "stack"}

// Capabilities lists every capability name nsup knows, in the kernel's
// order (capabilities(7); CAP_CHECKPOINT_RESTORE is 40).
var Capabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
	"CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}
