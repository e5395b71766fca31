package spec

// An environment's mounts: type, target, source, options, a tmpfs's size and mode.

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// mountKeys lists every key of a mount; which ones a type allows is
// checked after, so that a misplaced `size` says "only for tmpfs" rather
// than "unknown key".
var mountKeys = []string{"type", "target", "source", "subpath", "readonly", "options", "size", "mode", "recursive", "create"}

func (d *decoder) mounts(n *yaml.Node, at string) []Mount {
	if !d.isList(n, at) {
		return nil
	}
	out := make([]Mount, 0, len(n.Content))
	for i, item := range n.Content {
		if m, ok := d.mount(item, index(at, i)); ok {
			out = append(out, m)
		}
	}
	return out
}

func (d *decoder) mount(n *yaml.Node, at string) (Mount, bool) {
	m := Mount{Pos: pos(n)}
	f, ok := d.fields(n, at, mountKeys...)
	if !ok {
		return m, false
	}
	d.require(f, n, at, "type", "target")
	if p, ok := f.get("type"); ok {
		if s, ok := d.str(p.val, at+".type"); ok {
			if slices.Contains(MountTypes, s) {
				m.Type = s
			} else {
				d.report(pos(p.val), at+".type", unknownMsg("mount type", s, MountTypes))
			}
		}
	}
	if p, ok := f.get("target"); ok {
		if t := d.absPath(p.val, at+".target", targetMsg); t != nil {
			m.Target = t.Value
		}
	}

	// Keys that only some types take. With an unknown or missing type
	// nothing is said about them: the type is the error.
	kind, known := MountKindOf(m.Type)
	for _, k := range mountKeys {
		p, present := f.get(k)
		if !present || !known || kind.Takes(k) || k == "type" || k == "target" || k == "readonly" || k == "options" {
			continue
		}
		var takers []string
		for _, o := range MountKinds {
			if o.Takes(k) {
				takers = append(takers, o.Name)
			}
		}
		d.errorf(p.key, at+"."+k, "only allowed for type %s, not %s", strings.Join(takers, " and "), m.Type)
		f.del(k)
	}
	switch m.Type {
	case MountBind:
		if _, ok := f.get("source"); !ok {
			d.errorf(n, at, "missing required key \"source\": a bind mount needs a host path")
		}
	case MountVolume:
		if _, ok := f.get("source"); !ok {
			d.errorf(n, at, "missing required key \"source\": a volume mount names a volume of the top-level volumes")
		}
	}

	if p, ok := f.get("source"); ok {
		m.SourcePos = pos(p.val)
		if m.Type == MountVolume {
			// A name, checked against the top-level volumes (validate).
			if s, ok := d.str(p.val, at+".source"); ok {
				if ValidName(s) {
					m.Source = s
					d.volumeRefs = append(d.volumeRefs, volumeRef{name: s, n: p.val, at: at + ".source"})
				} else {
					d.errorf(p.val, at+".source", "invalid volume name %s: 1 to 63 of a-z, 0-9 and -, beginning and ending with a letter or digit", quote(s))
				}
			}
		} else {
			m.Source, _ = d.hostPath(p.val, at+".source")
		}
	}
	if p, ok := f.get("subpath"); ok && m.Source != "" {
		if sub, ok := d.subpath(p.val, at+".subpath"); ok {
			m.Within, m.Source = m.Source, filepath.Join(m.Source, sub)
		}
	}
	if p, ok := f.get("create"); ok {
		if b, ok := d.boolean(p.val, at+".create"); ok {
			m.Create = b
		}
	}
	m.Readonly = kind.Readonly
	if p, ok := f.get("readonly"); ok {
		if b, ok := d.boolean(p.val, at+".readonly"); ok {
			m.Readonly = b
		}
	}
	if p, ok := f.get("options"); ok {
		m.Options = d.mountOptions(p.val, at+".options")
		if i := slices.Index(m.Options, "dev"); i >= 0 && known && !kind.Dev {
			// proc, sysfs, mqueue and devpts hold no device node to allow,
			// and dev's /dev is a tmpfs of its own making.
			d.errorf(p.val, at+".options", "dev is only for bind and tmpfs mounts, not %s", m.Type)
		}
	}
	if p, ok := f.get("size"); ok {
		m.Size, m.SizeBytes = d.size(p.val, at+".size")
	}
	if p, ok := f.get("mode"); ok {
		m.Mode = d.mode(p.val, at+".mode")
	}
	m.Recursive = kind.Takes("recursive") // default true where it applies
	if p, ok := f.get("recursive"); ok {
		if b, ok := d.boolean(p.val, at+".recursive"); ok {
			m.Recursive = b
		}
	}
	return m, true
}

