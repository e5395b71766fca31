package oci

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"gopkg.in/yaml.v3"

	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/planner/seccomp"
	"github.com/nsup/nsup/spec"
)

// ImportOptions tune Import.
type ImportOptions struct {
	// File is the config's name, for notes and errors.
	File string
	// Bundle is the bundle's absolute folder: a relative root.path is
	// resolved against it.
	Bundle string
	// Schema is what the modeline points editors to.
	Schema string
	// Path is the config's absolute path: a seccomp profile other than
	// nsup's default is imported as `seccomp: PATH`, read from the config
	// itself (planner/seccomp's Load takes a config.json). "" means
	// Bundle/config.json.
	Path string

	// What nsup's planner gives the imported environment on the host the
	// YAML is for (as planner.Options and planner.Caller say), so that
	// what equals nsup's defaults is left out, and export gives back the
	// same config.json. Import reads no file: cmd/nsup passes this host's.
	//
	// Seccomp resolves a profile ("default") for a capability set; nil
	// means planner/seccomp's Default, Docker's profile for this kernel.
	Seccomp func(profile string, caps []string) (*specs.LinuxSeccomp, error)
	// HostPath tells whether a host path exists and is a folder: the
	// default masked and read-only paths the host lacks are not planned.
	// Nil means every path exists.
	HostPath func(path string) (isDir, ok bool)
	// Caller's HardLimits give nsup's default RLIMIT_NOFILE (soft
	// planner.DefaultNofile, hard nsup's own); nil means none known
	// (unlimited), as for planner.Caller.
	Caller *planner.Caller
}

// Import translates a runtime config (config.json's bytes) into an nsup
// spec, as YAML with the yaml-language-server modeline. What nsup cannot
// express is listed in the notes (and as comments at the top of the YAML);
// a config without a process or a root is an error.
func Import(data []byte, opts ImportOptions) ([]byte, []Note, error) {
	var c specs.Spec
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, nil, fmt.Errorf("%s: %v", opts.File, err)
	}
	m := &importer{c: &c, data: data, opts: opts}
	m.unknownKeys(data)
	if c.Root == nil || c.Root.Path == "" {
		m.fail("root.path", "a bundle needs a root filesystem")
	}
	if c.Process == nil || len(c.Process.Args) == 0 {
		m.fail("process.args", "a bundle needs a process to run")
	}
	if len(m.errs) > 0 {
		return nil, nil, m.errs
	}
	doc := m.document()
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, nil, err
	}
	return b.Bytes(), m.notes, nil
}

type importer struct {
	c     *specs.Spec
	data  []byte
	opts  ImportOptions
	notes []Note
	errs  Refused
	// kernelMounts are the proc and sysfs mounts imported, in order,
	// under which nsup masks and makes read-only its default paths.
	kernelMounts []spec.Mount
}

func (m *importer) note(key, format string, args ...any) {
	m.notes = append(m.notes, Note{Origin: m.opts.File, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (m *importer) fail(key, format string, args ...any) {
	m.errs = append(m.errs, Note{Origin: m.opts.File, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// unknownKeys notes the keys of the file that runtime-spec's types do not
// have (a newer spec, a typo): decoding would drop them without a word.
func (m *importer) unknownKeys(data []byte) {
	var raw any
	if json.Unmarshal(data, &raw) != nil {
		return
	}
	known, _ := json.Marshal(m.c)
	var typed any
	json.Unmarshal(known, &typed)
	var walk func(r, t any, at string)
	walk = func(r, t any, at string) {
		switch rv := r.(type) {
		case map[string]any:
			tv, _ := t.(map[string]any)
			keys := make([]string, 0, len(rv))
			for k := range rv {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				key := strings.TrimPrefix(at+"."+k, ".")
				sub, ok := tv[k]
				if !ok {
					if !isEmpty(rv[k]) {
						m.note(key, "not a runtime-spec %s field: dropped", specs.Version)
					}
					continue
				}
				walk(rv[k], sub, key)
			}
		case []any:
			tv, _ := t.([]any)
			for i := range rv {
				if i < len(tv) {
					walk(rv[i], tv[i], fmt.Sprintf("%s[%d]", at, i))
				}
			}
		}
	}
	walk(raw, typed, "")
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	case string:
		return x == ""
	case bool:
		return !x
	}
	return false
}

// nsName is the spec-v1 name of an OCI namespace type.
func nsName(t specs.LinuxNamespaceType) (string, bool) {
	for _, n := range spec.Namespaces {
		if n.OCI == string(t) {
			return n.Name, true
		}
	}
	return "", false
}

// Compiled when first used: nsup's start-up (twice per environment) must
// not pay for import's regexps.
var (
	envNamePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`) })
	notNameChars   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^a-z0-9-]+`) })
)

// envName is the environment's name: the one export recorded, else the
// bundle folder's, made valid.
func (m *importer) envName() string {
	if n := m.c.Annotations[AnnotationEnvironment]; envNamePattern().MatchString(n) {
		return n
	}
	n := strings.ToLower(filepath.Base(m.opts.Bundle))
	n = notNameChars().ReplaceAllString(n, "-")
	n = strings.Trim(n, "-")
	if len(n) > 63 {
		n = strings.Trim(n[:63], "-")
	}
	if !envNamePattern().MatchString(n) {
		return "main"
	}
	return n
}

// YAML building blocks.
func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }
func boolean(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(b)}
}
func integer(n uint64) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatUint(n, 10)}
}
func mapping(flow bool, kv ...any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	if flow {
		n.Style = yaml.FlowStyle
	}
	for i := 0; i < len(kv); i += 2 {
		n.Content = append(n.Content, str(kv[i].(string)), kv[i+1].(*yaml.Node))
	}
	return n
}
func set(n *yaml.Node, k string, v *yaml.Node) {
	n.Content = append(n.Content, str(k), v)
}

