package spec

// The node tree's values: typed scalars, checked strings and paths, durations; mappings as pairs and fields; the field paths of errors.

import (
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// describe names what a node is, for "must be X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	switch tag := n.ShortTag(); tag {
	case "!!null":
		return "null"
	case "!!str":
		return "string " + quote(n.Value)
	case "!!int":
		return "integer " + plain(n.Value)
	case "!!float":
		return "float " + plain(n.Value)
	case "!!bool":
		return "boolean " + plain(n.Value)
	case "!!timestamp":
		return "timestamp " + plain(n.Value)
	default:
		return "a value tagged " + quote(tag)
	}
}

// plain prints a scalar as written when that is safe on one line, quoted
// otherwise (an explicit tag such as `!!int "a\nb"` can hold anything).
func plain(s string) string {
	if q := quote(s); q != `"`+s+`"` {
		return q
	}
	return s
}

// isMap reports whether n is a mapping, and says so when it is not. Alias
// nodes are skipped silently here and below: checkTree has reported them.
func (d *decoder) isMap(n *yaml.Node, at string) bool {
	if n.Kind == yaml.MappingNode {
		return true
	}
	if n.Kind != yaml.AliasNode {
		d.errorf(n, at, "must be a mapping, got %s", describe(n))
	}
	return false
}

func (d *decoder) isList(n *yaml.Node, at string) bool {
	if n.Kind == yaml.SequenceNode {
		return true
	}
	if n.Kind != yaml.AliasNode {
		d.errorf(n, at, "must be a list, got %s", describe(n))
	}
	return false
}

// str returns a string value. Only YAML strings are accepted: `8080` is an
// integer and `true` a boolean, and taking them as text would let `0755`
// quietly become "493". The message says to quote such a value. A NUL can
// still arrive through an escape ("\0"), and no string of a spec can pass
// one to the kernel, so it is refused here for all of them.
func (d *decoder) str(n *yaml.Node, at string) (string, bool) {
	switch {
	case n.Kind == yaml.AliasNode:
		return "", false
	case n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!str" || d.subst[n]):
		// A value from a variable is a string where a string is wanted,
		// whatever it looks like (PORT=8080, or PORT= for "").
		if strings.ContainsRune(n.Value, 0) {
			d.errorf(n, at, "must not contain a NUL byte")
			return "", false
		}
		return n.Value, true
	case n.Kind == yaml.ScalarNode && n.ShortTag() != "!!null":
		d.errorf(n, at, "must be a string, got %s (quote it: %s)", describe(n), quote(n.Value))
	default:
		d.errorf(n, at, "must be a string, got %s", describe(n))
	}
	return "", false
}

// boolean accepts only YAML booleans (true, false): "yes" and "on" are
// strings in YAML 1.2, and a quoted "true" is a string too.
func (d *decoder) boolean(n *yaml.Node, at string) (bool, bool) {
	if n.Kind == yaml.AliasNode {
		return false, false
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		if v, err := strconv.ParseBool(n.Value); err == nil {
			return v, true
		}
	}
	d.errorf(n, at, "must be true or false, got %s", describe(n))
	return false, false
}

// integer accepts only YAML integers (not "1", not 1.0).
func (d *decoder) integer(n *yaml.Node, at string) (int64, bool) {
	if n.Kind == yaml.AliasNode {
		return 0, false
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		d.errorf(n, at, "must be an integer, got %s", describe(n))
		return 0, false
	}
	// The YAML library knows every spelling of an integer (0x1f, 0o17,
	// 1_000); a scalar node decodes without touching any other node.
	var v int64
	if err := n.Decode(&v); err != nil {
		d.errorf(n, at, "integer %s is out of range", plain(n.Value))
		return 0, false
	}
	return v, true
}

// pair is one key and value of a mapping.
type pair struct {
	name     string
	key, val *yaml.Node
}

// pairs returns the entries of mapping n in the order written, reporting
// keys that are not scalars and duplicate keys (YAML forbids them; yaml.v3
// checks them only when decoding into Go maps, not into nodes). The second
// of two duplicates is dropped.
func (d *decoder) pairs(n *yaml.Node, at string) ([]pair, bool) {
	if !d.isMap(n, at) {
		return nil, false
	}
	out := make([]pair, 0, len(n.Content)/2)
	// A map of the keys seen only for a large mapping (environments):
	// a usual one has a few keys, which a scan checks faster.
	var seen map[string]*yaml.Node
	if len(n.Content) > 2*smallMapping {
		seen = make(map[string]*yaml.Node, len(n.Content)/2)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Kind == yaml.AliasNode:
			continue
		case k.Kind != yaml.ScalarNode:
			d.errorf(k, at, "keys must be strings, got %s", describe(k))
			continue
		}
		var first *yaml.Node
		if seen != nil {
			first = seen[k.Value]
		} else {
			for _, p := range out {
				if p.name == k.Value {
					first = p.key
					break
				}
			}
		}
		if first != nil {
			d.errorf(k, keyPath(at, k.Value), "duplicate key %s (first at line %d)", quote(k.Value), first.Line)
			continue
		}
		if seen != nil {
			seen[k.Value] = k
		}
		out = append(out, pair{name: k.Value, key: k, val: v})
	}
	return out, true
}

