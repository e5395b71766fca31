package schema

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// The key reference, docs/spec.md, is tested against the schema so that
// they cannot drift: every key the schema declares has a row in one of
// its key tables, every row names a key the schema declares, and every
// row gives the key's type, default and an example, the example valid
// against the key's schema and the default the schema's.
//
// A key table is a Markdown table whose header is exactly
//
//	| key | type | default | example | meaning |
//
// right after a line `<!-- schema: POINTER -->`, POINTER being the JSON
// pointer (in nsup.schema.json) of the object whose keys it documents, as
// `#/$defs/mount`. Its first column names the key as its first code span
// (`source`), or a dotted path below that object (`capabilities.add`:
// through properties, $ref, items, additionalProperties and the objects
// of oneOf and anyOf). The example column's first code span is the value
// in YAML (flow style), the default column says `required` for a required
// key.

const specDoc = "../docs/spec.md"

var keyTableHeader = []string{"key", "type", "default", "example", "meaning"}

// keyRow is one row of a key table.
type keyRow struct {
	line    int
	object  string // the table's POINTER
	key     string // the first column's first code span
	typ     string
	def     string
	example string
}

var (
	markerRE   = regexp.MustCompile(`^<!--\s*schema:\s*(\S+)\s*-->$`)
	codeSpanRE = regexp.MustCompile("`([^`]+)`")
)

// keyRows reads the key tables of docs/spec.md.
func keyRows(t *testing.T) []keyRow {
	t.Helper()
	b, err := os.ReadFile(specDoc)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	var rows []keyRow
	tables := 0
	for i := 0; i < len(lines); i++ {
		m := markerRE.FindStringSubmatch(strings.TrimSpace(lines[i]))
		if m == nil {
			continue
		}
		tables++
		j := i + 1
		for j < len(lines) && strings.TrimSpace(lines[j]) == "" {
			j++
		}
		if j+1 >= len(lines) || !slices.Equal(tableCells(lines[j]), keyTableHeader) {
			t.Errorf("%s:%d: the marker %s is not followed by a table whose header is %q", specDoc, i+1, m[1], keyTableHeader)
			continue
		}
		for j += 2; j < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[j]), "|"); j++ {
			cells := tableCells(lines[j])
			if len(cells) != len(keyTableHeader) {
				t.Errorf("%s:%d: %d cells, want %d", specDoc, j+1, len(cells), len(keyTableHeader))
				continue
			}
			r := keyRow{line: j + 1, object: m[1], typ: cells[1], def: cells[2]}
			if k := codeSpanRE.FindStringSubmatch(cells[0]); k != nil {
				r.key = k[1]
			}
			if e := codeSpanRE.FindStringSubmatch(cells[3]); e != nil {
				r.example = e[1]
			}
			rows = append(rows, r)
		}
	}
	if tables < 10 {
		t.Fatalf("%s has %d key tables (<!-- schema: POINTER --> markers), want at least 10", specDoc, tables)
	}
	return rows
}

// tableCells splits a Markdown table row into its trimmed cells (a `\|`
// is a | inside a cell).
func tableCells(line string) []string {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "|") {
		return nil
	}
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cur.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

// node is the schema value at the JSON pointer ptr ("#/a/b").
func node(doc any, ptr string) (any, bool) {
	v := doc
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "#"), "/")[1:] {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[tok]; !ok {
				return nil, false
			}
		case []any:
			var i int
			if _, err := fmt.Sscan(tok, &i); err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// objects returns the pointers of the schemas that a value at ptr may be
// described by, for the purpose of finding its keys: ptr itself, where a
// $ref leads, and, recursively, the alternatives of oneOf and anyOf and
// what items and additionalProperties lead to.
func objects(doc any, ptr string) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(p string)
	walk = func(p string) {
		if seen[p] {
			return
		}
		seen[p] = true
		n, ok := node(doc, p)
		m, isMap := n.(map[string]any)
		if !ok || !isMap {
			return
		}
		out = append(out, p)
		if ref, ok := m["$ref"].(string); ok {
			walk(ref)
		}
		for _, alt := range []string{"oneOf", "anyOf"} {
			if l, ok := m[alt].([]any); ok {
				for i := range l {
					walk(fmt.Sprintf("%s/%s/%d", p, alt, i))
				}
			}
		}
		for _, k := range []string{"items", "additionalProperties"} {
			if _, ok := m[k].(map[string]any); ok {
				walk(p + "/" + k)
			}
		}
	}
	walk(ptr)
	return out
}