func strList(ss []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, s := range ss {
		n.Content = append(n.Content, str(s))
	}
	return n
}

// command is a flow list when short and on one line each, else a block
// list with multi-line arguments as literal blocks.
func command(args []string) *yaml.Node {
	n := strList(args)
	total := 0
	for _, a := range args {
		total += len(a)
		if strings.Contains(a, "\n") {
			n.Style = 0
		}
	}
	if total > 60 {
		n.Style = 0
	}
	if n.Style == 0 {
		for _, c := range n.Content {
			if strings.Contains(c.Value, "\n") && !strings.ContainsAny(c.Value, "\t") && !hasTrailingSpace(c.Value) {
				c.Style = yaml.LiteralStyle
			}
		}
	}
	return n
}

func hasTrailingSpace(s string) bool {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasSuffix(l, " ") {
			return true
		}
	}
	return false
}

func (m *importer) document() *yaml.Node {
	c := m.c
	name := m.envName()
	env := &yaml.Node{Kind: yaml.MappingNode}

	// rootfs
	root := c.Root.Path
	if !path.IsAbs(root) {
		root = filepath.Join(m.opts.Bundle, root)
	}
	// rootfs.dev stays false: nsup mounts the root nodev, which OCI
	// cannot say (runtimes never do), so that the environment is as
	// strict as nsup's default; a bundle with device nodes in its rootfs
	// needs dev: true added by hand.
	rootfs := mapping(false, "dir", str(root))
	if !c.Root.Readonly {
		set(rootfs, "readonly", boolean(false))
	}
	set(env, "rootfs", rootfs)

	linux := c.Linux
	if linux == nil {
		linux = &specs.Linux{}
	}
	// namespaces and join
	var newNS []string
	join := mapping(true)
	hasMnt := false
	for i, n := range linux.Namespaces {
		t, ok := nsName(n.Type)
		if !ok {
			m.note(fmt.Sprintf("linux.namespaces[%d]", i), "namespace type %q unknown to nsup: dropped", n.Type)
			continue
		}
		hasMnt = hasMnt || t == spec.NSMount
		if n.Path != "" {
			set(join, t, str(n.Path))
		} else {
			newNS = append(newNS, t)
		}
	}
	if !hasMnt {
		// nsup needs a mount namespace for a rootfs (a chroot is not
		// isolation); runtimes make one whatever the config says.
		newNS = append([]string{spec.NSMount}, newNS...)
		m.note("linux.namespaces", "no mount namespace: added (nsup switches the root in a mount namespace of its own, as runtimes do)")
	}
	sort.SliceStable(newNS, func(i, j int) bool { return nsIndex(newNS[i]) < nsIndex(newNS[j]) })
	set(env, "namespaces", strList(newNS))
	if len(join.Content) > 0 {
		set(env, "join", join)
	}
	if c.Hostname != "" {
		set(env, "hostname", str(c.Hostname))
	}
	if c.Domainname != "" {
		set(env, "domainname", str(c.Domainname))
	}
	if len(linux.UIDMappings)+len(linux.GIDMappings) > 0 {
		ranges := func(ms []specs.LinuxIDMapping) *yaml.Node {
			n := &yaml.Node{Kind: yaml.SequenceNode}
			for _, r := range ms {
				n.Content = append(n.Content, mapping(true, "inside", integer(uint64(r.ContainerID)),
					"outside", integer(uint64(r.HostID)), "count", integer(uint64(r.Size))))
			}
			return n
		}
		set(env, "idmap", mapping(false, "uid", ranges(linux.UIDMappings), "gid", ranges(linux.GIDMappings)))
	}
	if len(linux.TimeOffsets) > 0 {
		t := mapping(true)
		for _, clock := range []string{"monotonic", "boottime"} {
			if o, ok := linux.TimeOffsets[clock]; ok {
				d := time.Duration(o.Secs)*time.Second + time.Duration(o.Nanosecs)
				set(t, clock, str(d.String()))
			}
		}
		for clock := range linux.TimeOffsets {
			if clock != "monotonic" && clock != "boottime" {
				m.note("linux.timeOffsets."+clock, "no such clock in a time namespace: dropped")
			}
		}
		set(env, "time", t)
	}
	if mounts := m.mounts(); len(mounts.Content) > 0 {
		set(env, "mounts", mounts)
	}
	p := c.Process
	if vars := m.env(p.Env); vars != nil {
		set(env, "env", vars)
	}
	if p.Cwd != "" && p.Cwd != "/" {
		set(env, "cwd", str(p.Cwd))
	}
	if p.User.UID != 0 || p.User.GID != 0 {
		set(env, "user", str(fmt.Sprintf("%d:%d", p.User.UID, p.User.GID)))
	}
	initNode := boolean(false)
	initNode.LineComment = "OCI has no init: the process is PID 1"
	set(env, "init", initNode)
	if sec := m.security(linux); sec != nil {
		set(env, "security", sec)
	}
	if rl := m.rlimits(); rl != nil {
		set(env, "rlimits", rl)
	}
	procName := c.Annotations[AnnotationProcess]
	if procName == "" {
		procName = "main"
	}
	set(env, "processes", &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{
		mapping(false, "name", str(procName), "command", command(p.Args)),
	}})
	m.process()
	m.linux(linux)
	if c.Hooks != nil && !reflect.ValueOf(*c.Hooks).IsZero() {
		m.note("hooks", "nsup runs no hooks: dropped")
	}
	for _, k := range sortedKeys(c.Annotations) {
		if k != AnnotationEnvironment && k != AnnotationProcess {
			m.note("annotations."+k, "nsup has no annotations: dropped")
		}
	}

	top := mapping(false, "version", integer(1), "environments", mapping(false, name, env))
	head := []string{"# yaml-language-server: $schema=" + m.opts.Schema, "#", "# Imported by nsup import from " + m.opts.File + "."}
	if len(m.notes) > 0 {
		head = append(head, "# Not translated (nsup has no equivalent, or does it its own way):")
		for _, n := range m.notes {
			head = append(head, "#   "+n.Key+": "+n.Msg)
		}
	}
	top.HeadComment = strings.Join(head, "\n")
	return &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{top}}
}

