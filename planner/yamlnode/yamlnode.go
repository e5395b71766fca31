// Package yamlnode builds the YAML nodes of the specs nsup writes
// (planner/oci's and planner/kube's imports, their manifests): scalars,
// mappings, lists, and commands laid out to be read. It imports nothing
// of nsup's but internal/textsafe.
package yamlnode

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/nsup/nsup/internal/textsafe"
	"gopkg.in/yaml.v3"
)

// Str is a string scalar.
func Str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// Bool is a boolean scalar.
func Bool(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(b)}
}

// Int is an integer scalar, written as text (strconv.FormatInt or
// FormatUint).
func Int(text string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: text} }

// Mapping is a mapping of the keys and values kv (string, *yaml.Node, ...),
// in flow style if flow.
func Mapping(flow bool, kv ...any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	if flow {
		n.Style = yaml.FlowStyle
	}
	for i := 0; i < len(kv); i += 2 {
		n.Content = append(n.Content, Str(kv[i].(string)), kv[i+1].(*yaml.Node))
	}
	return n
}

// Set adds key k with value v to mapping n.
func Set(n *yaml.Node, k string, v *yaml.Node) {
	n.Content = append(n.Content, Str(k), v)
}

// StrList is a flow list of strings.
func StrList(ss []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, s := range ss {
		n.Content = append(n.Content, Str(s))
	}
	return n
}

// Command is a flow list when short and on one line each, else a block
// list with multi-line arguments as literal blocks.
func Command(args []string) *yaml.Node {
	n := StrList(args)
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

// EscapeDollars writes each $ of n's values as $$: a spec's values are
// interpolated ($VAR, ${VAR}), an imported document's (a bundle's, a
// manifest's) are not. Keys are not interpolated, and stay as they are.
func EscapeDollars(n *yaml.Node) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			EscapeDollars(c)
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			EscapeDollars(n.Content[i])
		}
	case yaml.ScalarNode:
		n.Value = strings.ReplaceAll(n.Value, "$", "$$")
	}
}

// Encode writes doc as YAML (indented by 2) in which every textsafe.Unsafe rune
// but a newline shows as an escape: a scalar that holds one is written
// double-quoted, each such rune \uXXXX (or YAML's own \t, \x..), and a
// comment's as the text \uXXXX. Written raw, a manifest's U+202E in a
// command or an env value would make the spec a reviewer reads say
// something else than what nsup runs. The values are the same once read.
func Encode(doc *yaml.Node) ([]byte, error) {
	quoteUnsafe(doc)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	// The YAML library escapes C0, DEL and C1 in a double-quoted scalar,
	// not the bidirectional runes, which it counts as printable: each is
	// in a double-quoted scalar (quoteUnsafe), where \uXXXX is that rune.
	return []byte(escapeUnsafe(b.String(), '\n')), nil
}

// quoteUnsafe double-quotes each scalar of n (keys too) that holds a
// textsafe.Unsafe rune other than a newline, and escapes its comments'.
func quoteUnsafe(n *yaml.Node) {
	if n == nil {
		return
	}
	if n.Kind == yaml.ScalarNode && strings.IndexFunc(n.Value, func(r rune) bool { return r != '\n' && textsafe.Unsafe(r) }) >= 0 {
		n.Style = yaml.DoubleQuotedStyle
	}
	n.HeadComment = escapeUnsafe(n.HeadComment, '\n')
	n.LineComment = escapeUnsafe(n.LineComment, -1)
	n.FootComment = escapeUnsafe(n.FootComment, '\n')
	for _, c := range n.Content {
		quoteUnsafe(c)
	}
}

// Escape is s for one line of a comment: each textsafe.Unsafe rune, a newline
// too, as \uXXXX.
func Escape(s string) string { return escapeUnsafe(s, -1) }

// escapeUnsafe writes each textsafe.Unsafe rune of s but keep as \uXXXX.
func escapeUnsafe(s string, keep rune) string {
	if strings.IndexFunc(s, func(r rune) bool { return r != keep && textsafe.Unsafe(r) }) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r != keep && textsafe.Unsafe(r) {
			fmt.Fprintf(&b, "\\u%04x", r)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}
