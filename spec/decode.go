package spec

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// MaxSize is the largest spec accepted, in bytes. A spec is a short
// hand-written file; the limit keeps a hostile or mistaken input (a disk
// image passed by accident, /dev/zero) from costing unbounded memory.
const MaxSize = 1 << 20

// maxDepth bounds the nesting of the YAML tree. A real spec is about ten
// levels deep (a process tree adds two per generation); the limit keeps
// every recursive walk of this package shallow whatever the input.
const maxDepth = 64

// Parse reads and validates the spec at path. The file name in errors and
// in Spec.File is path as given; relative paths in the spec are resolved
// against the absolute folder of path. A file larger than MaxSize is refused
// without being read further.
//
// An invalid spec gives a nil *Spec and an Errors listing every problem; a
// file that cannot be opened or read gives the error of package os.
func Parse(path string) (*Spec, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseReader(path, filepath.Dir(abs), f)
}

// parseReader reads at most MaxSize+1 bytes of r: one more than allowed is
// enough to know that the input is too large.
func parseReader(name, dir string, r io.Reader) (*Spec, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, err
	}
	return ParseBytes(name, dir, data)
}

// ParseBytes validates the spec data. name is the file name used in errors
// and in Spec.File; dir is the absolute folder against which relative paths
// are resolved (Parse passes the folder of the file). ParseBytes touches no
// host state: it neither reads dir nor checks that any path exists.
//
// An invalid spec gives a nil *Spec and an Errors listing every problem,
// sorted by position.
func ParseBytes(name, dir string, data []byte) (*Spec, error) {
	d := &decoder{file: name, dir: dir}
	s := d.parse(data)
	if len(d.errs) > 0 {
		return nil, d.errs.Sorted()
	}
	return s, nil
}

// decoder walks the yaml.Node tree by hand, so that every value keeps its
// line and column, and collects every error instead of stopping at the
// first one.
type decoder struct {
	file string
	dir  string
	errs Errors
	// envs records what validate needs beyond the Spec itself.
	envs []*envState
}

// envState is what the cross-field rules of validate need to know about
// an environment besides its decoded value.
type envState struct {
	env  *Environment
	path string // environments.NAME
	// nsOK and joinOK are set when `namespaces` (present) and `join`
	// (present or not) decoded without error. The rules that depend on
	// them (hostname needs uts, …) run only then: a typo such as "utss"
	// is one error, not also "hostname needs a new uts namespace".
	nsOK, joinOK bool
	// keys holds the keys present, so that a rule about a key can point
	// at it rather than at its value (which may be lines below).
	keys map[string]pair
}

func pos(n *yaml.Node) Pos { return Pos{Line: n.Line, Col: n.Column} }

func (d *decoder) report(p Pos, at, msg string) {
	d.errs = append(d.errs, &Error{File: d.file, Pos: p, Path: at, Msg: msg})
}

func (d *decoder) errorf(n *yaml.Node, at, format string, args ...any) {
	d.report(pos(n), at, fmt.Sprintf(format, args...))
}

// parse runs the stages in order; each stage that fails leaves nothing
// sensible for the next one, so it stops there.
func (d *decoder) parse(data []byte) *Spec {
	if len(data) > MaxSize {
		d.report(Pos{1, 1}, "", fmt.Sprintf("the file is larger than %d bytes (1 MiB)", MaxSize))
		return nil
	}
	if !d.checkText(data) {
		return nil
	}
	doc := d.document(data)
	if doc == nil {
		return nil
	}
	var aliases []*yaml.Node
	if !d.checkTree(doc, 0, &aliases) {
		return nil
	}
	if len(aliases) > 0 {
		// One error for all of them: a billion-laughs file has dozens,
		// and the remedy is the same for each.
		more := ""
		if n := len(aliases) - 1; n > 0 {
			more = fmt.Sprintf(", and %d more", n)
		}
		d.errorf(aliases[0], "", "aliases are not allowed (*%s%s): write each value out in full", aliases[0].Value, more)
	}
	sum := sha256.Sum256(data)
	s := &Spec{File: d.file, Dir: d.dir, Digest: "sha256:" + hex.EncodeToString(sum[:])}
	top := doc.Content[0]
	if top.Kind == yaml.ScalarNode && top.ShortTag() == "!!null" {
		d.report(Pos{1, 1}, "", "the file is empty: expected version and environments")
		return nil
	}
	d.top(top, s)
	d.validate()
	return s
}