// property resolves the dotted key path below the object at ptr to the
// pointer of the property that declares its last part.
func property(doc any, ptr, path string) (string, bool) {
	cur := ptr
	for _, part := range strings.Split(path, ".") {
		found := ""
		for _, o := range objects(doc, cur) {
			p := o + "/properties/" + part
			if n, ok := node(doc, p); ok && n != false {
				found = p
				break
			}
		}
		if found == "" {
			return "", false
		}
		cur = found
	}
	return cur, true
}

// schemaProperties returns the pointer of every property the schema
// declares (a `false` schema, which forbids a key, excepted), reached from
// the root through properties, $ref, items, additionalProperties, oneOf
// and anyOf; the conditions of cross-field rules (allOf, if, then, else,
// not) declare no key.
func schemaProperties(doc any) []string {
	var props []string
	seen := map[string]bool{}
	var walk func(p string)
	walk = func(p string) {
		for _, o := range objects(doc, p) {
			if seen[o] {
				continue
			}
			seen[o] = true
			n, _ := node(doc, o)
			ps, _ := n.(map[string]any)["properties"].(map[string]any)
			for k, sub := range ps {
				if sub == false {
					continue
				}
				pp := o + "/properties/" + k
				props = append(props, pp)
				walk(pp)
			}
		}
	}
	walk("#")
	sort.Strings(props)
	return props
}

// TestSpecDocCoversSchema: every key of the schema has exactly one row in
// docs/spec.md's key tables, and every row names a key of the schema.
func TestSpecDocCoversSchema(t *testing.T) {
	doc, err := schemaDoc()
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]int{} // property pointer → line
	for _, r := range keyRows(t) {
		if _, ok := node(doc, r.object); !ok {
			t.Errorf("%s:%d: the table's pointer %s is not in %s", specDoc, r.line, r.object, schemaFile)
			continue
		}
		if r.key == "" {
			t.Errorf("%s:%d: the key column names no key (a code span)", specDoc, r.line)
			continue
		}
		p, ok := property(doc, r.object, r.key)
		if !ok {
			t.Errorf("%s:%d: %q is not a key of %s in %s", specDoc, r.line, r.key, r.object, schemaFile)
			continue
		}
		if l, dup := documented[p]; dup {
			t.Errorf("%s:%d: %q (%s) is documented again (first at line %d)", specDoc, r.line, r.key, p, l)
		}
		documented[p] = r.line
	}
	props := schemaProperties(doc)
	if len(props) < 80 {
		t.Fatalf("only %d properties found in the schema: the walk is broken", len(props))
	}
	for _, p := range props {
		if _, ok := documented[p]; !ok {
			t.Errorf("%s declares %s, which no key table of %s documents", schemaFile, p, specDoc)
		}
	}
}

