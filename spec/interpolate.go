package spec

// Variables in a spec's values, with compose's rules: ${VAR}, its forms
// with a default, an error or an alternative, $VAR, and $$ for a literal
// $; values from the caller's environment and from a .env file beside the
// spec. They are replaced in the YAML tree's scalar values (never keys)
// after the file is parsed and before anything reads a value, so that
// every later error still points at the original text.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/nsup/nsup/internal/regfile"
	"gopkg.in/yaml.v3"
)

// Vars says where a spec's variables come from.
type Vars struct {
	// Lookup gives a variable of the caller's environment (os.LookupEnv);
	// nil: the caller's environment gives none.
	Lookup func(string) (string, bool)
	// EnvFile is the .env file to read (nsup --env-file): it must exist.
	EnvFile string
	// EnvFileData, if not nil, are EnvFile's bytes, read already: a
	// saved plan's env file, checked against its digest, is parsed from
	// the bytes checked, not read again (another user's file swapped for
	// a link to ~/.git-credentials in between had its lines shown as
	// errors: helper-120's review).
	EnvFileData []byte
	// DotEnv, with no EnvFile, reads the .env beside the spec if there is
	// one.
	DotEnv bool
	// Off leaves every value as written (nsup validate --no-interpolate):
	// no variable is read, $ and ~ are plain characters.
	Off bool
}

// CallerVars are the variables of nsup's caller: its environment, and the
// .env beside the spec.
func CallerVars() Vars { return Vars{Lookup: os.LookupEnv, DotEnv: true} }

// VarUse is one variable reference of the spec, resolved: what the plan
// prints, so that a value that came from somewhere else says where.
type VarUse struct {
	Pos   Pos    // where the reference is written
	Text  string // as written: ${TAG:-dev}, $HOME, ~
	Name  string // the variable: TAG
	Value string // what the reference gave
	// From says where Value came from: "environment", the .env file as
	// FILE:LINE, "default" (the reference's own), or "unset" (empty, as
	// ${VAR:+alt} or ${VAR-} allow).
	From string
}

// Origin of a VarUse's value, for messages: "the environment", "FILE:LINE".
const (
	FromEnvironment = "environment"
	FromDefault     = "default"
	FromUnset       = "unset"
)

// maxExpanded bounds what interpolated values may hold in all (a .env
// value copied by thousands of references costs that much memory).
const maxExpanded = 4 * MaxSize

// maxVarDepth bounds the nesting of references in defaults
// (${A:-${B:-...}}): each level scans the rest of the value again.
const maxVarDepth = 8

// interp is the state of one spec's interpolation.
type interp struct {
	depth  int // of the default being expanded
	d      *decoder
	data   []byte
	lookup func(string) (string, bool)
	file   map[string]dotEnv
	uses   []VarUse
	// subst are the scalars whose value changed: read as strings where a
	// string is wanted, whatever their new value looks like.
	subst map[*yaml.Node]bool
	cur   cursor // pos's
	// size is what the values interpolated so far hold, bounded by
	// maxExpanded; fatal once that is over (nothing is read on then).
	size  int
	fatal bool
	// steps are the field path to the value walked (fieldPath).
	steps []step
}

func isVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// get is a variable: the caller's environment first, then the .env file
// (compose's order).
func (in *interp) get(name string) (value, from string, ok bool) {
	if in.lookup != nil {
		if v, ok := in.lookup(name); ok {
			return v, FromEnvironment, true
		}
	}
	if e, ok := in.file[name]; ok {
		return e.value, e.at, true
	}
	return "", "", false
}

