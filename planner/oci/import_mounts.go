package oci

// Import's mounts: OCI mounts and their options as the spec's mounts.

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"gopkg.in/yaml.v3"

	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
)

// forced are the flags nsup always gives a mount type (planner/compile.go
// mount and dev: runc's default configuration's flags), and the data it
// always passes; kind is a spec mount type, or "dev" and "dev-shm" for the
// tmpfs mounts of type dev.
func forced(kind string) (flags []string, data string) {
	switch kind {
	case "dev":
		return []string{"nosuid", "nodev", "noexec"}, "mode=755,size=65536k"
	case "dev-shm":
		return []string{"nosuid", "nodev"}, "mode=1777"
	}
	k, ok := spec.MountKindOf(kind)
	if !ok || k.FSType == "" {
		return nil, "" // bind
	}
	names, _ := flagNames(planner.MountFlags(k.Flags))
	return names, k.Data
}

// nodesMadeOpen says whether a mount whose device nodes worked would let
// the bundle's process make one of the host's and open it: it keeps
// CAP_MKNOD, outside a user namespace. Read-only or not: the node is made
// in a writable mount of the same files and opened through this one.
// Runtimes stop that with their device cgroup; nsup has none, so such a
// mount is imported nodev (the planner refuses the option dev there).
func (m *importer) nodesMadeOpen() bool {
	// The bundle's device rules open every device: the mount's nodes
	// work under a runtime as under nsup's dev (Export writes that rule
	// for dev). Any other rules let only what they list open, which
	// nsup, with no device cgroup, cannot say: nodev (a review opened the
	// host's /dev/kmsg through a read-only bind of /dev imported dev).
	if m.c.Linux == nil || !allDevices(m.c.Linux.Resources) {
		return true
	}
	if m.c.Process == nil || m.c.Process.Capabilities == nil {
		return false
	}
	for _, ns := range m.c.Linux.Namespaces {
		// A user namespace whose root is not the host's (mapped, and not
		// onto uid 0 or gid 0: nsup's default for root maps it to 0; a
		// gid 0 of the host's passes the group checks of device files).
		if ns.Type == specs.UserNamespace && noHostZero(m.c.Linux.UIDMappings) && noHostZero(m.c.Linux.GIDMappings) {
			return false
		}
	}
	return slices.Contains(m.c.Process.Capabilities.Bounding, "CAP_MKNOD")
}

// noHostZero: the mappings have ranges, none holding the host's id 0.
func noHostZero(m []specs.LinuxIDMapping) bool {
	return len(m) > 0 && !slices.ContainsFunc(m, func(u specs.LinuxIDMapping) bool { return u.HostID == 0 })
}

// options splits OCI mount options into flags (the mount(2) flags nsup
// knows), rec (those of them given in runtime-spec 1.1's recursive form:
// rro, rnosuid...), bind ("", "bind" or "rbind"), and the rest
// (filesystem data and flags nsup has no key for), in order.
func options(opts []string) (flags, rec map[string]bool, bind string, rest []string) {
	flags, rec = map[string]bool{}, map[string]bool{}
	for _, o := range opts {
		switch o {
		case "bind", "rbind":
			bind = o
		case "ro", "nosuid", "nodev", "noexec", "relatime", "noatime":
			flags[o] = true
		case "rro", "rnosuid", "rnodev", "rnoexec", "rrelatime", "rnoatime":
			rec[o[1:]] = true
		case "rw", "suid", "dev", "exec", "rrw", "rsuid", "rdev", "rexec":
			// The kernel's defaults: nothing to set.
		case "private", "rprivate":
			// Every mount of an nsup environment is private.
		default:
			rest = append(rest, o)
		}
	}
	return flags, rec, bind, rest
}

// Compiled when first used, as import.go's.
var (
	sizeOption = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^size=([0-9]+[kKmMgGtT]?)$`) })
	modeOption = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^mode=0*([0-7]{3,4})$`) })
)