// TestSpecDocRows: every row gives a type, a default (`required` for a
// required key; the schema's default where it has one) and an example
// the key's schema accepts.
func TestSpecDocRows(t *testing.T) {
	doc, err := schemaDoc()
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(schemaID, doc); err != nil {
		t.Fatal(err)
	}
	for _, r := range keyRows(t) {
		p, ok := property(doc, r.object, r.key)
		if !ok {
			continue // TestSpecDocCoversSchema reports it
		}
		where := fmt.Sprintf("%s:%d: %s", specDoc, r.line, r.key)
		n, _ := node(doc, p)
		prop, _ := n.(map[string]any)
		if r.typ == "" {
			t.Errorf("%s: no type", where)
		}
		typ := strings.ToLower(r.typ)
		switch prop["type"] {
		case "boolean":
			if !strings.Contains(typ, "bool") {
				t.Errorf("%s: the schema's type is boolean, the table says %q", where, r.typ)
			}
		case "array":
			if !strings.Contains(typ, "list") {
				t.Errorf("%s: the schema's type is array, the table says %q (write a list)", where, r.typ)
			}
		}
		if r.def == "" {
			t.Errorf("%s: no default", where)
		}
		if required(doc, p) && !strings.Contains(r.def, "required") {
			t.Errorf("%s: the schema requires it, the default column says %q", where, r.def)
		}
		if d, ok := prop["default"]; ok {
			for _, want := range defaultTexts(d) {
				if !strings.Contains(r.def, "`"+want+"`") {
					t.Errorf("%s: the schema's default is %s, the default column (%q) lacks `%s`", where, jsonText(d), r.def, want)
				}
			}
		}
		if r.example == "" {
			t.Errorf("%s: no example (a code span holding the value in YAML)", where)
			continue
		}
		var v any
		if err := yaml.Unmarshal([]byte(r.example), &v); err != nil {
			t.Errorf("%s: the example `%s` is not YAML: %v", where, r.example, err)
			continue
		}
		jv, err := toJSON(v)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		sch, err := c.Compile(schemaID + p)
		if err != nil {
			t.Errorf("%s: compile %s: %v", where, p, err)
			continue
		}
		if err := sch.Validate(jv); err != nil {
			t.Errorf("%s: the schema rejects the example `%s`:\n%v", where, r.example, err)
		}
	}
}

// required says whether the property at pointer p is in its object's
// required list.
func required(doc any, p string) bool {
	i := strings.LastIndex(p, "/properties/")
	parent, key := p[:i], p[i+len("/properties/"):]
	n, _ := node(doc, parent)
	req, _ := n.(map[string]any)["required"].([]any)
	return slices.Contains(req, any(key))
}

// defaultTexts are the code spans a default column must hold for the
// schema's default d: the value itself, `{}` or `[]` for an empty map or
// list, and each value of a map.
func defaultTexts(d any) []string {
	switch d := d.(type) {
	case map[string]any:
		if len(d) == 0 {
			return []string{"{}"}
		}
		var out []string
		for k, v := range d {
			out = append(out, k+"="+fmt.Sprint(v))
		}
		sort.Strings(out)
		return out
	case []any:
		if len(d) == 0 {
			return []string{"[]"}
		}
		return []string{jsonText(d)}
	default:
		return []string{fmt.Sprint(d)}
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestSpecDocExamples: every YAML block of docs/spec.md that is a whole
// spec (it has a version key) is accepted by the schema.
func TestSpecDocExamples(t *testing.T) {
	sch := compiled(t)
	b, err := os.ReadFile(specDoc)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	in, start, body := false, 0, []string{}
	for i, line := range strings.Split(string(b), "\n") {
		switch {
		case !in && strings.HasPrefix(line, "```yaml"):
			in, start, body = true, i+1, nil
		case in && strings.HasPrefix(line, "```"):
			in = false
			text := strings.Join(body, "\n")
			var v any
			if err := yaml.Unmarshal([]byte(text), &v); err != nil {
				t.Errorf("%s:%d: a YAML block that is not YAML: %v", specDoc, start, err)
				continue
			}
			if m, ok := v.(map[string]any); !ok || m["version"] == nil {
				continue
			}
			n++
			jv, err := toJSON(v)
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(jv); err != nil {
				t.Errorf("%s:%d: the schema rejects this example:\n%v", specDoc, start, err)
			}
		case in:
			body = append(body, line)
		}
	}
	if n == 0 {
		t.Errorf("%s has no whole spec (a YAML block with version) to check", specDoc)
	}
}
