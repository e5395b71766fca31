package spec

// yaml.v3's syntax errors as a spec's errors: the line (and, for an alias, the column) they lack; yamlhints.go explains the common ones.

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

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

// SyntaxError is err, yaml.v3's error decoding data, as Parse reports a
// spec's: at the line and column it lacks (explained where the lines
// tell), in file. For the other YAML files nsup reads (a Kubernetes
// manifest, planner/kube).
func SyntaxError(file string, data []byte, err error) *Error {
	d := &decoder{file: file}
	d.syntaxError(data, err)
	return d.errs[0]
}

func (d *decoder) syntaxError(data []byte, err error) {
	line, msg := yamlMessage(err)
	switch {
	case parserMessages[msg]:
		line++
	case line == 0:
		line = 1
	}
	problem := line
	if blockMessages[msg] {
		problem = problemLine(data, line, msg)
	}
	// A hint says where the structure went wrong and what was expected;
	// without one, yaml.v3's words are given at the first token of the
	// offending line.
	if p, hint, ok := explain(data, line, problem, msg); ok {
		d.report(p, "", hint)
		return
	}
	p := Pos{problem, 1}
	if blockMessages[msg] || msg == msgMappingVal {
		if lines := splitLines(data); problem <= len(lines) {
			l := lines[problem-1]
			p.Col = l.col(len(l.text) - len(strings.TrimLeft(l.text, " \t")))
		}
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