// smallMapping is the most keys pairs checks for duplicates by a scan.
const smallMapping = 16

// fields returns the entries of mapping n by key, reporting every key not
// in allowed with the nearest allowed one.
func (d *decoder) fields(n *yaml.Node, at string, allowed ...string) (fieldSet, bool) {
	return d.fieldsOr(n, at, nil, allowed...)
}

// fieldsOr is fields for a mapping whose unknown keys may belong to
// another level: other(name, near) is the message for such a key ("" for
// none), near allowing a likely typo of one. A key of another level
// spelt exactly is said so first (a process's `name` under an environment
// is not a typo of `time`); a typo of a key of this mapping comes next.
func (d *decoder) fieldsOr(n *yaml.Node, at string, other func(name string, near bool) string, allowed ...string) (fieldSet, bool) {
	ps, ok := d.pairs(n, at)
	if !ok {
		return nil, false
	}
	f := ps[:0]
	for _, p := range ps {
		if !slices.Contains(allowed, p.name) {
			msg := ""
			if other != nil {
				if msg = other(p.name, false); msg == "" && suggest(p.name, allowed) == "" {
					msg = other(p.name, true)
				}
			}
			if msg == "" {
				msg = unknownMsg("key", p.name, allowed)
			}
			d.report(pos(p.key), keyPath(at, p.name), msg)
			continue
		}
		f = append(f, p)
	}
	return f, true
}

// A fieldSet is a mapping's entries of allowed keys, each once (fields):
// a few, looked up by a scan, which costs less than a map's making.
type fieldSet []pair

// get returns the entry of key.
func (f fieldSet) get(key string) (pair, bool) {
	for _, p := range f {
		if p.name == key {
			return p, true
		}
	}
	return pair{}, false
}

// del removes the entry of key.
func (f *fieldSet) del(key string) {
	*f = slices.DeleteFunc(*f, func(p pair) bool { return p.name == key })
}

// require reports each of keys missing from f, at anchor: the mapping's
// own key when it has one (environments.web), else the mapping.
func (d *decoder) require(f fieldSet, anchor *yaml.Node, at string, keys ...string) {
	for _, k := range keys {
		if _, ok := f.get(k); !ok {
			d.errorf(anchor, at, "missing required key %q", k)
		}
	}
}

// simpleKey reports whether a key reads well in a dotted path.
func simpleKey(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '_' || c == '-') {
			return false
		}
	}
	return s != ""
}

// keyPath appends key to the field path at: environments.web, or
// env["A B"] for a key that would make the path ambiguous or span lines.
func keyPath(at, key string) string {
	if !simpleKey(key) {
		return at + "[" + quote(key) + "]"
	}
	if at == "" {
		return key
	}
	return at + "." + key
}

func index(at string, i int) string { return at + "[" + strconv.Itoa(i) + "]" }

// checked returns the string at n if rule (which returns "" for a good
// value, or the message) accepts it.
func (d *decoder) checked(n *yaml.Node, at string, rule func(string) string) *String {
	s, ok := d.str(n, at)
	if !ok {
		return nil
	}
	if msg := rule(s); msg != "" {
		d.report(pos(n), at, msg)
		return nil
	}
	return &String{Value: s, Pos: pos(n)}
}

// absPath returns an absolute path inside the environment, cleaned
// (path.Clean, so "/srv/" and "/srv/./x/.." are "/srv"), if rule accepts it.
func (d *decoder) absPath(n *yaml.Node, at string, rule func(string) string) *String {
	s := d.checked(n, at, rule)
	if s != nil {
		s.Value = path.Clean(s.Value)
	}
	return s
}

// hostPath returns a host path, resolved against the spec's folder when
// relative: a spec means the same wherever nsup is run from.
func (d *decoder) hostPath(n *yaml.Node, at string) (string, bool) {
	s, ok := d.str(n, at)
	if !ok {
		return "", false
	}
	if s == "" {
		d.errorf(n, at, "must not be empty")
		return "", false
	}
	if s, ok = d.home(n, at, s); !ok {
		return "", false
	}
	if filepath.IsAbs(s) {
		return filepath.Clean(s), true
	}
	return filepath.Join(d.dir, s), true
}

func (d *decoder) duration(n *yaml.Node, at string) time.Duration {
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float") && !d.subst[n] {
		// A bare number has no unit: quoting it (str's hint) gives an
		// invalid duration next (helper-151's trial: stop_timeout: 10,
		// told to write "10", was then refused).
		d.errorf(n, at, "must be a duration with its unit, got %s: write %ss (or %sm, %sh)", describe(n), n.Value, n.Value, n.Value)
		return 0
	}
	s, ok := d.str(n, at)
	if !ok {
		return 0
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.errorf(n, at, "invalid duration %s: use Go syntax such as 90s, 36h or -1h30m", quote(s))
		return 0
	}
	return v
}