func nsIndex(t string) int {
	for i, n := range spec.NamespaceTypes {
		if n == t {
			return i
		}
	}
	return len(spec.NamespaceTypes)
}

func sortedKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// env is the environment's variables, in order. PATH first with nsup's
// default is what nsup adds by itself: left out.
func (m *importer) env(vars []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	seen := map[string]bool{}
	for i, kv := range vars {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			m.note(fmt.Sprintf("process.env[%d]", i), "%q is not NAME=VALUE: dropped", kv)
			continue
		}
		if i == 0 && k == "PATH" && v == planner.DefaultPath {
			continue
		}
		if seen[k] {
			m.note(fmt.Sprintf("process.env[%d]", i), "%s set twice: the last value is kept", k)
			for j := 0; j < len(n.Content); j += 2 {
				if n.Content[j].Value == k {
					n.Content[j+1] = str(v)
				}
			}
			continue
		}
		seen[k] = true
		set(n, k, str(v))
	}
	if len(n.Content) == 0 {
		return nil
	}
	return n
}

// process notes what of process nsup does its own way.
func (m *importer) process() {
	p := m.c.Process
	if p.Terminal {
		m.note("process.terminal", "not from the config under nsup: the environment gets a terminal of its own when nsup's stdin is one, else nsup's stdin, stdout and stderr")
	}
	if p.ConsoleSize != nil {
		m.note("process.consoleSize", "no console of its own under nsup: dropped")
	}
	if len(p.User.AdditionalGids) > 0 {
		m.note("process.user.additionalGids", "nsup sets no supplementary groups: dropped")
	}
	if p.User.Umask != nil {
		m.note("process.user.umask", "nsup keeps the umask it was started with: dropped")
	}
	if p.User.Username != "" {
		m.note("process.user.username", "nsup takes numeric ids only: dropped")
	}
	if p.CommandLine != "" {
		m.note("process.commandLine", "Windows only: dropped")
	}
	for _, f := range []struct {
		key string
		set bool
	}{
		{"process.apparmorProfile", p.ApparmorProfile != ""}, {"process.selinuxLabel", p.SelinuxLabel != ""},
		{"process.oomScoreAdj", p.OOMScoreAdj != nil}, {"process.scheduler", p.Scheduler != nil},
		{"process.ioPriority", p.IOPriority != nil}, {"process.execCPUAffinity", p.ExecCPUAffinity != nil},
	} {
		if f.set {
			m.note(f.key, "not supported by nsup: dropped")
		}
	}
}

