package planner

import (
	"fmt"
	"strconv"
	"strings"

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
