package spec

// A ${VAR} reference that could not be resolved: its error joins the
// others of the file, which is read on, not a round of its own.

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// step is one level of the field path to the value walk is at: a
// mapping's key, or a sequence's index (key "").
type step struct {
	key string
	idx int
}

// fieldPath is the field the value walk is at, as Error.Path writes it
// (environments.dev.mounts[1].source).
func (in *interp) fieldPath() string {
	var b strings.Builder
	for _, s := range in.steps {
		if s.key == "" {
			b.WriteString("[" + strconv.Itoa(s.idx) + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.key)
	}
	return b.String()
}

// failed records that n, at field path, kept its text: the errors
// reported since the decoder held before are about that field (their
// Path stays "", the message as it was; readable takes the field from
// blamed), and what the decoding says of n's text later is not reported
// (unechoed).
func (in *interp) failed(n *yaml.Node, before int) {
	d := in.d
	if d.blamed == nil {
		d.blamed = map[*Error]string{}
	}
	path := in.fieldPath()
	for _, e := range d.errs[before:] {
		d.blamed[e] = path
	}
	d.unresolved = append(d.unresolved, n)
}

// unechoed drops the errors reported from index from on (the decoding's,
// after interpolation) whose position lies in a value that kept its
// ${...} text: "${PIDS:?}" is no number, and "${T}" no absolute path, but
// the error is the reference's, reported already.
func (d *decoder) unechoed(from int) {
	if len(d.unresolved) == 0 {
		return
	}
	kept := d.errs[:from]
	for _, e := range d.errs[from:] {
		echo := false
		for _, n := range d.unresolved {
			if e.File == d.file && inValue(e.Pos, n) {
				echo = true
				break
			}
		}
		if !echo {
			kept = append(kept, e)
		}
	}
	d.errs = kept
}

// inValue says whether p lies in the text of scalar n: from its first
// character to its last (a closing quote included) on a line of its
// own, anywhere on its lines for one of several.
func inValue(p Pos, n *yaml.Node) bool {
	lines := strings.Count(n.Value, "\n")
	if lines > 0 || n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return p.Line >= n.Line && p.Line <= n.Line+lines+1
	}
	return p.Line == n.Line && p.Col >= n.Column && p.Col <= n.Column+len([]rune(n.Value))+1
}
