package oci

// Import's security block: capabilities, seccomp, masked and read-only paths.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"gopkg.in/yaml.v3"

	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/planner/seccomp"
	"github.com/nsup/nsup/spec"
)

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]bool{}
	for _, s := range a {
		seen[s] = true
	}
	for _, s := range b {
		if !seen[s] {
			return false
		}
	}
	return true
}

// security is the environment's `security` block: what of the config's
// capabilities, no_new_privs, seccomp profile, masked and read-only
// paths differs from nsup's defaults; nil when nothing does.
func (m *importer) security(l *specs.Linux) *yaml.Node {
	p := m.c.Process
	sec := &yaml.Node{Kind: yaml.MappingNode}
	keep := m.capabilities()
	if caps := capChanges(keep); caps != nil {
		set(sec, "capabilities", caps)
	}
	if n := m.seccomp(l.Seccomp, keep); n != nil {
		set(sec, "seccomp", n)
	}
	for _, x := range []struct {
		key, oci string
		paths    []string
		defaults []string
	}{
		{"masked_paths", "linux.maskedPaths", l.MaskedPaths, planner.DefaultMaskedPaths},
		{"readonly_paths", "linux.readonlyPaths", l.ReadonlyPaths, planner.DefaultReadonlyPaths},
	} {
		if n := m.confinedPaths(x.oci, x.paths, x.defaults); n != nil {
			set(sec, x.key, n)
		}
	}
	if !p.NoNewPrivileges {
		set(sec, "no_new_privileges", boolean(false))
	}
	if len(sec.Content) == 0 {
		return nil
	}
	return sec
}

// capabilities is the set the process keeps, from process.capabilities's
// bounding set (nsup's bounding, permitted and effective sets are one
// set), in the kernel's order. What nsup cannot give as the config says
// is noted.
func (m *importer) capabilities() []string {
	cp := m.c.Process.Capabilities
	if cp == nil {
		cp = &specs.LinuxCapabilities{}
	}
	var keep []string
	for i, c := range cp.Bounding {
		switch n := spec.CapabilityName(c); {
		case n == "" || n == "ALL":
			m.note(fmt.Sprintf("process.capabilities.bounding[%d]", i), "%q is not a capability nsup knows: dropped", c)
		case !slices.Contains(keep, n):
			keep = append(keep, n)
		}
	}
	sort.SliceStable(keep, func(i, j int) bool { return capIndex(keep[i]) < capIndex(keep[j]) })
	// Root keeps its bounding set as permitted and effective; another uid
	// starts with none (its setresuid from root clears them).
	var want []string
	if m.c.Process.User.UID == 0 {
		want = keep
	}
	if !sameSet(cp.Effective, want) || !sameSet(cp.Permitted, want) {
		m.note("process.capabilities", "nsup gives a process of uid %d %s as permitted and effective sets, not the config's (effective: %s; permitted: %s)",
			m.c.Process.User.UID, capWords(want, "its bounding set", "none"), capWords(cp.Effective, "", "none"), capWords(cp.Permitted, "", "none"))
	}
	if len(cp.Inheritable) > 0 || len(cp.Ambient) > 0 {
		m.note("process.capabilities", "nsup gives no inheritable or ambient capability (inheritable: %s; ambient: %s): dropped",
			capWords(cp.Inheritable, "", "none"), capWords(cp.Ambient, "", "none"))
	}
	return keep
}

func capWords(cs []string, all, none string) string {
	switch {
	case len(cs) == 0:
		return none
	case all != "":
		return all
	}
	return strings.Join(cs, " ")
}

func capIndex(c string) int {
	for i, n := range spec.Capabilities {
		if n == c {
			return i
		}
	}
	return len(spec.Capabilities)
}