// linux notes the parts of linux that nsup does not have.
func (m *importer) linux(l *specs.Linux) {
	if l.RootfsPropagation != "" && l.RootfsPropagation != "rprivate" && l.RootfsPropagation != "private" {
		m.note("linux.rootfsPropagation", "%s: nsup makes every mount of the environment private", l.RootfsPropagation)
	}
	v := reflect.ValueOf(*l)
	t := v.Type()
	handled := map[string]bool{"Namespaces": true, "UIDMappings": true, "GIDMappings": true, "TimeOffsets": true, "RootfsPropagation": true,
		"Seccomp": true, "MaskedPaths": true, "ReadonlyPaths": true}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if handled[f.Name] || v.Field(i).IsZero() {
			continue
		}
		key := strings.Split(f.Tag.Get("json"), ",")[0]
		msg := "not supported by nsup: dropped"
		switch key {
		case "resources", "cgroupsPath":
			msg = "nsup creates no cgroup: dropped"
		case "devices":
			msg = "nsup makes no device node; a type: dev mount binds the safe ones from the host: dropped"
		}
		m.note("linux."+key, "%s", msg)
	}
}

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
		case !contains(keep, n):
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
		if !contains(planner.DefaultCapabilities, c) {
			add = append(add, c)
		}
	}
	for _, c := range planner.DefaultCapabilities {
		if !contains(keep, c) {
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
	if s == nil {
		return str(spec.SeccompUnconfined)
	}
	resolve := m.opts.Seccomp
	if resolve == nil {
		resolve = func(_ string, caps []string) (*specs.LinuxSeccomp, error) { return seccomp.Default(caps) }
	}
	if def, err := resolve(spec.SeccompDefault, keep); err == nil && sameJSON(def, s) {
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
		case contains(out, p):
		default:
			out = append(out, p)
		}
	}
	if out == nil {
		out = []string{}
	}
	return strList(out)
}

// rlimits is the environment's `rlimits`, by resource name; nil when the
// config sets none but nsup's default RLIMIT_NOFILE (soft
// planner.DefaultNofile, hard nsup's own).
func (m *importer) rlimits() *yaml.Node {
	hard := planner.RlimInfinity
	if c := m.opts.Caller; c != nil {
		if h, ok := c.HardLimits["nofile"]; ok {
			hard = h
		}
	}
	byName := map[string]specs.POSIXRlimit{}
	for i, r := range m.c.Process.Rlimits {
		key := fmt.Sprintf("process.rlimits[%d]", i)
		name := strings.ToLower(strings.TrimPrefix(r.Type, "RLIMIT_"))
		if _, ok := planner.ResourceByName(name); !ok || !strings.HasPrefix(r.Type, "RLIMIT_") || !contains(spec.RlimitNames, name) {
			m.note(key, "%q is not a resource nsup knows (%s): dropped", r.Type, strings.Join(spec.RlimitNames, ", "))
			continue
		}
		if r.Soft > r.Hard {
			m.note(key, "%s: soft limit %d above the hard limit %d: dropped", r.Type, r.Soft, r.Hard)
			continue
		}
		if _, dup := byName[name]; dup {
			m.note(key, "%s set twice: the last is kept", r.Type)
		}
		byName[name] = r
	}
	if r, ok := byName["nofile"]; ok && r.Hard == hard && r.Soft == min(planner.DefaultNofile, hard) {
		delete(byName, "nofile") // nsup's default
	}
	if len(byName) == 0 {
		return nil
	}
	n := mapping(true)
	for _, name := range spec.RlimitNames {
		if r, ok := byName[name]; ok {
			set(n, name, limitValue(r.Soft, r.Hard))
		}
	}
	return n
}

// limitValue writes a limit as `rlimits` takes it: one number for both,
// or "SOFT:HARD"; unlimited for RLIM_INFINITY.
func limitValue(soft, hard uint64) *yaml.Node {
	word := func(v uint64) string {
		if v == planner.RlimInfinity {
			return "unlimited"
		}
		return strconv.FormatUint(v, 10)
	}
	switch {
	case soft == hard && soft <= math.MaxInt64:
		return integer(soft)
	case soft == hard:
		return str(word(soft))
	}
	return str(word(soft) + ":" + word(hard))
}