// subpath is a bind's subpath: relative, with no "..", as Kubernetes'
// subPath.
func (d *decoder) subpath(n *yaml.Node, at string) (string, bool) {
	s, ok := d.str(n, at)
	if !ok {
		return "", false
	}
	if s == "" || strings.HasPrefix(s, "/") || slices.Contains(strings.Split(s, "/"), "..") {
		d.errorf(n, at, "must be a relative path below source, without ..: %s", quote(s))
		return "", false
	}
	return filepath.Clean(s), true
}

func (d *decoder) mountOptions(n *yaml.Node, at string) []string {
	if !d.isList(n, at) {
		return nil
	}
	out := []string{}
	for i, item := range n.Content {
		ip := index(at, i)
		s, ok := d.str(item, ip)
		switch {
		case !ok:
		case !slices.Contains(MountOptions, s):
			d.report(pos(item), ip, unknownMsg("mount option", s, MountOptions))
		case slices.Contains(out, s):
			d.errorf(item, ip, "duplicate option %s", s)
		case (s == "relatime" && slices.Contains(out, "noatime")) || (s == "noatime" && slices.Contains(out, "relatime")):
			// Both are MS_ flags the kernel takes, but they select two
			// different atime policies: mount(2) would keep one silently.
			d.errorf(item, ip, "relatime and noatime are exclusive")
		case (s == "dev" && slices.Contains(out, "nodev")) || (s == "nodev" && slices.Contains(out, "dev")):
			d.errorf(item, ip, "dev and nodev are exclusive")
		default:
			out = append(out, s)
		}
	}
	return out
}

// size accepts a string such as "16M" or a plain integer of bytes.
func (d *decoder) size(n *yaml.Node, at string) (string, int64) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		v, ok := d.integer(n, at)
		if !ok {
			return "", 0
		}
		if v <= 0 {
			d.errorf(n, at, "must be greater than 0, got %d", v)
			return "", 0
		}
		return strconv.FormatInt(v, 10), v
	}
	s, ok := d.str(n, at)
	if !ok {
		return "", 0
	}
	v, msg := parseSize(s)
	if msg != "" {
		d.report(pos(n), at, msg)
		return "", 0
	}
	return s, v
}

// mode accepts only a string: unquoted, 1777 is the decimal integer 1777
// and 0755 is 493, so no integer can be trusted to mean what was meant.
func (d *decoder) mode(n *yaml.Node, at string) string {
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float") {
		d.errorf(n, at, "mode must be a quoted octal string such as \"1777\"")
		return ""
	}
	s, ok := d.str(n, at)
	if !ok {
		return ""
	}
	if msg := modeMsg(s); msg != "" {
		d.report(pos(n), at, msg)
		return ""
	}
	return s
}

// volumeRef is a volume mount's source, checked once the top-level
// volumes are read.
type volumeRef struct {
	name string
	n    *yaml.Node
	at   string
}

// volumes decodes the top-level volumes: name → nothing, or {mode,
// owner}.
func (d *decoder) volumes(n *yaml.Node, s *Spec) {
	ps, ok := d.pairs(n, "volumes")
	if !ok {
		return
	}
	for _, p := range ps {
		at := keyPath("volumes", p.name)
		if !ValidName(p.name) {
			d.errorf(p.key, at, "invalid volume name %s: 1 to 63 of a-z, 0-9 and -, beginning and ending with a letter or digit", quote(p.name))
			continue
		}
		v := &Volume{Name: p.name, Pos: pos(p.key), Mode: "0755"}
		s.Volumes = append(s.Volumes, v)
		if p.val.Kind == yaml.ScalarNode && p.val.ShortTag() == "!!null" {
			continue // data: (nothing): the defaults
		}
		f, ok := d.fields(p.val, at, "mode", "owner")
		if !ok {
			continue
		}
		if q, ok := f.get("mode"); ok {
			if m := d.mode(q.val, at+".mode"); m != "" {
				v.Mode = m
			}
		}
		if q, ok := f.get("owner"); ok {
			v.Owner = d.user(q.val, at+".owner")
		}
	}
}

// checkVolumeRefs says which volume mounts name no volume of the spec.
func (d *decoder) checkVolumeRefs(s *Spec) {
	var names []string
	for _, v := range s.Volumes {
		names = append(names, v.Name)
	}
	for _, r := range d.volumeRefs {
		if s.Volume(r.name) == nil {
			if len(names) == 0 {
				d.errorf(r.n, r.at, "no volume %s: declare it in the top-level volumes (volumes: {%s: {}})", quote(r.name), r.name)
			} else {
				d.report(pos(r.n), r.at, unknownMsg("volume", r.name, names))
			}
		}
	}
}

// SourceAt is where m's source is written, or m itself for a mount
// without one written (rootfs.host's).
func (m *Mount) SourceAt() Pos {
	if m.SourcePos.Line == 0 {
		return m.Pos
	}
	return m.SourcePos
}
