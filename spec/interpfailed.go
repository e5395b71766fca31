package spec

// A ${VAR} reference that could not be resolved: its error joins the
// others of the file, which is read on, not a round of its own.

import (
	"math"
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
// the error is the reference's, reported already. doc is the file's tree.
func (d *decoder) unechoed(doc *yaml.Node, from int) {
	if len(d.unresolved) == 0 {
		return
	}
	ends := valueEnds(doc, d.unresolved)
	kept := d.errs[:from]
	for _, e := range d.errs[from:] {
		echo := false
		for _, n := range d.unresolved {
			if e.File == d.file && inValue(e.Pos, n, ends[n]) {
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

// valueEnds is, for each of the scalars ns, where the next node of the
// tree starts (the file's order): its text ends before. A scalar's own
// Value tells not where its text ends: "${X:?}\n\n\n" on one line, or
// a block scalar's text, were taken as lines that followed it, and the
// errors of the keys and environments there were dropped as the value's
// echoes (an environment with errors was then one the host checks took).
func valueEnds(doc *yaml.Node, ns []*yaml.Node) map[*yaml.Node]Pos {
	var order []*yaml.Node
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind != yaml.DocumentNode {
			order = append(order, n)
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(doc)
	want := map[*yaml.Node]bool{}
	for _, n := range ns {
		want[n] = true
	}
	ends := map[*yaml.Node]Pos{}
	for i, n := range order {
		if !want[n] {
			continue
		}
		end := Pos{Line: math.MaxInt}
		at := Pos{n.Line, n.Column}
		for _, m := range order[i+1:] {
			if p := (Pos{m.Line, m.Column}); posBefore(at, p) {
				end = p
				break
			}
		}
		ends[n] = end
	}
	return ends
}

// inValue says whether p lies in the text of scalar n, which ends before
// end (valueEnds).
func inValue(p Pos, n *yaml.Node, end Pos) bool {
	return !posBefore(p, Pos{n.Line, n.Column}) && posBefore(p, end)
}

// posBefore says whether a comes before b in the file.
func posBefore(a, b Pos) bool {
	return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
}