// checkText refuses what YAML cannot hold, with the position of the first
// offending character: yaml.v3 reports these without a line ("control
// characters are not allowed"), and a spec is UTF-8 text. A NUL byte gets
// its own message since it is the usual sign of a binary file.
func (d *decoder) checkText(data []byte) bool {
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		at := Pos{line, col}
		switch {
		case r == utf8.RuneError && size == 1:
			d.report(at, "", fmt.Sprintf("invalid UTF-8 (byte 0x%02x): a spec must be UTF-8 text", data[i]))
			return false
		case r == 0:
			d.report(at, "", "NUL byte is not allowed: a spec must be text")
			return false
		case !yamlPrintable(r):
			d.report(at, "", fmt.Sprintf("character U+%04X is not allowed: YAML forbids control characters", r))
			return false
		}
		i += size
		switch {
		case r == '\n', r == '\r' && (i >= len(data) || data[i] != '\n'):
			line, col = line+1, 1
		case r == 0xFEFF && i == size:
			// A byte order mark opening the file is not a column.
		default:
			col++
		}
	}
	return true
}

// yamlPrintable is the character set yaml.v3's reader accepts (YAML 1.2
// §5.1: c-printable).
func yamlPrintable(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		(r >= 0x20 && r <= 0x7E) || r == 0x85 ||
		(r >= 0xA0 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) ||
		(r >= 0x10000 && r <= 0x10FFFF)
}

// document parses data into a node tree and returns its document node, or
// nil when there is none. A second document is refused: `---` followed by
// more YAML is almost always two specs pasted together by mistake, and
// silently ignoring the second would hide it.
func (d *decoder) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := decodeNode(dec, &doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.report(Pos{1, 1}, "", "the file is empty: expected version and environments")
		} else {
			d.syntaxError(data, err)
		}
		return nil
	}
	var next yaml.Node
	switch err := decodeNode(dec, &next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.syntaxError(data, err)
	default:
		d.errorf(&next, "", "only one YAML document is allowed")
	}
	if len(doc.Content) != 1 {
		return nil // never seen from yaml.v3; guards the index below
	}
	return &doc
}

// decodeNode decodes into a yaml.Node, which keeps aliases as references
// (never expanded) and positions. It turns a panic of the YAML library into
// an error: the parser is not ours, and a spec must never crash nsup.
func decodeNode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: internal error: %v", r)
		}
	}()
	return dec.Decode(n)
}

// yamlErrLine matches yaml.v3's syntax errors, which give a line (or
// nothing, for line 1) but no column.
var yamlErrLine = lazyRegexp(`(?s)^yaml: line (\d+): (.*)$`)

// parserMessages are the errors of yaml.v3's parser (parserc.go), as
// opposed to its scanner. For these yaml.v3 prints the 0-based line of the
// construct being parsed (a flow mapping's "{", a block mapping's first
// key), where for scanner errors it prints the 1-based line of the problem.
var parserMessages = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"found undefined tag handle":             true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found duplicate %TAG directive":         true,
}

// blockMessages are the parser errors of a block collection, the usual
// result of a wrong indentation: the construct's first line is often far
// above the offending one, which problemLine finds.
var blockMessages = map[string]bool{
	"did not find expected key":           true,
	"did not find expected '-' indicator": true,
}

