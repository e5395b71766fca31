package kube

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/nsup/nsup/planner/yamlnode"

	"github.com/nsup/nsup/spec"
)

// SchemaURL is the schema an imported spec's modeline names.
const SchemaURL = "https://nsup.dev/schema/nsup.schema.json"

// MaxManifest bounds the manifest Import reads, and maxDepth its nesting:
// a Pod is a few kilobytes, ten levels deep. 256 KiB keeps what YAML
// makes of the worst such file (a list of one-letter items: a node each)
// under 200 MiB.
const (
	MaxManifest = 256 << 10
	maxDepth    = 64
)

// Import translates a Kubernetes manifest (file's bytes: Pods, and the
// PersistentVolumeClaims of their volumes) into an nsup spec, as YAML
// that opens with the schema modeline and the list of what did not map.
// Each container becomes an environment. Every key without an nsup
// equivalent is a Note at its FILE:LINE:COL of the manifest; a manifest
// that is not YAML, or holds no Pod, or a Pod that Kubernetes would
// refuse for its shape, is an error (spec.Errors, at FILE:LINE:COL).
func Import(file string, data []byte) ([]byte, []Note, error) {
	m := &importer{file: file, envNames: map[string]bool{}, claims: map[string]*claim{}, volSeen: map[string]bool{}}
	docs, err := m.parse(data)
	if err != nil {
		return nil, nil, err
	}
	var pods []*obj
	for i, d := range docs {
		o := m.object(d, "")
		if o == nil {
			continue
		}
		kindN, apiN := o.get("kind"), o.get("apiVersion")
		if kindN == nil || kindN.Kind != yaml.ScalarNode {
			m.fail(d, "kind", "document %d is not a Kubernetes object: it has no kind", i+1)
			continue
		}
		kind := kindN.Value
		if kind != "Pod" && kind != "PersistentVolumeClaim" {
			m.note(kindN, "kind", "not carried: a %s is not imported (a Pod and the PersistentVolumeClaims of its volumes are)", kind)
			continue
		}
		if apiN == nil || apiN.Value != "v1" {
			at := kindN
			if apiN != nil {
				at = apiN
			}
			m.fail(at, "apiVersion", "a %s is apiVersion v1", kind)
			continue
		}
		if kind == "Pod" {
			pods = append(pods, o)
		} else {
			m.claim(o)
		}
	}
	if len(pods) == 0 && len(m.errs) == 0 {
		at := &yaml.Node{Line: 1, Column: 1}
		if len(docs) > 0 {
			at = docs[0]
		}
		m.fail(at, "kind", "no Pod in the manifest: nsup imports a Pod (kind: Pod), with the PersistentVolumeClaims of its volumes")
	}
	for _, p := range pods {
		m.pod(p)
	}
	for _, c := range m.claimOrder {
		if !c.used {
			m.note(c.node, "metadata.name", "not carried: no Pod mounts this claim")
		}
	}
	if m.projectSeen && !m.projectBad && isDNSLabel(m.project) && len(m.volumes) > 0 {
		// A named volume is VOLUMES/PROJECT/NAME: the label, which
		// whoever wrote the manifest chose, picks whose volumes these
		// are (a review: a Pod labelled with another project's name
		// mounted that project's database).
		var names []string
		for _, v := range m.volumes {
			names = append(names, v.name)
		}
		m.note(m.projectN, "metadata.labels."+LabelProject, "translated: the spec's name (its project) is %s, from this label: its named volumes (%s) are project %s's, the same folders as every spec of that name on this host uses: change name to keep them apart", m.project, strings.Join(names, ", "), m.project)
	}
	if len(m.errs) > 0 {
		return nil, nil, m.errs.Sorted()
	}
	sort.SliceStable(m.notes, func(i, j int) bool {
		a, b := m.notes[i].Pos, m.notes[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	out, err := m.document()
	if err != nil {
		return nil, nil, err
	}
	return out, m.notes, nil
}

type importer struct {
	file  string
	notes []Note
	errs  spec.Errors
	// claims are the manifest's PersistentVolumeClaims, by name, and in
	// the manifest's order.
	claims     map[string]*claim
	claimOrder []*claim
	// volumes are the spec's top-level volumes, in order of use.
	volumes []*claim
	volSeen map[string]bool
	envs    []*envOut
	// envNames are the environments' names so far.
	envNames map[string]bool
	// project is the nsup.dev/project label of the Pods, if they agree.
	project     string
	projectSeen bool
	projectBad  bool
	projectN    *yaml.Node
}

// claim is a PersistentVolumeClaim: the volume of the spec it becomes.
type claim struct {
	name  string // the spec's volume
	owner string // "UID:GID" from podman's annotations, or ""
	// node is the claim's document, nil for a claim no document
	// declares; used says a Pod's volume names it.
	node *yaml.Node
	used bool
}

// envOut is one environment, its keys in the order of docs/spec.md.
type envOut struct {
	name                                     string
	rootfs, namespaces, join, hostname       *yaml.Node
	mounts, env, cwd, user, security, limits *yaml.Node
	net, processes                           *yaml.Node
}

func pos(n *yaml.Node) spec.Pos { return spec.Pos{Line: n.Line, Col: n.Column} }

func (m *importer) note(n *yaml.Node, key, format string, args ...any) {
	m.notes = append(m.notes, Note{File: m.file, Pos: pos(n), Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (m *importer) fail(n *yaml.Node, key, format string, args ...any) {
	m.errs = append(m.errs, &spec.Error{File: m.file, Pos: pos(n), Path: key, Msg: fmt.Sprintf(format, args...)})
}

// parse reads every document of data as nodes (positions kept, aliases
// refused, depth bounded).
func (m *importer) parse(data []byte) ([]*yaml.Node, error) {
	if len(data) > MaxManifest {
		return nil, spec.Errors{{File: m.file, Pos: spec.Pos{Line: 1, Col: 1}, Msg: fmt.Sprintf("the manifest is larger than %d bytes", MaxManifest)}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var d yaml.Node
		err := decodeNode(dec, &d)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, spec.Errors{spec.SyntaxError(m.file, data, err)}
		}
		if len(d.Content) != 1 {
			continue
		}
		if !m.checkTree(d.Content[0], 0) {
			return nil, m.errs
		}
		docs = append(docs, d.Content[0])
	}
	if len(m.errs) > 0 {
		return nil, m.errs
	}
	return docs, nil
}

// decodeNode turns a panic of the YAML library into an error: a manifest
// must never crash nsup.
func decodeNode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: internal error: %v", r)
		}
	}()
	return dec.Decode(n)
}

// checkTree refuses aliases (a manifest needs none, and without them no
// walk expands a billion laughs) and bounds the depth.
func (m *importer) checkTree(n *yaml.Node, depth int) bool {
	if depth > maxDepth {
		m.fail(n, "", "nesting is deeper than %d levels", maxDepth)
		return false
	}
	if n.Kind == yaml.AliasNode {
		m.fail(n, "", "YAML aliases are not supported: write the value out")
		return true
	}
	if n.Kind == yaml.MappingNode {
		m.checkKeys(n)
	}
	for _, c := range n.Content {
		if !m.checkTree(c, depth+1) {
			return false
		}
	}
	return true
}

// checkKeys refuses a key written twice in one mapping, a key that is not
// a string, and a merge key (<<): yaml.v3 checks none of them when it
// decodes into nodes, and the importer reads a key's first value while
// Kubernetes refuses a duplicate field (kubectl's strict validation) or
// takes the last, and merges <<'s mapping: the manifest a reader checked
// and the spec printed would disagree (a review: hostNetwork: true, then
// false, imported the host's network; a second add: of capabilities was
// dropped unsaid).
func (m *importer) checkKeys(n *yaml.Node) {
	var seen map[string]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		switch {
		case k.Kind != yaml.ScalarNode:
			m.fail(k, "", "keys must be strings, got %s", describe(k))
			continue
		case k.ShortTag() == "!!merge":
			m.fail(k, "", "YAML merge keys (<<) are not supported: write the keys out")
			continue
		}
		if seen == nil {
			seen = map[string]*yaml.Node{}
		}
		if first := seen[k.Value]; first != nil {
			m.fail(k, "", "duplicate key %q (first at line %d): Kubernetes refuses it", k.Value, first.Line)
			continue
		}
		seen[k.Value] = k
	}
}

// obj is a mapping of the manifest, whose keys are read once each: rest
// notes those that were not.
type obj struct {
	m    *importer
	n    *yaml.Node
	at   string
	used map[string]bool
}

// object is n as a mapping at key path at; nil (after an error) when it is
// not one, nil without error when it is null.
func (m *importer) object(n *yaml.Node, at string) *obj {
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		m.fail(n, at, "must be a mapping, got %s", describe(n))
		return nil
	}
	return &obj{m: m, n: n, at: at, used: map[string]bool{}}
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

// sub is the key path of k below o.
func (o *obj) sub(k string) string {
	if o.at == "" {
		return k
	}
	return o.at + "." + k
}

// get returns the value of key k (nil if absent), and marks it read.
func (o *obj) get(k string) *yaml.Node {
	if o == nil {
		return nil
	}
	for i := 0; i+1 < len(o.n.Content); i += 2 {
		if o.n.Content[i].Value == k {
			o.used[k] = true
			return o.n.Content[i+1]
		}
	}
	return nil
}

// keyNode is the node of key k, for positions (the mapping's if absent).
func (o *obj) keyNode(k string) *yaml.Node {
	for i := 0; i+1 < len(o.n.Content); i += 2 {
		if o.n.Content[i].Value == k {
			return o.n.Content[i]
		}
	}
	return o.n
}

// str is key k's value as a string ("" when absent or null); a mapping or
// a list is an error.
func (o *obj) str(k string) (string, *yaml.Node) {
	n := o.get(k)
	if n == nil || isNull(n) {
		return "", nil
	}
	if n.Kind != yaml.ScalarNode {
		o.m.fail(n, o.sub(k), "must be a string, got %s", describe(n))
		return "", nil
	}
	return n.Value, n
}

// integer is key k's value as an integer.
func (o *obj) integer(k string) (int64, *yaml.Node) {
	n := o.get(k)
	if n == nil || isNull(n) {
		return 0, nil
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || err != nil {
		o.m.fail(n, o.sub(k), "must be an integer, got %s", describe(n))
		return 0, nil
	}
	return v, n
}

// boolean is key k's value as a bool.
func (o *obj) boolean(k string) (bool, *yaml.Node) {
	n := o.get(k)
	if n == nil || isNull(n) {
		return false, nil
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		o.m.fail(n, o.sub(k), "must be true or false, got %s", describe(n))
		return false, nil
	}
	return n.Value == "true", n
}

// list is key k's value as a list (nil when absent or null).
func (o *obj) list(k string) []*yaml.Node {
	n := o.get(k)
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		o.m.fail(n, o.sub(k), "must be a list, got %s", describe(n))
		return nil
	}
	return n.Content
}

// strings is key k's value as a list of strings.
func (o *obj) strings(k string) ([]string, *yaml.Node) {
	items := o.list(k)
	var out []string
	for i, it := range items {
		if it.Kind != yaml.ScalarNode {
			o.m.fail(it, fmt.Sprintf("%s[%d]", o.sub(k), i), "must be a string, got %s", describe(it))
			continue
		}
		out = append(out, it.Value)
	}
	return out, o.get(k)
}

// empty says whether a value carries nothing: null, "", false, {} or [].
func empty(n *yaml.Node) bool {
	switch n.Kind {
	case yaml.MappingNode, yaml.SequenceNode:
		return len(n.Content) == 0
	case yaml.ScalarNode:
		return isNull(n) || n.Value == "" || n.ShortTag() == "!!bool" && n.Value == "false"
	}
	return false
}

// rest notes every key of o not read, whose value carries something:
// with msgs[k], else with def.
func (o *obj) rest(msgs map[string]string, def string) {
	if o == nil {
		return
	}
	for i := 0; i+1 < len(o.n.Content); i += 2 {
		k, v := o.n.Content[i], o.n.Content[i+1]
		if o.used[k.Value] || empty(v) {
			continue
		}
		msg, ok := msgs[k.Value]
		if !ok {
			msg = def
		}
		o.m.note(k, o.sub(k.Value), "%s", msg)
	}
}

const notCarried = "not carried: nsup has no equivalent"

// claim reads a PersistentVolumeClaim: a named volume of the spec, its
// owner from podman's annotations.
func (m *importer) claim(o *obj) {
	md := m.object(o.get("metadata"), "metadata")
	name, nameN := md.str("name")
	if nameN == nil {
		m.fail(o.n, "metadata.name", "a PersistentVolumeClaim needs a name")
		return
	}
	c := &claim{name: volumeName(name), node: nameN}
	ann := m.object(md.get("annotations"), "metadata.annotations")
	if v, n := ann.str(AnnotationVolume); n != nil && isDNSLabel(v) {
		c.name = v
	}
	uid, uidN := ann.str(podmanVolumeUID)
	gid, gidN := ann.str(podmanVolumeGID)
	if uidN != nil || gidN != nil {
		if uid == "" {
			uid = "0"
		}
		if gid == "" {
			gid = uid
		}
		if isUint32(uid) && isUint32(gid) {
			c.owner = uid + ":" + gid
		} else {
			m.note(ann.n, ann.at, "not carried: %s and %s are not numeric ids (%q, %q)", podmanVolumeUID, podmanVolumeGID, uid, gid)
		}
	}
	ann.rest(nil, "not carried: nsup has no annotations")
	labels := m.object(md.get("labels"), "metadata.labels")
	if labels != nil {
		labels.get(LabelManagedBy)
		labels.get(LabelProject)
	}
	labels.rest(nil, "not carried: nsup has no labels")
	md.rest(nil, notCarried)
	sp := m.object(o.get("spec"), "spec")
	sp.rest(map[string]string{
		"accessModes":      "not carried: an nsup volume is a folder of this host, read and written by whoever binds it",
		"resources":        "not carried: an nsup volume has no size",
		"storageClassName": "not carried: an nsup volume is a folder of this host",
	}, notCarried)
	o.rest(map[string]string{"status": "not carried: the claim's state"}, notCarried)
	if m.claims[name] != nil {
		m.fail(nameN, "metadata.name", "claim %s is declared twice", name)
	}
	m.claims[name] = c
	m.claimOrder = append(m.claimOrder, c)
}

func isUint32(s string) bool {
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

// volumeName makes s a volume (or environment) name: lower case, each run
// of other characters than a-z and 0-9 one -, at most 63.
func volumeName(s string) string {
	n := spec.ProjectFromDir(s)
	if n == "" {
		return "volume"
	}
	return n
}

// useVolume adds a claim's volume to the spec's volumes.
func (m *importer) useVolume(c *claim) {
	c.used = true
	if !m.volSeen[c.name] {
		m.volSeen[c.name] = true
		m.volumes = append(m.volumes, c)
	}
}

// document assembles the spec.
func (m *importer) document() ([]byte, error) {
	top := mapping(false, "version", integer(1))
	if m.projectSeen && !m.projectBad && isDNSLabel(m.project) {
		set(top, "name", str(m.project))
	}
	if len(m.volumes) > 0 {
		vols := &yaml.Node{Kind: yaml.MappingNode}
		for _, v := range m.volumes {
			if v.owner != "" {
				set(vols, v.name, mapping(true, "owner", str(v.owner)))
			} else {
				set(vols, v.name, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: ""})
			}
		}
		set(top, "volumes", vols)
	}
	envs := &yaml.Node{Kind: yaml.MappingNode}
	for _, e := range m.envs {
		n := &yaml.Node{Kind: yaml.MappingNode}
		for _, kv := range []struct {
			k string
			v *yaml.Node
		}{{"rootfs", e.rootfs}, {"namespaces", e.namespaces}, {"join", e.join}, {"hostname", e.hostname},
			{"mounts", e.mounts}, {"env", e.env}, {"cwd", e.cwd}, {"user", e.user}, {"security", e.security},
			{"limits", e.limits}, {"net", e.net}, {"processes", e.processes}} {
			if kv.v != nil {
				set(n, kv.k, kv.v)
			}
		}
		set(envs, e.name, n)
	}
	set(top, "environments", envs)
	yamlnode.EscapeDollars(top)
	head := []string{"# yaml-language-server: $schema=" + SchemaURL, "#", "# Imported by nsup import --kube from " + m.file + "."}
	if len(m.notes) > 0 {
		head = append(head, "# Not translated (nsup has no equivalent, or does it its own way):")
		for _, n := range m.notes {
			head = append(head, "#   "+yamlnode.Escape(strings.ReplaceAll(n.String(), "\n", " ")))
		}
	}
	top.HeadComment = strings.Join(head, "\n")
	// The manifest's strings may hold controls and bidirectional runes:
	// Encode shows them escaped.
	return yamlnode.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{top}})
}