// walk interpolates every scalar value below n (mapping keys are left as
// written).
func (in *interp) walk(n *yaml.Node) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			in.walk(c)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			in.steps = append(in.steps, step{idx: i})
			in.walk(c)
			in.steps = in.steps[:len(in.steps)-1]
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			in.steps = append(in.steps, step{key: n.Content[i-1].Value})
			in.walk(n.Content[i])
			in.steps = in.steps[:len(in.steps)-1]
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") {
			return
		}
		before := len(in.d.errs)
		v, ok := in.expand(n, n.Value, 0)
		if !ok {
			in.failed(n, before)
		}
		if !ok || v == n.Value {
			return
		}
		if in.size += len(v); in.size > maxExpanded {
			if in.size-len(v) <= maxExpanded {
				in.d.errorf(n, "", "the variables' values make the spec's values larger than %d MiB", maxExpanded>>20)
			}
			in.fatal = true
			return
		}
		n.Value = v
		in.subst[n] = true
		// Typed by its new text, quoted or not ("${PIDS:-64}" is a number
		// where one is wanted, as compose casts by its schema), unless
		// given a tag; a string where a string is wanted (decoder.str).
		if n.Style&yaml.TaggedStyle == 0 {
			n.Tag = ""
			n.Style &^= yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle | yaml.LiteralStyle | yaml.FoldedStyle
		}
	}
}

// expand replaces the references of s, the text of n from byte offset
// base of its value. It reports each error at the reference and returns
// false after any.
func (in *interp) expand(n *yaml.Node, s string, base int) (string, bool) {
	var b strings.Builder
	ok := true
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '$')
		if j < 0 {
			b.WriteString(s[i:])
			break
		}
		b.WriteString(s[i : i+j])
		i += j
		rest := s[i+1:]
		if strings.HasPrefix(rest, "$") {
			b.WriteByte('$')
			i += 2
			continue
		}
		at := in.pos(n, base+i)
		switch {
		case strings.HasPrefix(rest, "{"):
			end := closingBrace(rest)
			if end < 0 {
				in.d.report(at, "", fmt.Sprintf("%s: unclosed ${: end the reference with }, or write $$ for a literal $", quote(clip(s[i:]))))
				return "", false
			}
			text := s[i : i+2+end] // ${...}
			v, good := in.braced(n, text, base+i, at)
			if !good {
				ok = false
			}
			b.WriteString(v)
			i += len(text)
			if in.size+b.Len() > maxExpanded {
				in.d.report(at, "", fmt.Sprintf("the variables' values make the spec's values larger than %d MiB", maxExpanded>>20))
				in.fatal = true
				return "", false
			}
		default:
			k := 0
			for k < len(rest) && (rest[k] == '_' || rest[k] >= 'a' && rest[k] <= 'z' || rest[k] >= 'A' && rest[k] <= 'Z' || k > 0 && rest[k] >= '0' && rest[k] <= '9') {
				k++
			}
			if k == 0 {
				in.d.report(at, "", fmt.Sprintf("%s: a $ that starts no variable: write $$ for a literal $ (a shell's $(cmd) or $1 is $$(cmd) or $$1 in a spec)", quote(clip(s[i:]))))
				return "", false
			}
			name := rest[:k]
			v, from, set := in.get(name)
			if !set {
				in.d.report(at, "", unsetMsg(name))
				ok = false
			}
			in.uses = append(in.uses, VarUse{Pos: at, Text: "$" + name, Name: name, Value: v, From: from})
			b.WriteString(v)
			i += 1 + k
			if in.size+b.Len() > maxExpanded {
				in.d.report(at, "", fmt.Sprintf("the variables' values make the spec's values larger than %d MiB", maxExpanded>>20))
				in.fatal = true
				return "", false
			}
		}
	}
	return b.String(), ok
}