// yamlMessage splits a yaml.v3 error into its line (0 when it gives none)
// and its message.
func yamlMessage(err error) (int, string) {
	msg, line := err.Error(), 0
	if m := yamlErrLine().FindStringSubmatch(msg); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil && n > 0 {
			line = n
		}
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	// One error per line, whatever the library says.
	return line, strings.Join(strings.Fields(msg), " ")
}

func (d *decoder) syntaxError(data []byte, err error) {
	line, msg := yamlMessage(err)
	switch {
	case parserMessages[msg]:
		line++
	case line == 0:
		line = 1
	}
	p := Pos{line, 1}
	if blockMessages[msg] {
		p.Line = problemLine(data, line, msg)
	}
	if m := unknownAnchor().FindStringSubmatch(msg); m != nil {
		p = aliasPos(data, m[1], p)
	}
	d.report(p, "", "yaml: "+msg)
}

// unknownAnchor matches yaml.v3's error for an alias to no anchor, which
// it gives without a line.
var unknownAnchor = lazyRegexp(`^unknown anchor '([0-9A-Za-z_-]+)' referenced$`)

// aliasPos returns the position of the first alias *name in data (an
// anchor name is [0-9A-Za-z_-]+, and an alias starts a token), or def.
func aliasPos(data []byte, name string, def Pos) Pos {
	re := regexp.MustCompile(`(?:^|[\s\[{,])(\*` + regexp.QuoteMeta(name) + `)(?:[^0-9A-Za-z_-]|$)`)
	loc := re.FindSubmatchIndex(data)
	if loc == nil {
		return def
	}
	before := data[:loc[2]]
	line := bytes.Count(before, []byte("\n")) + 1
	col := utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:]) + 1
	return Pos{line, col}
}

// problemBudget bounds the bytes problemLine may parse, so that a large
// file with a syntax error costs a few parses of itself at most.
const problemBudget = 4 * MaxSize

// problemLine finds the line of a block collection's syntax error: the
// first line from which the text up to the end of that line fails with
// the same message. A block collection ends cleanly at the end of the
// input, so the text before the offending line parses. It returns from
// (the construct's first line) when the budget runs out first.
func problemLine(data []byte, from int, msg string) int {
	budget := problemBudget
	line, end := 1, 0
	for end < len(data) {
		nl := bytes.IndexByte(data[end:], '\n')
		if nl < 0 {
			end = len(data)
		} else {
			end += nl + 1
		}
		if line >= from {
			if budget -= end; budget < 0 {
				break
			}
			if err := parseAll(data[:end]); err != nil {
				if _, m := yamlMessage(err); m == msg {
					return line
				}
			}
		}
		line++
	}
	return from
}

