package spec

// Parse: the file read, checked as text, parsed as one YAML document whose tree is checked, then decoded from its top level.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/nsup/nsup/internal/regfile"
	"golang.org/x/sys/unix"
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
	return ParseVars(path, CallerVars())
}

// ParseVars is Parse with the variables of vars (Parse: the caller's
// environment and the .env beside the spec).
func ParseVars(path string, vars Vars) (*Spec, error) {
	data, dir, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseBytesVars(path, dir, data, vars)
}

// ReadFile reads the spec at path as Parse does (readSpec), and says its
// folder (absolute), against which its relative paths are
// resolved.
func ReadFile(path string) ([]byte, string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, "", err
	}
	dir := filepath.Dir(abs)
	// A regular file only (regfile): a spec in a repository that is a
	// FIFO would block nsup, one that is a symlink to a device would have
	// root open the device. A link is followed within the spec's folder
	// only: a repository's nsup.yaml that is a link to /etc/shadow or
	// ~/.git-credentials had its lines printed by nsup plan as errors
	// (unknown key "root:$6$...", got string "https://user:token@...").
	f, err := regfile.OpenIn(dir, filepath.Base(abs))
	if errors.Is(err, unix.EXDEV) {
		return nil, "", fmt.Errorf("%s: refused: a symlink that leads out of the spec's folder %s (its lines would show in nsup's errors, whatever file it is): name the file it leads to", path, dir)
	}
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	// Its size is a hint (it may change): the bytes are read into one
	// buffer, not one grown as they come.
	var size int64
	if st, err := f.Stat(); err == nil {
		size = min(st.Size(), MaxSize+1)
	}
	b, err := readSpec(f, size)
	return b, dir, err
}

// parseReader parses what readSpec reads of r.
func parseReader(name, dir string, r io.Reader, size int64, vars Vars) (*Spec, error) {
	b, err := readSpec(r, size)
	if err != nil {
		return nil, err
	}
	return ParseBytesVars(name, dir, b, vars)
}

// readSpec reads at most MaxSize+1 bytes of r (about size, if known):
// one more than allowed is enough to know that the input is too large.
func readSpec(r io.Reader, size int64) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(int(size) + bytes.MinRead)
	if _, err := b.ReadFrom(io.LimitReader(r, MaxSize+1)); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Digest is "sha256:HEX" of b, as a Spec's Digest and EnvDigest are.
func Digest(b []byte) string { return digestOf(b) }

// ParseBytes validates the spec data. name is the file name used in errors
// and in Spec.File; dir is the absolute folder against which relative paths
// are resolved (Parse passes the folder of the file). ParseBytes touches no
// host state: it neither reads dir nor checks that any path exists.
//
// An invalid spec gives a nil *Spec and an Errors listing every problem,
// sorted by position.
func ParseBytes(name, dir string, data []byte) (*Spec, error) {
	return ParseBytesVars(name, dir, data, Vars{Lookup: os.LookupEnv})
}

// ParseBytesVars is ParseBytes with the variables of vars (ParseBytes: the
// caller's environment; no .env file).
func ParseBytesVars(name, dir string, data []byte, vars Vars) (*Spec, error) {
	s, err := ParseBytesVarsReadable(name, dir, data, vars)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// digestOf is "sha256:HEX" of b: a spec's Digest, an env file's.
func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// decoder walks the yaml.Node tree by hand, so that every value keeps its
// line and column, and collects every error instead of stopping at the
// first one.
type decoder struct {
	file string
	dir  string
	errs Errors
	// vars are where variables come from.
	vars Vars
	// uses are the variable references resolved, in file order; subst
	// the scalars they changed; envFile the .env file read, if any.
	uses      []VarUse
	subst     map[*yaml.Node]bool
	envFile   string
	envDigest string
	// volumeRefs are the volume mounts' sources, checked once the
	// top-level volumes are read.
	volumeRefs []volumeRef
	// envs records what validate needs beyond the Spec itself.
	envs []*envState
	// unresolved are the values whose ${...} could not be resolved, and
	// blamed the field each of their errors is about (interpfailed.go).
	unresolved []*yaml.Node
	blamed     map[*Error]string
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
	keys fieldSet
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
	if !d.interpolate(doc, data) {
		return nil
	}
	interpolated := len(d.errs)
	s := &Spec{File: d.file, Dir: d.dir, Digest: digestOf(data)}
	top := doc.Content[0]
	if top.Kind == yaml.ScalarNode && top.ShortTag() == "!!null" {
		d.report(Pos{1, 1}, "", "the file is empty: expected version and environments")
		return nil
	}
	d.top(top, s)
	d.checkVolumeRefs(s)
	d.validate()
	d.unechoed(doc, interpolated)
	s.Vars, s.EnvFile, s.EnvDigest = d.uses, d.envFile, d.envDigest
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

func (d *decoder) top(n *yaml.Node, s *Spec) {
	if n.Kind != yaml.MappingNode {
		if n.Kind != yaml.AliasNode {
			d.errorf(n, "", "the top level must be a mapping with version and environments, got %s", describe(n))
		}
		return
	}
	h := envHint(mappingValue(n, "environments"))
	f, _ := d.fieldsOr(n, "", func(name string, near bool) string { return elsewhere(levelTop, name, near, h) }, topKeys...)
	d.require(f, n, "", "version", "environments")
	if p, ok := f.get("volumes"); ok {
		d.volumes(p.val, s)
	}
	if p, ok := f.get("name"); ok {
		if v, ok := d.str(p.val, "name"); ok {
			if ValidName(v) {
				s.Name, s.NamePos = v, pos(p.val)
			} else {
				d.errorf(p.val, "name", "invalid project name %s: 1 to 63 of a-z, 0-9 and -, beginning and ending with a letter or digit", quote(v))
			}
		}
	}
	if p, ok := f.get("version"); ok {
		if v, ok := d.integer(p.val, "version"); ok {
			if v == 1 {
				s.Version = 1
			} else {
				d.errorf(p.val, "version", "must be 1, got %d", v)
			}
		}
	}
	if p, ok := f.get("environments"); ok {
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
	h := envHint(n)
	for _, p := range ps {
		ep := keyPath(at, p.name)
		if d.misplacedEnv(p, ep, h) {
			continue
		}
		if !isEnvName(p.name) {
			d.errorf(p.key, ep, "invalid environment name %s: must match %s", quote(p.name), envNamePattern)
		}
		s.Environments = append(s.Environments, d.environment(p, ep))
	}
}
