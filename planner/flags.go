package planner

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// Flag sets print by their kernel names (MS_NOSUID|MS_NODEV) in the text
// plan and in JSON, and parse back from the same form.

type flagName struct {
	v    uint64
	name string
}

func formatFlags(v uint64, names []flagName) string {
	if v == 0 {
		return "0"
	}
	var parts []string
	for _, f := range names {
		if v&f.v == f.v && f.v != 0 {
			parts = append(parts, f.name)
			v &^= f.v
		}
	}
	if v != 0 {
		parts = append(parts, fmt.Sprintf("%#x", v))
	}
	return strings.Join(parts, "|")
}

func parseFlags(s string, names []flagName) (uint64, error) {
	if s == "0" || s == "" {
		return 0, nil
	}
	var v uint64
	for _, p := range strings.Split(s, "|") {
		found := false
		for _, f := range names {
			if f.name == p {
				v |= f.v
				found = true
				break
			}
		}
		if !found {
			n, err := strconv.ParseUint(p, 0, 64)
			if err != nil {
				return 0, fmt.Errorf("unknown flag %q", p)
			}
			v |= n
		}
	}
	return v, nil
}

// CloneFlags are clone(2) / unshare(2) / setns(2) namespace flags.
type CloneFlags uint64

var cloneNames = []flagName{
	{unix.CLONE_NEWUSER, "CLONE_NEWUSER"},
	{unix.CLONE_NEWNS, "CLONE_NEWNS"},
	{unix.CLONE_NEWPID, "CLONE_NEWPID"},
	{unix.CLONE_NEWNET, "CLONE_NEWNET"},
	{unix.CLONE_NEWIPC, "CLONE_NEWIPC"},
	{unix.CLONE_NEWUTS, "CLONE_NEWUTS"},
	{unix.CLONE_NEWCGROUP, "CLONE_NEWCGROUP"},
	{unix.CLONE_NEWTIME, "CLONE_NEWTIME"},
	{unix.CLONE_PARENT, "CLONE_PARENT"},
}

func (f CloneFlags) String() string { return formatFlags(uint64(f), cloneNames) }

// MarshalText implements encoding.TextMarshaler.
func (f CloneFlags) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (f *CloneFlags) UnmarshalText(b []byte) error {
	v, err := parseFlags(string(b), cloneNames)
	*f = CloneFlags(v)
	return err
}

// MountFlags are mount(2) flags.
type MountFlags uint64

var mountNames = []flagName{
	{unix.MS_REMOUNT, "MS_REMOUNT"},
	{unix.MS_BIND, "MS_BIND"},
	{unix.MS_MOVE, "MS_MOVE"},
	{unix.MS_REC, "MS_REC"},
	{unix.MS_PRIVATE, "MS_PRIVATE"},
	{unix.MS_SLAVE, "MS_SLAVE"},
	{unix.MS_SHARED, "MS_SHARED"},
	{unix.MS_RDONLY, "MS_RDONLY"},
	{unix.MS_NOSUID, "MS_NOSUID"},
	{unix.MS_NODEV, "MS_NODEV"},
	{unix.MS_NOEXEC, "MS_NOEXEC"},
	{unix.MS_RELATIME, "MS_RELATIME"},
	{unix.MS_NOATIME, "MS_NOATIME"},
	{unix.MS_STRICTATIME, "MS_STRICTATIME"},
	{unix.MS_NODIRATIME, "MS_NODIRATIME"},
}

func (f MountFlags) String() string { return formatFlags(uint64(f), mountNames) }

// MarshalText implements encoding.TextMarshaler.
func (f MountFlags) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (f *MountFlags) UnmarshalText(b []byte) error {
	v, err := parseFlags(string(b), mountNames)
	*f = MountFlags(v)
	return err
}

// UmountFlags are umount2(2) flags.
type UmountFlags uint64

var umountNames = []flagName{
	{unix.MNT_DETACH, "MNT_DETACH"},
	{unix.MNT_FORCE, "MNT_FORCE"},
	{unix.MNT_EXPIRE, "MNT_EXPIRE"},
	{unix.UMOUNT_NOFOLLOW, "UMOUNT_NOFOLLOW"},
}

func (f UmountFlags) String() string { return formatFlags(uint64(f), umountNames) }

// MarshalText implements encoding.TextMarshaler.
func (f UmountFlags) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (f *UmountFlags) UnmarshalText(b []byte) error {
	v, err := parseFlags(string(b), umountNames)
	*f = UmountFlags(v)
	return err
}

// PrctlOption is a prctl(2) option.
type PrctlOption uint64

var prctlNames = []flagName{
	{unix.PR_SET_NO_NEW_PRIVS, "PR_SET_NO_NEW_PRIVS"},
	{unix.PR_SET_PDEATHSIG, "PR_SET_PDEATHSIG"},
	{unix.PR_SET_DUMPABLE, "PR_SET_DUMPABLE"},
	{unix.PR_SET_NAME, "PR_SET_NAME"},
	{unix.PR_SET_CHILD_SUBREAPER, "PR_SET_CHILD_SUBREAPER"},
}