// parseAll parses every document of data, for problemLine.
func parseAll(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := decodeNode(dec, &n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// checkTree refuses aliases and bounds the depth, before anything else
// walks the tree. Aliases are refused outright rather than counted: a spec
// has no need for them, each is a place where one edit changes several
// environments unseen, and without them no walk can be made to expand a
// billion-laughs document. It does not follow aliases itself, so its cost
// is linear in the size of the file. It returns false when the tree is too
// deep to walk further; alias errors do not stop the walk (the decoder
// skips alias nodes silently), so the other errors are still reported.
// The aliases found are appended to aliases, in file order.
func (d *decoder) checkTree(n *yaml.Node, depth int, aliases *[]*yaml.Node) bool {
	if depth > maxDepth {
		d.errorf(n, "", "nesting is deeper than %d levels", maxDepth)
		return false
	}
	if n.Kind == yaml.AliasNode {
		*aliases = append(*aliases, n)
		return true
	}
	for _, c := range n.Content {
		if !d.checkTree(c, depth+1, aliases) {
			return false
		}
	}
	return true
}

// --- kinds ------------------------------------------------------------

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
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str":
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

// --- mappings -----------------------------------------------------------

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
func (d *decoder) fields(n *yaml.Node, at string, allowed ...string) (map[string]pair, bool) {
	ps, ok := d.pairs(n, at)
	if !ok {
		return nil, false
	}
	f := make(map[string]pair, len(ps))
	for _, p := range ps {
		if !slices.Contains(allowed, p.name) {
			d.report(pos(p.key), keyPath(at, p.name), unknownMsg("key", p.name, allowed))
			continue
		}
		f[p.name] = p
	}
	return f, true
}

// require reports each of keys missing from f, at anchor: the mapping's
// own key when it has one (environments.web), else the mapping.
func (d *decoder) require(f map[string]pair, anchor *yaml.Node, at string, keys ...string) {
	for _, k := range keys {
		if _, ok := f[k]; !ok {
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

// --- the spec -------------------------------------------------------------

func (d *decoder) top(n *yaml.Node, s *Spec) {
	if n.Kind != yaml.MappingNode {
		if n.Kind != yaml.AliasNode {
			d.errorf(n, "", "the top level must be a mapping with version and environments, got %s", describe(n))
		}
		return
	}
	f, _ := d.fields(n, "", "version", "environments")
	d.require(f, n, "", "version", "environments")
	if p, ok := f["version"]; ok {
		if v, ok := d.integer(p.val, "version"); ok {
			if v == 1 {
				s.Version = 1
			} else {
				d.errorf(p.val, "version", "must be 1, got %d", v)
			}
		}
	}
	if p, ok := f["environments"]; ok {
		d.environments(p.val, s)
	}
}

func (d *decoder) environments(n *yaml.Node, s *Spec) {
	const at = "environments"
	ps, ok := d.pairs(n, at)
	if !ok {
		return
	}
	if len(n.Content) == 0 {
		d.errorf(n, at, "must have at least one environment")
	}
	for _, p := range ps {
		ep := keyPath(at, p.name)
		if !isEnvName(p.name) {
			d.errorf(p.key, ep, "invalid environment name %s: must match %s", quote(p.name), envNamePattern)
		}
		s.Environments = append(s.Environments, d.environment(p, ep))
	}
}

var environmentKeys = []string{"rootfs", "namespaces", "join", "hostname", "domainname", "idmap",
	"mounts", "time", "env", "cwd", "user", "init", "security", "rlimits", "processes"}

func (d *decoder) environment(p pair, at string) *Environment {
	e := &Environment{Name: p.name, Pos: pos(p.key)}
	st := &envState{env: e, path: at, joinOK: true}
	d.envs = append(d.envs, st)
	f, ok := d.fields(p.val, at, environmentKeys...)
	if !ok {
		return e
	}
	st.keys = f
	d.require(f, p.key, at, "rootfs", "namespaces", "processes")
	if v, ok := f["rootfs"]; ok {
		d.rootfs(v.val, at+".rootfs", &e.Rootfs)
	}
	if v, ok := f["namespaces"]; ok {
		e.Namespaces, st.nsOK = d.namespaces(v.val, at+".namespaces")
	}
	if v, ok := f["join"]; ok {
		e.Join, st.joinOK = d.join(v.val, at+".join")
	}
	if v, ok := f["hostname"]; ok {
		e.Hostname = d.checked(v.val, at+".hostname", hostnameMsg)
	}
	if v, ok := f["domainname"]; ok {
		e.Domainname = d.checked(v.val, at+".domainname", domainnameMsg)
	}
	if v, ok := f["idmap"]; ok {
		e.IDMap = d.idmap(v.val, at+".idmap")
	}
	if v, ok := f["mounts"]; ok {
		e.Mounts = d.mounts(v.val, at+".mounts")
	}
	if v, ok := f["time"]; ok {
		e.Time = d.time(v.val, at+".time")
	}
	if v, ok := f["env"]; ok {
		e.Env, e.EnvPos = d.envVars(v.val, at+".env"), pos(v.key)
	}
	if v, ok := f["cwd"]; ok {
		e.Cwd = d.absPath(v.val, at+".cwd", absPathMsg)
	}
	if v, ok := f["user"]; ok {
		e.User = d.user(v.val, at+".user")
	}
	if v, ok := f["init"]; ok {
		if b, ok := d.boolean(v.val, at+".init"); ok {
			e.Init = &Bool{Value: b, Pos: pos(v.val)}
		}
	}
	if v, ok := f["security"]; ok {
		e.Security = d.security(v.val, at+".security")
	}
	if v, ok := f["rlimits"]; ok {
		e.Rlimits = d.rlimits(v.val, at+".rlimits")
	}
	if v, ok := f["processes"]; ok {
		e.ProcessesPos = pos(v.key)
		e.Process = d.processes(v.val, at+".processes", true)
	}
	return e
}

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
	if filepath.IsAbs(s) {
		return filepath.Clean(s), true
	}
	return filepath.Join(d.dir, s), true
}

func (d *decoder) rootfs(n *yaml.Node, at string, r *Rootfs) {
	f, ok := d.fields(n, at, "dir", "tar", "closure", "readonly", "overlay", "dev")
	if !ok {
		return
	}
	r.Pos = pos(n)
	var sources []string
	for _, k := range []string{"dir", "tar", "closure"} {
		if _, ok := f[k]; ok {
			sources = append(sources, k)
		}
	}
	switch len(sources) {
	case 0:
		d.errorf(n, at, "must set one of dir, tar or closure")
	case 1:
	default:
		d.errorf(n, at, "%s are exclusive: set exactly one of dir, tar or closure", strings.Join(sources, " and "))
	}
	if p, ok := f["dir"]; ok {
		if s, ok := d.hostPath(p.val, at+".dir"); ok {
			r.Dir, r.DirPos = s, pos(p.val)
		}
	}
	if p, ok := f["tar"]; ok {
		if s, ok := d.hostPath(p.val, at+".tar"); ok {
			// The suffix is checked on the value as written, which the
			// message quotes, not on the resolved path.
			if msg := tarMsg(p.val.Value); msg != "" {
				d.report(pos(p.val), at+".tar", msg)
			} else {
				r.Tar, r.TarPos = s, pos(p.val)
			}
		}
	}
	if p, ok := f["closure"]; ok && d.isList(p.val, at+".closure") {
		r.ClosurePos = pos(p.val)
		if len(p.val.Content) == 0 {
			d.errorf(p.val, at+".closure", "must have at least one entry")
		}
		r.Closure = []String{}
		for i, item := range p.val.Content {
			if s, ok := d.hostPath(item, index(at+".closure", i)); ok {
				r.Closure = append(r.Closure, String{Value: s, Pos: pos(item)})
			}
		}
	}
	r.Readonly = true
	if p, ok := f["dev"]; ok {
		r.Dev, _ = d.boolean(p.val, at+".dev")
	}
	if p, ok := f["overlay"]; ok {
		r.Overlay, _ = d.boolean(p.val, at+".overlay")
	}
	// An overlay exists to make the root writable, so it changes the
	// default of readonly; asking for both is a contradiction, not a
	// choice between them.
	if r.Overlay {
		r.Readonly = false
	}
	if p, ok := f["readonly"]; ok {
		if b, ok := d.boolean(p.val, at+".readonly"); ok {
			if b && r.Overlay {
				d.errorf(p.val, at+".readonly", "cannot be true with overlay: true (the overlay makes the root writable)")
			}
			r.Readonly = b
		}
	}
}

func (d *decoder) namespaces(n *yaml.Node, at string) ([]Namespace, bool) {
	if !d.isList(n, at) {
		return nil, false
	}
	out, ok := []Namespace{}, true
	seen := map[string]bool{}
	for i, item := range n.Content {
		ip := index(at, i)
		s, good := d.str(item, ip)
		switch {
		case !good:
			ok = false
		case !slices.Contains(NamespaceTypes, s):
			d.report(pos(item), ip, unknownMsg("namespace type", s, NamespaceTypes))
			ok = false
		case seen[s]:
			d.errorf(item, ip, "duplicate namespace %s", s)
		default:
			seen[s] = true
			out = append(out, Namespace{Type: s, Pos: pos(item)})
		}
	}
	return out, ok
}

func (d *decoder) join(n *yaml.Node, at string) ([]Join, bool) {
	ps, ok := d.pairs(n, at)
	if !ok {
		return nil, false
	}
	out := []Join{}
	for _, p := range ps {
		jp := keyPath(at, p.name)
		if !slices.Contains(NamespaceTypes, p.name) {
			d.report(pos(p.key), jp, unknownMsg("namespace type", p.name, NamespaceTypes))
			ok = false
			continue
		}
		ref, good := d.str(p.val, jp)
		if !good {
			ok = false
			continue
		}
		// Whether a name refers to an environment of the file is checked
		// by validate, once every environment is known.
		switch {
		case strings.HasPrefix(ref, "/"):
			ref = path.Clean(ref)
		case !isEnvName(ref):
			d.errorf(p.val, jp, "must be an environment name or an absolute path, got %s", quote(ref))
			ok = false
			continue
		}
		out = append(out, Join{Type: p.name, Ref: ref, Pos: pos(p.val)})
	}
	return out, ok
}

func (d *decoder) idmap(n *yaml.Node, at string) *IDMap {
	f, ok := d.fields(n, at, "uid", "gid")
	if !ok {
		return nil
	}
	m := &IDMap{Pos: pos(n)}
	if p, ok := f["uid"]; ok {
		m.UID = d.idRanges(p.val, at+".uid")
	}
	if p, ok := f["gid"]; ok {
		m.GID = d.idRanges(p.val, at+".gid")
	}
	return m
}

func (d *decoder) idRanges(n *yaml.Node, at string) []IDRange {
	if !d.isList(n, at) {
		return nil
	}
	switch l := len(n.Content); {
	case l == 0:
		// An empty map would leave every id unmapped; to get the default
		// one-line map, leave the key out.
		d.errorf(n, at, "must have at least one entry (leave it out for the default map)")
	case l > maxIDMapLines:
		d.errorf(n, at, "must have at most %d entries, got %d (user_namespaces(7))", maxIDMapLines, l)
	}
	out, complete := []IDRange{}, true
	for i, item := range n.Content {
		r, ok := d.idRange(item, index(at, i))
		if ok {
			out = append(out, r)
		}
		complete = complete && ok
	}
	// Overlaps are looked for only when every entry is good and there are
	// not too many: the comparison is quadratic.
	if complete && len(out) <= maxIDMapLines {
		d.checkOverlaps(out, at)
	}
	return out
}

func (d *decoder) idRange(n *yaml.Node, at string) (IDRange, bool) {
	r := IDRange{Pos: pos(n)}
	f, ok := d.fields(n, at, "inside", "outside", "count")
	if !ok {
		return r, false
	}
	d.require(f, n, at, "inside", "outside", "count")
	var v [3]uint32
	for i, k := range []string{"inside", "outside", "count"} {
		p, found := f[k]
		if !found {
			ok = false
			continue
		}
		x, good := d.integer(p.val, at+"."+k)
		switch {
		case !good:
		case x < 0:
			d.errorf(p.val, at+"."+k, "must not be negative, got %d", x)
			good = false
		case k == "count" && x < 1:
			d.errorf(p.val, at+"."+k, "must be at least 1, got %d", x)
			good = false
		case x > maxID:
			d.errorf(p.val, at+"."+k, "must be at most %d, got %d", uint64(maxID), x)
			good = false
		}
		v[i] = uint32(x)
		ok = ok && good
	}
	if !ok {
		return r, false
	}
	r.Inside, r.Outside, r.Count = v[0], v[1], v[2]
	if msg := idRangeMsg(r); msg != "" {
		d.report(pos(n), at, msg)
		return r, false
	}
	return r, true
}

// mountKeys lists every key of a mount; which ones a type allows is
// checked after, so that a misplaced `size` says "only for tmpfs" rather
// than "unknown key".
var mountKeys = []string{"type", "target", "source", "readonly", "options", "size", "mode", "recursive"}

func (d *decoder) mounts(n *yaml.Node, at string) []Mount {
	if !d.isList(n, at) {
		return nil
	}
	out := []Mount{}
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
	if p, ok := f["type"]; ok {
		if s, ok := d.str(p.val, at+".type"); ok {
			if slices.Contains(MountTypes, s) {
				m.Type = s
			} else {
				d.report(pos(p.val), at+".type", unknownMsg("mount type", s, MountTypes))
			}
		}
	}
	if p, ok := f["target"]; ok {
		if t := d.absPath(p.val, at+".target", targetMsg); t != nil {
			m.Target = t.Value
		}
	}

	// Keys that only some types take. With an unknown or missing type
	// nothing is said about them: the type is the error.
	kind, known := MountKindOf(m.Type)
	for _, k := range mountKeys {
		p, present := f[k]
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
		delete(f, k)
	}
	if m.Type == MountBind {
		if _, ok := f["source"]; !ok {
			d.errorf(n, at, "missing required key \"source\": a bind mount needs a host path")
		}
	}

	if p, ok := f["source"]; ok {
		m.Source, _ = d.hostPath(p.val, at+".source")
	}
	m.Readonly = kind.Readonly
	if p, ok := f["readonly"]; ok {
		if b, ok := d.boolean(p.val, at+".readonly"); ok {
			m.Readonly = b
		}
	}
	if p, ok := f["options"]; ok {
		m.Options = d.mountOptions(p.val, at+".options")
		if i := slices.Index(m.Options, "dev"); i >= 0 && known && !kind.Dev {
			// proc, sysfs, mqueue and devpts hold no device node to allow,
			// and dev's /dev is a tmpfs of its own making.
			d.errorf(p.val, at+".options", "dev is only for bind and tmpfs mounts, not %s", m.Type)
		}
	}
	if p, ok := f["size"]; ok {
		m.Size, m.SizeBytes = d.size(p.val, at+".size")
	}
	if p, ok := f["mode"]; ok {
		m.Mode = d.mode(p.val, at+".mode")
	}
	m.Recursive = kind.Takes("recursive") // default true where it applies
	if p, ok := f["recursive"]; ok {
		if b, ok := d.boolean(p.val, at+".recursive"); ok {
			m.Recursive = b
		}
	}
	return m, true
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

func (d *decoder) time(n *yaml.Node, at string) *Time {
	f, ok := d.fields(n, at, "monotonic", "boottime")
	if !ok {
		return nil
	}
	t := &Time{Pos: pos(n)}
	if p, ok := f["monotonic"]; ok {
		t.Monotonic, t.MonotonicPos = d.duration(p.val, at+".monotonic"), pos(p.val)
	}
	if p, ok := f["boottime"]; ok {
		t.Boottime, t.BoottimePos = d.duration(p.val, at+".boottime"), pos(p.val)
	}
	return t
}

func (d *decoder) duration(n *yaml.Node, at string) time.Duration {
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

// stopTimeout is a process's grace period: a duration, not negative. It
// returns nil when the value is invalid (the error is reported).
func (d *decoder) stopTimeout(n *yaml.Node, at string) *Duration {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		d.duration(n, at) // reports what the value is instead
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	switch {
	case err != nil:
		d.duration(n, at)
		return nil
	case v < 0:
		d.errorf(n, at, "must not be negative, got %s", quote(n.Value))
		return nil
	}
	return &Duration{Value: v, Pos: pos(n)}
}

// envVars returns the variables in the order written; an empty mapping
// gives an empty, non-nil slice (a clean environment without even PATH).
func (d *decoder) envVars(n *yaml.Node, at string) []EnvVar {
	ps, ok := d.pairs(n, at)
	if !ok {
		return nil
	}
	out := []EnvVar{}
	for _, p := range ps {
		vp := keyPath(at, p.name)
		if msg := envNameMsg(p.name); msg != "" {
			d.report(pos(p.key), vp, msg)
			continue
		}
		if v, ok := d.str(p.val, vp); ok {
			out = append(out, EnvVar{Name: p.name, Value: v, Pos: pos(p.key)})
		}
	}
	return out
}

// user accepts "UID", "UID:GID" or a bare integer UID (which YAML reads as
// an integer unless quoted).
func (d *decoder) user(n *yaml.Node, at string) *User {
	switch {
	case n.Kind == yaml.AliasNode:
		return nil
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int":
		v, ok := d.integer(n, at)
		if !ok {
			return nil
		}
		if v < 0 || v > maxID {
			d.errorf(n, at, "uid must be between 0 and %d, got %d", uint64(maxID), v)
			return nil
		}
		return &User{UID: uint32(v), GID: uint32(v), Pos: pos(n)}
	case n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str":
		d.errorf(n, at, "must be \"UID\" or \"UID:GID\" with numeric ids, got %s", describe(n))
		return nil
	}
	u, msg := parseUser(n.Value)
	if msg != "" {
		d.report(pos(n), at, msg)
		return nil
	}
	u.Pos = pos(n)
	return &u
}

// processes decodes a list of processes. Every item yields a *Process, even
// a broken one, so that index i of the result is item i of the YAML list,
// which validate's paths rely on.
func (d *decoder) processes(n *yaml.Node, at string, top bool) []*Process {
	if !d.isList(n, at) {
		return nil
	}
	if top && len(n.Content) == 0 {
		d.errorf(n, at, "must have at least one process")
	}
	out := make([]*Process, 0, len(n.Content))
	for i, item := range n.Content {
		out = append(out, d.process(item, index(at, i)))
	}
	return out
}

func (d *decoder) process(n *yaml.Node, at string) *Process {
	p := &Process{Pos: pos(n)}
	f, ok := d.fields(n, at, "name", "command", "env", "cwd", "user", "stop_timeout", "rlimits", "children")
	if !ok {
		return p
	}
	d.require(f, n, at, "name", "command")
	if v, ok := f["name"]; ok {
		if s, ok := d.str(v.val, at+".name"); ok {
			if s == "" {
				d.errorf(v.val, at+".name", "must not be empty")
			} else {
				p.Name, p.NamePos = s, pos(v.val)
			}
		}
	}
	if v, ok := f["command"]; ok && d.isList(v.val, at+".command") {
		if len(v.val.Content) == 0 {
			d.errorf(v.val, at+".command", "must not be empty: give at least the program to run")
		}
		for i, item := range v.val.Content {
			ip := index(at+".command", i)
			s, ok := d.str(item, ip)
			if ok && i == 0 && s == "" {
				d.errorf(item, ip, "must not be empty: it is the program to run")
			}
			p.Command = append(p.Command, s)
		}
	}
	if v, ok := f["env"]; ok {
		p.Env = d.envVars(v.val, at+".env")
	}
	if v, ok := f["cwd"]; ok {
		p.Cwd = d.absPath(v.val, at+".cwd", absPathMsg)
	}
	if v, ok := f["user"]; ok {
		p.User = d.user(v.val, at+".user")
	}
	if v, ok := f["stop_timeout"]; ok {
		p.StopTimeout = d.stopTimeout(v.val, at+".stop_timeout")
	}
	if v, ok := f["rlimits"]; ok {
		p.Rlimits = d.rlimits(v.val, at+".rlimits")
	}
	if v, ok := f["children"]; ok {
		p.Children = d.processes(v.val, at+".children", false)
	}
	return p
}