// closingBrace is the index in s (which starts with "{") of the brace that
// closes it, counting nested ${...}; -1 if none.
func closingBrace(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// braced resolves one ${...} reference, text, at offset off of n's value.
func (in *interp) braced(n *yaml.Node, text string, off int, at Pos) (string, bool) {
	body := text[2 : len(text)-1]
	k := 0
	for k < len(body) && (body[k] == '_' || body[k] >= 'a' && body[k] <= 'z' || body[k] >= 'A' && body[k] <= 'Z' || k > 0 && body[k] >= '0' && body[k] <= '9') {
		k++
	}
	name, op := body[:k], body[k:]
	if name == "" {
		in.d.report(at, "", fmt.Sprintf("%s: not a variable reference: ${NAME}, ${NAME:-default} or ${NAME:?message}, NAME of letters, digits and _ (write $$ for a literal $)", quote(text)))
		return "", false
	}
	v, from, set := in.get(name)
	use := VarUse{Pos: at, Text: text, Name: name}
	// The operator's word, itself interpolated (compose allows
	// ${A:-${B}}), from its offset in the value.
	word := func(w int) (string, bool) {
		if in.depth >= maxVarDepth {
			in.d.report(at, "", fmt.Sprintf("%s: references nested deeper than %d", quote(clip(text)), maxVarDepth))
			return "", false
		}
		in.depth++
		defer func() { in.depth-- }()
		return in.expand(n, op[w:], off+2+k+w)
	}
	result, ok := v, true
	switch {
	case op == "":
		if !set {
			in.d.report(at, "", unsetMsg(name))
			ok = false
		}
	case strings.HasPrefix(op, ":-"), strings.HasPrefix(op, "-"):
		w := 1
		if op[0] == ':' {
			w = 2
		}
		if !set || (w == 2 && v == "") {
			result, ok = word(w)
			from = FromDefault
		}
	case strings.HasPrefix(op, ":?"), strings.HasPrefix(op, "?"):
		w := 1
		if op[0] == ':' {
			w = 2
		}
		if !set || (w == 2 && v == "") {
			msg, _ := word(w)
			if msg == "" {
				msg = "required"
			}
			what := "is not set"
			if set {
				what = "is empty"
			}
			in.d.report(at, "", fmt.Sprintf("%s %s: %s", name, what, msg))
			ok = false
		}
	case strings.HasPrefix(op, ":+"), strings.HasPrefix(op, "+"):
		w := 1
		if op[0] == ':' {
			w = 2
		}
		if set && (w == 1 || v != "") {
			result, ok = word(w)
			from = FromDefault
		} else {
			result, from = "", FromUnset
		}
	default:
		in.d.report(at, "", fmt.Sprintf("%s: unknown form after %s: use ${%s}, ${%s:-default}, ${%s-default}, ${%s:?message}, ${%s?message}, ${%s:+alternative} or ${%s+alternative}", quote(text), name, name, name, name, name, name, name, name))
		return "", false
	}
	if from == "" {
		from = FromUnset
	}
	use.Value, use.From = result, from
	in.uses = append(in.uses, use)
	return result, ok
}

func unsetMsg(name string) string {
	return fmt.Sprintf("%s is not set: set it in nsup's environment or in a .env file beside the spec, or give a default: ${%s:-VALUE}", name, name)
}

// clip shortens a piece of text for a message.
func clip(s string) string {
	if i := strings.IndexAny(s, " \t\n"); i > 0 {
		s = s[:i]
	}
	if utf8.RuneCountInString(s) > 24 {
		r := []rune(s)
		s = string(r[:24]) + "…"
	}
	return s
}

// pos is the position in the file of byte off of n's value: exact for
// a plain or quoted scalar on one line (a quoted one's escapes aside) and
// for a block scalar (| or >) line by line; the scalar's own position
// otherwise.
func (in *interp) pos(n *yaml.Node, off int) Pos {
	v := n.Value
	if off > len(v) {
		off = len(v)
	}
	// From where the last position of this scalar was (references come
	// in order), not from its start: linear in the scalar, whatever the
	// number of references.
	c := &in.cur
	if c.n != n || off < c.off {
		*c = cursor{n: n, indent: -1}
	}
	for _, r := range v[c.off:off] {
		if r == '\n' {
			c.nl, c.cols = c.nl+1, 0
		} else {
			c.cols++
		}
	}
	c.off = off
	nl, cols := c.nl, c.cols
	switch {
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		// The text starts on the line after the indicator, at the
		// block's indentation.
		line := n.Line + 1 + nl
		if n.Style&yaml.FoldedStyle != 0 {
			return Pos{n.Line, n.Column}
		}
		if c.indent < 0 {
			c.indent = in.indent(n.Line + 1)
		}
		return Pos{line, c.indent + 1 + cols}
	case nl > 0:
		return Pos{n.Line, n.Column}
	case n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0:
		return Pos{n.Line, n.Column + 1 + cols}
	}
	return Pos{n.Line, n.Column + cols}
}

// cursor is where pos last was in a scalar: its byte offset, the
// newlines before it and the characters since the last; indent is the
// block's indentation, -1 until read.
type cursor struct {
	n             *yaml.Node
	off, nl, cols int
	indent        int
}

// indent is the number of leading spaces of line (1-based) of the file: a
// block scalar's indentation, read on its first line.
func (in *interp) indent(line int) int {
	data := in.data
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return 0
		}
		data = data[i+1:]
	}
	return len(data) - len(bytes.TrimLeft(data, " "))
}

