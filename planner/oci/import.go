package oci

import (
	"bytes"
	"encoding/json"
	"fmt"
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
	m := &importer{c: &c, opts: opts}
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
	opts  ImportOptions
	notes []Note
	errs  Refused
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
	for _, n := range namespaces {
		if n.oci == t {
			return n.nsup, true
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
		m.note("process.terminal", "nsup gives the environment nsup's own stdin, stdout and stderr (a terminal if nsup has one)")
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
	keep := planner.DefaultCapabilities
	if cp := p.Capabilities; cp == nil || !sameSet(cp.Bounding, keep) || !sameSet(cp.Effective, keep) ||
		!sameSet(cp.Permitted, keep) || len(cp.Inheritable) > 0 || len(cp.Ambient) > 0 {
		var bounding []string
		if cp != nil {
			bounding = cp.Bounding
		}
		m.note("process.capabilities", "nsup keeps its own set for a root process inside (%s), not the config's (bounding: %s)",
			strings.Join(keep, " "), strings.Join(append([]string{}, bounding...), " "))
	}
	if !p.NoNewPrivileges {
		m.note("process.noNewPrivileges", "false: nsup always sets no_new_privs")
	}
	if len(p.Rlimits) > 0 {
		m.note("process.rlimits", "nsup sets no rlimits (the environment inherits nsup's): dropped")
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
	handled := map[string]bool{"Namespaces": true, "UIDMappings": true, "GIDMappings": true, "TimeOffsets": true, "RootfsPropagation": true}
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
		case "maskedPaths", "readonlyPaths":
			msg = "nsup masks no path (mount only what the environment needs instead): dropped"
		case "devices":
			msg = "nsup makes no device node; a type: dev mount binds the safe ones from the host: dropped"
		case "seccomp":
			msg = "nsup installs no seccomp filter: dropped"
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
