package main

// nsup validate --no-interpolate: the file as written, its references
// left as they are.

import (
	"errors"
	"strings"

	"github.com/nsup/nsup/internal/regfile"
	"github.com/nsup/nsup/spec"
	"gopkg.in/yaml.v3"
)

// withoutReferenced is err, the errors of file checked as written
// (Vars.Off), without those at a value that holds a variable reference
// (${VAR}, $VAR, a leading ~): only interpolation gives such a value, and
// its type with it (pids: "${PIDS:-64}" is the number 64), so as written
// it is neither right nor wrong. envs is the number of environments of
// the file and unchecked the number of such values refused, for
// validate's line when nothing is left.
func withoutReferenced(file string, err error) (envs, unchecked int, rest error) {
	var es spec.Errors
	if !errors.As(err, &es) {
		return 0, 0, err
	}
	b, rerr := regfile.ReadBounded(file, spec.MaxSize)
	var doc yaml.Node
	if rerr != nil || yaml.Unmarshal(b, &doc) != nil {
		return 0, 0, err
	}
	referenced := map[spec.Pos]bool{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && hasReference(n.Value) {
			referenced[spec.Pos{Line: n.Line, Col: n.Column}] = true
		}
		for i, c := range n.Content {
			if n.Kind == yaml.MappingNode && i%2 == 0 {
				continue // a key: never interpolated
			}
			walk(c)
		}
	}
	walk(&doc)
	var left spec.Errors
	dropped := map[spec.Pos]bool{}
	for _, e := range es {
		if referenced[e.Pos] {
			dropped[e.Pos] = true
		} else {
			left = append(left, e)
		}
	}
	if len(left) > 0 {
		return 0, 0, readableError{invalidError{left}, nil}
	}
	if len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
		top := doc.Content[0].Content
		for i := 0; i+1 < len(top); i += 2 {
			if top[i].Value == "environments" {
				envs = len(top[i+1].Content) / 2
			}
		}
	}
	return envs, len(dropped), nil
}

// hasReference says whether a value, as written, holds a variable
// reference ($$ is a literal $) or starts with ~.
func hasReference(v string) bool {
	if strings.HasPrefix(v, "~") {
		return true
	}
	v = strings.ReplaceAll(v, "$$", "")
	for i := 0; i+1 < len(v); i++ {
		if c := v[i+1]; v[i] == '$' && (c == '{' || c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return true
		}
	}
	return false
}