// capChanges writes the set keep as `capabilities: {add, drop}` relative
// to nsup's default set, or nil for the default set itself. When the
// change is longer than the set itself (a set far from the default),
// it is written `drop: [ALL]` and `add:` the set: the same set, shorter,
// and read without knowing the default.
func capChanges(keep []string) *yaml.Node {
	var add, drop []string
	for _, c := range keep {
		if !slices.Contains(planner.DefaultCapabilities, c) {
			add = append(add, c)
		}
	}
	for _, c := range planner.DefaultCapabilities {
		if !slices.Contains(keep, c) {
			drop = append(drop, c)
		}
	}
	if len(add)+len(drop) == 0 {
		return nil
	}
	if len(add)+len(drop) > 1+len(keep) {
		add, drop = keep, []string{"ALL"}
	}
	n := mapping(true)
	if len(drop) > 0 {
		set(n, "drop", strList(drop))
	}
	if len(add) > 0 {
		set(n, "add", strList(add))
	}
	return n
}

// seccomp is the `seccomp` key: unconfined without a profile, none (the
// default) for the profile nsup's default resolves to for the set the
// process keeps, else the path of the config, whose linux.seccomp nsup
// reads as a profile.
func (m *importer) seccomp(s *specs.LinuxSeccomp, keep []string) *yaml.Node {
	if s == nil || sameAsPlanned(s, planner.UnconfinedRootRules(keep)) || sameAsPlanned(s, planner.UnconfinedRules()) {
		// (The filters nsup gives unconfined where root inside is the
		// host's root: the keyring calls refused; and in the host's pid
		// namespace: other processes' limits and priorities refused.)
		return str(spec.SeccompUnconfined)
	}
	resolve := m.opts.Seccomp
	if resolve == nil {
		resolve = func(_ string, caps []string) (*specs.LinuxSeccomp, error) { return seccomp.Default(caps) }
	}
	if def, err := resolve(spec.SeccompDefault, keep); err == nil && sameAsPlanned(s, def) {
		return nil
	}
	if _, err := seccomp.Load(m.data, keep); err != nil {
		m.note("linux.seccomp", "nsup cannot apply this profile (%v): nsup's default profile applies instead", err)
		return nil
	}
	p := m.opts.Path
	if p == "" {
		p = filepath.Join(m.opts.Bundle, "config.json")
	}
	return str(p)
}

// sameAsPlanned: s is profile as nsup plans it, with or without what it
// adds where the environment shares the host's IPC or pid namespace
// (planner.HostRefusals), which the spec imported gets again when
// planned.
func sameAsPlanned(s, profile *specs.LinuxSeccomp) bool {
	for _, ipc := range []bool{false, true} {
		for _, pid := range []bool{false, true} {
			if sameJSON(s, planner.HostRefusals(profile, ipc, pid)) {
				return true
			}
		}
	}
	return false
}

func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// confinedPaths is the `masked_paths` or `readonly_paths` list, or nil
// when the config's paths are nsup's defaults for the proc and sysfs
// mounts imported: those this host has (what export of nsup's defaults
// writes), or all of them (as other tools write them; the runtime skips
// those missing, as nsup does). The order does not matter: each path is
// confined, whatever the others.
func (m *importer) confinedPaths(key string, paths, defaults []string) *yaml.Node {
	var here, all []string
	for _, km := range m.kernelMounts {
		under := "/proc"
		if km.Type == spec.MountSysfs {
			under = "/sys"
		}
		for _, d := range defaults {
			rel, ok := strings.CutPrefix(d, under+"/")
			if !ok {
				continue
			}
			p := path.Join(km.Target, rel)
			all = append(all, p)
			if m.opts.HostPath == nil {
				here = append(here, p)
			} else if _, ok := m.opts.HostPath(d); ok {
				here = append(here, p)
			}
		}
	}
	if sameSet(paths, here) || sameSet(paths, all) {
		return nil
	}
	var out []string
	for i, p := range paths {
		switch {
		case !path.IsAbs(p) || path.Clean(p) != p:
			m.note(fmt.Sprintf("%s[%d]", key, i), "%q is not a clean absolute path: dropped", p)
		case slices.Contains(out, p):
		default:
			out = append(out, p)
		}
	}
	if out == nil {
		out = []string{}
	}
	return strList(out)
}