// mounts translates config.mounts into spec mounts, in order. A tmpfs on
// /dev is nsup's `type: dev` (the OCI runtime fills /dev with the default
// devices, which is what nsup's dev binds), and the mounts that dev makes
// by itself (the device binds, /dev/pts, /dev/shm) are part of it.
func (m *importer) mounts() *yaml.Node {
	out := &yaml.Node{Kind: yaml.SequenceNode}
	ms := m.c.Mounts
	inDev := false
	for i := 0; i < len(ms); i++ {
		mt := ms[i]
		key := fmt.Sprintf("mounts[%d]", i)
		dst := mt.Destination
		if !path.IsAbs(dst) || path.Clean(dst) != dst {
			m.note(key, "destination %q is not a clean absolute path: dropped", dst)
			continue
		}
		flags, rec, bind, rest := options(mt.Options)
		if bind != "" || mt.Type == "bind" {
			if inDev && len(rec) == 0 && m.devNode(mt, flags, bind, rest) {
				continue
			}
			out.Content = append(out.Content, m.bind(key, mt, flags, rec, bind, rest))
			continue
		}
		// A recursive option on a mount that is not a bind is set as the
		// mount is made (mount_setattr(AT_RECURSIVE) after mount(2)), with
		// nothing below it yet: the plain flag.
		for f := range rec {
			flags[f] = true
		}
		switch {
		case mt.Type == "tmpfs" && dst == "/dev":
			inDev = true
			out.Content = append(out.Content, m.typed(key, spec.MountDev, "dev", mt, flags, rest))
			continue
		case inDev && mt.Type == "devpts" && dst == "/dev/pts":
			m.devPart(key, spec.MountDevpts, mt, flags, rest)
			continue
		case inDev && mt.Type == "tmpfs" && dst == "/dev/shm":
			m.devPart(key, "dev-shm", mt, flags, rest)
			continue
		}
		switch mt.Type {
		case spec.MountProc, spec.MountSysfs:
			m.kernelMounts = append(m.kernelMounts, spec.Mount{Type: mt.Type, Target: dst})
			out.Content = append(out.Content, m.typed(key, mt.Type, mt.Type, mt, flags, rest))
		case spec.MountMqueue, spec.MountDevpts, spec.MountTmpfs:
			out.Content = append(out.Content, m.typed(key, mt.Type, mt.Type, mt, flags, rest))
		case "cgroup", "cgroup2":
			m.note(key, "%s on %s: nsup mounts no cgroup filesystem: dropped", mt.Type, dst)
		default:
			m.note(key, "type %q on %s: not a mount type of nsup (%s): dropped", mt.Type, dst, strings.Join(spec.MountTypes, ", "))
		}
	}
	return out
}

// typed is a proc, sysfs, mqueue, devpts, tmpfs or dev mount; kind names
// its forced flags and data.
func (m *importer) typed(key, typ, kind string, mt specs.Mount, flags map[string]bool, rest []string) *yaml.Node {
	n := mapping(true, "type", str(typ), "target", str(mt.Destination))
	fflags, fdata := forced(kind)
	if typ == spec.MountTmpfs && !flags["nodev"] && !m.nodesMadeOpen() {
		// A tmpfs without nodev is the spec's option dev.
		flags["dev"] = true
		fflags = slices.DeleteFunc(slices.Clone(fflags), func(f string) bool { return f == "nodev" })
	}
	m.missing(key, mt, fflags, flags)
	var size, mode string
	var dropped []string
	for _, o := range rest {
		switch {
		case slices.Contains(strings.Split(fdata, ","), o):
		case typ == spec.MountTmpfs && sizeOption().MatchString(o):
			size = sizeOption().FindStringSubmatch(o)[1]
		case typ == spec.MountTmpfs && modeOption().MatchString(o):
			mode = modeOption().FindStringSubmatch(o)[1]
		default:
			dropped = append(dropped, o)
		}
	}
	if len(dropped) > 0 {
		m.note(key, "options %s on %s: nsup has no such key: dropped", strings.Join(dropped, ","), mt.Destination)
	}
	if src := mt.Source; src != "" && src != typ && !(kind == "dev" && src == "tmpfs") {
		m.note(key, "source %q on %s: nsup names the filesystem %q", src, mt.Destination, strings.TrimPrefix(kind, "dev-"))
	}
	ro := flags["ro"]
	switch {
	case typ == spec.MountSysfs && !ro:
		set(n, "readonly", boolean(false)) // readonly is sysfs's default
	case typ != spec.MountSysfs && ro:
		set(n, "readonly", boolean(true))
	}
	if o := m.specOptions(flags, fflags); o != nil {
		set(n, "options", o)
	}
	if size != "" {
		set(n, "size", str(size))
	}
	if mode != "" {
		set(n, "mode", str(mode))
	}
	return n
}

// specOptions lists the flags that are not forced, in nsup's order.
func (m *importer) specOptions(flags map[string]bool, forced []string) *yaml.Node {
	var o []string
	for _, name := range spec.MountOptions {
		if flags[name] && !slices.Contains(forced, name) {
			o = append(o, name)
		}
	}
	if o == nil {
		return nil
	}
	return strList(o)
}

