package oci

// Export's mounts: the spec's mounts and the root's, as OCI mounts and options.

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
)

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
	const bindRec = unix.MS_BIND | unix.MS_REC
	switch op.Confine {
	case planner.ConfineMasked:
		// An empty read-only tmpfs over a folder, /dev/null over a file:
		// what runtimes do for a masked path.
		c.Linux.MaskedPaths = append(c.Linux.MaskedPaths, op.Target)
		return nil
	case planner.ConfineReadonly:
		// The path bound onto itself, then made read-only (setattr): what
		// runtimes do for a read-only path.
		c.Linux.ReadonlyPaths = append(c.Linux.ReadonlyPaths, op.Target)
		return nil
	case "":
	default:
		return fmt.Errorf("a mount confining %q has no OCI equivalent", op.Confine)
	}
	if !op.InRoot {
		switch {
		case op.Target == "/" && op.Flags == unix.MS_REC|unix.MS_PRIVATE:
			// nsup makes every mount private before mounting anything.
			c.Linux.RootfsPropagation = "private"
		case op.Source != "" && op.Source == op.Target && op.Flags == bindRec:
			// The root bound onto itself for pivot_root: the runtime's own.
		default:
			return fmt.Errorf("a mount outside the root's setup has no OCI equivalent")
		}
		return nil
	}
	if op.Flags&unix.MS_REMOUNT != 0 {
		// A remount applies flags to the mount just made at Target (a
		// readonly dev): in OCI, its options.
		m := x.mountAt(op.Target)
		if m == nil {
			return fmt.Errorf("a remount of %s, which is not mounted", op.Target)
		}
		names, rest := flagNames(op.Flags &^ (unix.MS_REMOUNT | unix.MS_BIND))
		if rest != 0 {
			return fmt.Errorf("remount flags %s have no OCI option", rest)
		}
		addOptions(m, names...)
		return nil
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
		// A file has no mount below it: its bind, recursive or not, is
		// one mount, written bind, whose options need no recursive
		// form (and crun 1.8 refuses one on a file: "open mount target:
		// Not a directory").
		if flags&unix.MS_REC != 0 && op.Create != "file" {
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

// mountAt is the last mount of the config at target, or nil.
func (x *exporter) mountAt(target string) *specs.Mount {
	for i := len(x.cfg.Mounts) - 1; i >= 0; i-- {
		if x.cfg.Mounts[i].Destination == target {
			return &x.cfg.Mounts[i]
		}
	}
	return nil
}

// addOptions adds options a mount does not have yet, in order.
func addOptions(m *specs.Mount, names ...string) {
	for _, n := range names {
		if !slices.Contains(m.Options, n) {
			m.Options = append(m.Options, n)
		}
	}
	sortOptions(m.Options)
}

// attrOptions are the mount_setattr(2) attributes that OCI mount options
// name (the atime policy, a field of its own, is read apart).
var attrOptions = []struct {
	attr planner.MountAttr
	name string
}{
	{unix.MOUNT_ATTR_RDONLY, "ro"}, {unix.MOUNT_ATTR_NOSUID, "nosuid"}, {unix.MOUNT_ATTR_NODEV, "nodev"},
	{unix.MOUNT_ATTR_NOEXEC, "noexec"}, {unix.MOUNT_ATTR_NODIRATIME, "nodiratime"},
}

// setattrOptions names the attributes a mount_setattr step sets (and the
// atime policy it chooses) as OCI mount options.
func setattrOptions(op planner.MountSetattr) ([]string, error) {
	set := op.Set
	var names []string
	for _, a := range attrOptions {
		if set&a.attr != 0 {
			names = append(names, a.name)
			set &^= a.attr
		}
	}
	if op.Clear&^unix.MOUNT_ATTR__ATIME != 0 {
		return nil, fmt.Errorf("clearing %s has no OCI option", op.Clear&^unix.MOUNT_ATTR__ATIME)
	}
	if op.Clear&unix.MOUNT_ATTR__ATIME != 0 {
		switch set & unix.MOUNT_ATTR__ATIME {
		case unix.MOUNT_ATTR_RELATIME: // 0
			names = append(names, "relatime")
		case unix.MOUNT_ATTR_NOATIME:
			names = append(names, "noatime")
		case unix.MOUNT_ATTR_STRICTATIME:
			names = append(names, "strictatime")
		}
		set &^= unix.MOUNT_ATTR__ATIME
	}
	if set != 0 {
		return nil, fmt.Errorf("%s has no OCI option", set)
	}
	return names, nil
}

// isRoot says whether op is of the root's own mount before the root
// switch: through the root's handle (<root>), or by its host path as
// plans before the fourteenth stop put it.
func (x *exporter) isRoot(op planner.MountSetattr) bool {
	if op.InRoot {
		return op.Path == "/" && op.Root != "" && op.Root == x.rootfs.Path
	}
	return op.Path != "" && op.Path == x.rootfs.Path
}

// setattr translates a mount_setattr step: the flags of a bind of the
// spec (its options), the root's read-only (root.readonly) or nodev (a
// Note), or part of a read-only path (linux.readonlyPaths).
func (x *exporter) setattr(op planner.MountSetattr) error {
	switch {
	case op.Confine == planner.ConfineReadonly:
		// Read-only, nosuid, nodev and noexec, with every mount below:
		// runtimes make each path of linux.readonlyPaths read-only
		// (recorded by mount), runc keeping the nosuid, nodev and noexec
		// of the mount it binds, crun not (the mount is proc's, with
		// nothing to run nor a device node).
		return nil
	case op.Confine == planner.ConfineMasked && op.ByFD && op.Set == unix.MOUNT_ATTR_RDONLY:
		// The bind of /dev/null over a masked file made read-only: the
		// runtime's own maskedPaths (recorded by mount), whose /dev/null
		// is the container's.
		return nil
	case op.Confine != "":
		return fmt.Errorf("mount_setattr confining %q has no OCI equivalent", op.Confine)
	case !op.InRoot && op.Path == "/" && !op.Recursive && op.Set == unix.MOUNT_ATTR_RDONLY && op.Clear == 0:
		// After pivot_root: the root read-only, as runtimes make it.
		x.cfg.Root.Readonly = true
		return nil
	case x.isRoot(op) && op.Recursive && op.Set == unix.MOUNT_ATTR_NODEV && op.Clear == 0:
		x.rootNodev()
		return nil
	case x.isRoot(op) && op.Recursive && op.Set == unix.MOUNT_ATTR_RDONLY && op.Clear == 0:
		// A read-only dir root's mounts below it, read-only too.
		x.note(x.e.Rootfs.Pos, x.key+".rootfs.readonly", "the root's own mount only: nsup makes the host's mounts below a read-only dir root read-only too; OCI's root.readonly is the root's mount alone, and runtimes bind the root recursively, so a host mount below %s/ stays as the host has it", RootfsDir)
		return nil
	case x.isRoot(op) && !op.Recursive && op.Set == 0 && op.Clear == unix.MOUNT_ATTR_RDONLY:
		// The root's own mount writable again until root.readonly.
		return nil
	case !op.InRoot:
		return fmt.Errorf("mount_setattr outside the root has no OCI equivalent")
	}
	m := x.mountAt(op.Path)
	if _, userns := x.ns[spec.NSUser]; userns && m == nil && op.ByFD && defaultDevice(op.Path) {
		// A dev's bind of the host's node made read-only, in a new user
		// namespace, where the runtime binds the default devices by
		// itself (mount) and root inside owns no node of the host's to
		// change. Outside one, the bind is the config's: "ro" is kept,
		// or root inside would chmod the host's node through it.
		return nil
	}
	if m == nil || m.Type != "bind" {
		return fmt.Errorf("mount_setattr of %s, which is not a bind", op.Path)
	}
	names, err := setattrOptions(op)
	if err != nil {
		return err
	}
	if op.Recursive && slices.Contains(m.Options, "rbind") {
		// A recursive bind (rbind) gets its flags on every mount it
		// brought along, as mount_setattr(AT_RECURSIVE) sets them. OCI
		// says so with the recursive options of runtime-spec 1.1 (rro,
		// rnosuid, rnodev, rnoexec, rrelatime, rnoatime...: mount_setattr
		// with AT_RECURSIVE), which runc 1.1 (`runc features` lists them)
		// and crun 1.8 (its option table has them) honour, as
		// TestRootOCISameEnvironment checks; a plain "ro" on an rbind
		// makes only its top mount read-only (a remount is never
		// recursive). Each flag is written in both forms: the plain one
		// keeps the top mount read-only under a runtime that predates
		// the recursive options (it would pass an unknown option to
		// mount(2) as data, which a bind ignores), and import, reading
		// both, knows the bind is read-only throughout. Both validate
		// against runtime-spec's JSON Schema (options are strings), and
		// the config's ociVersion becomes 1.1.0.
		for _, n := range slices.Clone(names) {
			names = append(names, "r"+n)
		}
	}
	addOptions(m, names...)
	return nil
}

// recursiveOption reports whether o is one of runtime-spec 1.1's
// recursive mount options that export writes.
func recursiveOption(o string) bool {
	for _, f := range flagOptions {
		if o == "r"+f.name {
			return true
		}
	}
	return false
}

// rootNodev notes what has no OCI equivalent: the root mounted nodev.
func (x *exporter) rootNodev() {
	x.note(x.e.Rootfs.Pos, x.key+".rootfs.dev",
		"not honoured (default false here): nsup mounts the root nodev, so that no device node of the tree opens a device; OCI has no option for the root's mount flags, and runtimes mount the root without nodev: under them a device node in %s/ works (one copied from a dir rootfs, or made inside with CAP_MKNOD)", RootfsDir)
}

// sortOptions puts flag options in flagOptions order after bind/rbind,
// then their recursive forms (rro...) in the same order, keeping data
// options (size=, mode=) last in their order: the same set
// always reads the same, whichever step it came from.
func sortOptions(o []string) {
	rank := func(s string) int {
		if s == "bind" || s == "rbind" {
			return 0
		}
		for i, f := range flagOptions {
			switch s {
			case f.name:
				return 1 + i
			case "r" + f.name:
				return 1 + len(flagOptions) + i
			}
		}
		return 1 + 2*len(flagOptions)
	}
	sort.SliceStable(o, func(i, j int) bool { return rank(o[i]) < rank(o[j]) })
}
