package oci

import (
	"encoding/json"
	"fmt"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"gopkg.in/yaml.v3"

	"github.com/nsup/nsup/planner/yamlnode"

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

// MaxConfig bounds the config.json Import reads. A runtime config is a
// few kilobytes (nsup's own, with Docker's seccomp profile, 17 KB);
// decoded twice (into runtime-spec's types, and as JSON values for its
// unknown keys), the worst file of 22 MB (a list of {}) took 670 MB, and
// one of 256 MiB, cmd/nsup's bound before, would have taken 8 GB (a
// review): one of MaxConfig, about 130 MB.
const MaxConfig = 4 << 20

// Import translates a runtime config (config.json's bytes) into an nsup
// spec, as YAML with the yaml-language-server modeline. What nsup cannot
// express is listed in the notes (and as comments at the top of the YAML);
// a config without a process or a root is an error.
func Import(data []byte, opts ImportOptions) ([]byte, []Note, error) {
	if len(data) > MaxConfig {
		return nil, nil, fmt.Errorf("%s: larger than %d bytes: not a runtime config nsup imports", opts.File, MaxConfig)
	}
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
	yamlnode.EscapeDollars(doc)
	// The config's strings may hold controls and bidirectional runes:
	// Encode shows them escaped.
	out, err := yamlnode.Encode(doc)
	if err != nil {
		return nil, nil, err
	}
	return out, m.notes, nil
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

func (m *importer) document() *yaml.Node {
	c := m.c
	name := m.envName()
	env := &yaml.Node{Kind: yaml.MappingNode}

	// rootfs
	root := c.Root.Path
	if !path.IsAbs(root) {
		root = filepath.Join(m.opts.Bundle, root)
	} else if c := path.Clean(root); c != root {
		// As a bind's source (import_mounts.go): what nsup uses.
		m.note("root.path", "%s: written %s, the folder nsup uses (a runtime takes each .. after the link before it, which may lead elsewhere)", root, c)
		root = c
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
	if linux != nil {
		if lim := m.limits(linux.Resources); lim != nil {
			set(env, "limits", lim)
		}
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
			head = append(head, "#   "+yamlnode.Escape(n.Key+": "+n.Msg))
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

// linux notes the parts of linux that nsup does not have.
func (m *importer) linux(l *specs.Linux) {
	if l.RootfsPropagation != "" && l.RootfsPropagation != "rprivate" && l.RootfsPropagation != "private" {
		m.note("linux.rootfsPropagation", "%s: nsup makes every mount of the environment private", l.RootfsPropagation)
	}
	v := reflect.ValueOf(*l)
	t := v.Type()
	handled := map[string]bool{"Namespaces": true, "UIDMappings": true, "GIDMappings": true, "TimeOffsets": true, "RootfsPropagation": true,
		"Seccomp": true, "MaskedPaths": true, "ReadonlyPaths": true, "Resources": true}
	if r := l.Resources; r != nil {
		m.resourcesDropped(r)
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if handled[f.Name] || v.Field(i).IsZero() {
			continue
		}
		key := strings.Split(f.Tag.Get("json"), ",")[0]
		msg := "not supported by nsup: dropped"
		switch key {
		case "cgroupsPath":
			msg = "nsup makes its own groups, nsup/ENV under its own: dropped"
		case "devices":
			msg = "nsup makes no device node; a type: dev mount binds the safe ones from the host: dropped"
		}
		m.note("linux."+key, "%s", msg)
	}
}