func (o PrctlOption) String() string {
	for _, f := range prctlNames {
		if f.v == uint64(o) {
			return f.name
		}
	}
	return strconv.FormatUint(uint64(o), 10)
}

// MarshalText implements encoding.TextMarshaler.
func (o PrctlOption) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (o *PrctlOption) UnmarshalText(b []byte) error {
	for _, f := range prctlNames {
		if f.name == string(b) {
			*o = PrctlOption(f.v)
			return nil
		}
	}
	v, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("unknown prctl option %q", b)
	}
	*o = PrctlOption(v)
	return nil
}

// MountAttr are mount_setattr(2) MOUNT_ATTR_ flags.
type MountAttr uint64

var mountAttrNames = []flagName{
	{unix.MOUNT_ATTR_RDONLY, "MOUNT_ATTR_RDONLY"},
	{unix.MOUNT_ATTR_NOSUID, "MOUNT_ATTR_NOSUID"},
	{unix.MOUNT_ATTR_NODEV, "MOUNT_ATTR_NODEV"},
	{unix.MOUNT_ATTR_NOEXEC, "MOUNT_ATTR_NOEXEC"},
	{unix.MOUNT_ATTR__ATIME, "MOUNT_ATTR__ATIME"},
	{unix.MOUNT_ATTR_NOATIME, "MOUNT_ATTR_NOATIME"},
	{unix.MOUNT_ATTR_STRICTATIME, "MOUNT_ATTR_STRICTATIME"},
	{unix.MOUNT_ATTR_NODIRATIME, "MOUNT_ATTR_NODIRATIME"},
}

func (f MountAttr) String() string { return formatFlags(uint64(f), mountAttrNames) }

// MarshalText implements encoding.TextMarshaler.
func (f MountAttr) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (f *MountAttr) UnmarshalText(b []byte) error {
	v, err := parseFlags(string(b), mountAttrNames)
	*f = MountAttr(v)
	return err
}

// SeccompFlags are seccomp(2) SECCOMP_FILTER_FLAG_ flags.
type SeccompFlags uint64

var seccompFlagNames = []flagName{
	{unix.SECCOMP_FILTER_FLAG_TSYNC, "SECCOMP_FILTER_FLAG_TSYNC"},
	{unix.SECCOMP_FILTER_FLAG_LOG, "SECCOMP_FILTER_FLAG_LOG"},
	{unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"},
	{unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"},
}

func (f SeccompFlags) String() string { return formatFlags(uint64(f), seccompFlagNames) }

// MarshalText implements encoding.TextMarshaler.
func (f SeccompFlags) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (f *SeccompFlags) UnmarshalText(b []byte) error {
	v, err := parseFlags(string(b), seccompFlagNames)
	*f = SeccompFlags(v)
	return err
}

// Resource is a setrlimit(2) resource, RLIMIT_NOFILE and the like.
type Resource int

// resourceNames are the resources by their spec names (spec.RlimitNames).
var resourceNames = map[string]Resource{
	"as": unix.RLIMIT_AS, "core": unix.RLIMIT_CORE, "cpu": unix.RLIMIT_CPU, "data": unix.RLIMIT_DATA,
	"fsize": unix.RLIMIT_FSIZE, "locks": unix.RLIMIT_LOCKS, "memlock": unix.RLIMIT_MEMLOCK,
	"msgqueue": unix.RLIMIT_MSGQUEUE, "nice": unix.RLIMIT_NICE, "nofile": unix.RLIMIT_NOFILE,
	"nproc": unix.RLIMIT_NPROC, "rss": unix.RLIMIT_RSS, "rtprio": unix.RLIMIT_RTPRIO,
	"rttime": unix.RLIMIT_RTTIME, "sigpending": unix.RLIMIT_SIGPENDING, "stack": unix.RLIMIT_STACK,
}

// ResourceByName returns the resource of a spec name ("nofile").
func ResourceByName(name string) (Resource, bool) {
	r, ok := resourceNames[name]
	return r, ok
}

// Name is the spec's name of the resource ("nofile").
func (r Resource) Name() string {
	for n, v := range resourceNames {
		if v == r {
			return n
		}
	}
	return strconv.Itoa(int(r))
}

// String is the kernel's name, RLIMIT_NOFILE.
func (r Resource) String() string { return "RLIMIT_" + strings.ToUpper(r.Name()) }

// MarshalText implements encoding.TextMarshaler.
func (r Resource) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Resource) UnmarshalText(b []byte) error {
	v, ok := resourceNames[strings.ToLower(strings.TrimPrefix(string(b), "RLIMIT_"))]
	if !ok {
		return fmt.Errorf("unknown resource %q", b)
	}
	*r = v
	return nil
}

// Types are the namespace types of f, as /proc/PID/ns names them, in the
// order they are joined (spec.JoinOrder).
func (f CloneFlags) Types() []string {
	var out []string
	for _, t := range spec.JoinOrder {
		if uint64(f)&spec.NamespaceFlag(t) != 0 {
			out = append(out, t)
		}
	}
	return out
}