// interpolate replaces the variable references of the document's values
// (Vars.Off: none), reading the .env file first. It records every
// reference for the plan, and reports each that could not be resolved:
// its value keeps its text (failed), and the rest of the file is read on,
// so that its errors come with the reference's. It returns false when
// nothing can be read on: the .env file or --env-file could not be used,
// or the values grew too large.
func (d *decoder) interpolate(doc *yaml.Node, data []byte) bool {
	// A file without a $ has no reference: nothing to read or walk (only
	// a leading ~ of a host path, which home expands, needs no .env).
	if d.vars.Off || d.vars.EnvFile == "" && bytes.IndexByte(data, '$') < 0 {
		return true
	}
	in := &interp{d: d, data: data, lookup: d.vars.Lookup, subst: map[*yaml.Node]bool{}}
	switch {
	case d.vars.EnvFile != "":
		b, err := d.vars.EnvFileData, error(nil)
		if b == nil {
			b, err = regfile.ReadBounded(d.vars.EnvFile, MaxSize)
		}
		if err != nil {
			d.report(Pos{1, 1}, "", fmt.Sprintf("--env-file: %v", err))
			return false
		}
		d.envFile, d.envDigest = d.vars.EnvFile, digestOf(b)
		in.file = d.readEnvFile(d.vars.EnvFile, b)
	case d.vars.DotEnv && d.dir != "":
		name := filepath.Join(d.dir, ".env")
		// Named as the spec is: beside it.
		shown := filepath.Join(filepath.Dir(d.file), ".env")
		b, why := readTrusted(name)
		if why != "" {
			d.errs = append(d.errs, &Error{File: shown, Pos: Pos{1, 1}, Msg: "not used: " + why + ": fix it, or name the file to use with --env-file"})
			return false
		}
		if b != nil {
			d.envFile, d.envDigest = shown, digestOf(b)
			in.file = d.readEnvFile(shown, b)
		}
	}
	in.walk(doc)
	// A default's own references were recorded before theirs.
	slices.SortStableFunc(in.uses, func(a, b VarUse) int {
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line - b.Pos.Line
		}
		return a.Pos.Col - b.Pos.Col
	})
	d.uses = in.uses
	d.subst = in.subst
	return !in.fatal
}

// home expands a host path's leading ~ (alone or before /) to the caller's
// HOME, as a shell does; ~user is refused. Vars.Off leaves it.
func (d *decoder) home(n *yaml.Node, at, s string) (string, bool) {
	if d.vars.Off || !strings.HasPrefix(s, "~") {
		return s, true
	}
	rest := s[1:]
	if rest != "" && rest[0] != '/' {
		user, _, _ := strings.Cut(rest, "/")
		d.errorf(n, at, "~%s: only ~ (nsup's caller's HOME) is expanded: write the folder's path", user)
		return "", false
	}
	var home, from string
	var ok bool
	if d.vars.Lookup != nil {
		home, ok = d.vars.Lookup("HOME")
		from = FromEnvironment
	}
	if !ok || home == "" {
		d.errorf(n, at, "~: HOME is not set in nsup's environment: write the folder's path")
		return "", false
	}
	p := pos(n)
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		p.Col++
	}
	d.uses = append(d.uses, VarUse{Pos: p, Text: "~", Name: "HOME", Value: home, From: from})
	slices.SortStableFunc(d.uses, func(a, b VarUse) int {
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line - b.Pos.Line
		}
		return a.Pos.Col - b.Pos.Col
	})
	return home + rest, true
}