// missing notes the flags nsup forces that the config does not set: the
// imported environment is stricter than the bundle.
func (m *importer) missing(key string, mt specs.Mount, forced []string, flags map[string]bool) {
	var miss []string
	for _, f := range forced {
		if !flags[f] {
			miss = append(miss, f)
		}
	}
	if len(miss) > 0 {
		m.note(key, "%s on %s: nsup always mounts it %s (the config does not set %s)",
			mt.Type, mt.Destination, strings.Join(forced, ","), strings.Join(miss, ","))
	}
}

func (m *importer) bind(key string, mt specs.Mount, flags, rec map[string]bool, bind string, rest []string) *yaml.Node {
	src := mt.Source
	if !path.IsAbs(src) && m.opts.Bundle != "" {
		// A runtime resolves a relative source in the bundle, where it
		// runs; in nsup's YAML it would be the spec's folder, and a
		// leading ~ the caller's home (a review: "~/.ssh" became root's
		// keys).
		src = path.Join(m.opts.Bundle, src)
		m.note(key, "source %s is relative: the bundle's %s", mt.Source, src)
	} else if c := path.Clean(src); c != src {
		// nsup cleans a host path as it reads the spec: a source of
		// /srv/x/../../etc is bound as /etc, whatever /srv/x is; the
		// YAML shows what nsup binds (a review).
		m.note(key, "source %s: written %s, the path nsup binds (a runtime takes each .. after the link before it, which may lead elsewhere)", src, c)
		src = c
	}
	n := mapping(true, "type", str(spec.MountBind), "source", str(src), "target", str(mt.Destination))
	if len(rest) > 0 {
		m.note(key, "options %s on %s: nsup has no such key for a bind: dropped", strings.Join(rest, ","), mt.Destination)
	}
	// nsup sets a bind's flags on every mount it brings along when it is
	// recursive (rbind), as the recursive options do; a plain flag on an
	// rbind is the top mount's only under a runtime.
	var below []string
	for _, f := range sortedFlags(flags) {
		if bind == "rbind" && !rec[f] {
			below = append(below, f)
		}
	}
	if len(below) > 0 {
		m.note(key, "%s on the rbind %s: nsup sets them on every mount below it too (as r%s would)", strings.Join(below, ","), mt.Destination, strings.Join(below, ",r"))
	}
	for f := range rec {
		flags[f] = true
	}
	if flags["ro"] {
		set(n, "readonly", boolean(true))
	}
	// A bind is nodev unless the spec says dev.
	if !flags["nodev"] {
		if m.nodesMadeOpen() {
			m.note(key, "bind on %s: nodev (the config does not set it): its device rules let only the devices they list open (with CAP_MKNOD kept, a node made there too), which nsup, with no device cgroup, cannot say; options: [dev] would let every node open", mt.Destination)
		} else {
			flags["dev"] = true
		}
	}
	if o := m.specOptions(flags, []string{"nodev"}); o != nil {
		set(n, "options", o)
	}
	if bind != "rbind" {
		set(n, "recursive", boolean(false))
	}
	return n
}

// sortedFlags are the names of a flag set, in flagOptions order.
func sortedFlags(set map[string]bool) []string {
	var out []string
	for _, f := range flagOptions {
		if set[f.name] {
			out = append(out, f.name)
		}
	}
	return out
}

// devNode reports whether mt is one of the device binds of nsup's dev
// (planner/mounts.go devNodes), which the dev mount already makes:
// read-only, as nsup binds them (export writes "ro"), or as an older
// export wrote them.
func (m *importer) devNode(mt specs.Mount, flags map[string]bool, bind string, rest []string) bool {
	switch mt.Destination {
	case "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty":
	default:
		return false
	}
	return mt.Source == mt.Destination && bind == "bind" && (len(flags) == 0 || len(flags) == 1 && flags["ro"]) && len(rest) == 0
}

// devPart is /dev/pts or /dev/shm under a dev mount: part of it, with
// nsup's flags and data; what the config sets otherwise is noted.
func (m *importer) devPart(key, kind string, mt specs.Mount, flags map[string]bool, rest []string) {
	fflags, fdata := forced(kind)
	m.missing(key, mt, fflags, flags)
	var extra []string
	for name := range flags {
		if !slices.Contains(fflags, name) {
			extra = append(extra, name)
		}
	}
	for _, o := range rest {
		if !slices.Contains(strings.Split(fdata, ","), o) {
			extra = append(extra, o)
		}
	}
	if len(extra) > 0 {
		sortOptions(extra)
		m.note(key, "%s on %s: part of nsup's dev, mounted %s,%s: %s dropped",
			mt.Type, mt.Destination, strings.Join(fflags, ","), fdata, strings.Join(extra, ","))
	}
}
