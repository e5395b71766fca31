package schema

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"gopkg.in/yaml.v3"

	"github.com/nsup/nsup/spec"
)

const (
	schemaFile = "nsup.schema.json"
	draft2020  = "https://json-schema.org/draft/2020-12/schema"
	schemaID   = "https://nsup.dev/schema/nsup.schema.json"

	// exampleModeline is the exact first line of every examples/*.yaml.
	exampleModeline = "# yaml-language-server: $schema=../schema/nsup.schema.json"
	// testdataModeline is the first line of every testdata/valid/*.yaml.
	testdataModeline = "# yaml-language-server: $schema=../../nsup.schema.json"
	// invalidMarker is the exact first line of the files of
	// spec/testdata/invalid whose error is structural (the schema rejects them).
	invalidMarker = "# schema: invalid"

	// minSpecInvalid is the least number of marked files expected in
	// spec/testdata/invalid once that corpus is written.
	minSpecInvalid = 10
)

// loaded is the compiled schema and its raw JSON document, shared by the tests.
var loaded = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := schemaDoc()
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(schemaID, doc); err != nil {
		return nil, err
	}
	return c.Compile(schemaID)
})

// schemaDoc reads nsup.schema.json as a JSON value (numbers as json.Number).
func schemaDoc() (any, error) {
	b, err := os.ReadFile(schemaFile)
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(b))
}

func compiled(t *testing.T) *jsonschema.Schema {
	t.Helper()
	sch, err := loaded()
	if err != nil {
		t.Fatalf("compile %s: %v", schemaFile, err)
	}
	return sch
}

// TestSchemaIsDraft2020_12 checks that the schema declares draft 2020-12 and
// is valid against that draft's metaschema (Compile checks it too; this
// states it explicitly, with the metaschema's own error report).
func TestSchemaIsDraft2020_12(t *testing.T) {
	doc, err := schemaDoc()
	if err != nil {
		t.Fatal(err)
	}
	obj := doc.(map[string]any)
	if got := obj["$schema"]; got != draft2020 {
		t.Errorf("$schema = %v, want %s", got, draft2020)
	}
	if got := obj["$id"]; got != schemaID {
		t.Errorf("$id = %v, want %s", got, schemaID)
	}
	if s, _ := obj["title"].(string); s == "" {
		t.Errorf("the schema has no title")
	}
	meta, err := jsonschema.NewCompiler().Compile(draft2020)
	if err != nil {
		t.Fatalf("compile the 2020-12 metaschema: %v", err)
	}
	if err := meta.Validate(doc); err != nil {
		t.Fatalf("%s is not a valid 2020-12 schema:\n%v", schemaFile, err)
	}
	compiled(t)
}

// TestSchemaDescriptions checks that every property and every definition has
// a description, which editors show on hover (properties named in the
// conditions of cross-field rules excepted).
func TestSchemaDescriptions(t *testing.T) {
	doc, err := schemaDoc()
	if err != nil {
		t.Fatal(err)
	}
	var walk func(ptr string, v any)
	walk = func(ptr string, v any) {
		switch v := v.(type) {
		case []any:
			for i, x := range v {
				walk(ptr+"/"+strconv.Itoa(i), x)
			}
		case map[string]any:
			for _, group := range []string{"properties", "$defs"} {
				m, _ := v[group].(map[string]any)
				for name, sub := range m {
					sub, ok := sub.(map[string]any)
					if !ok {
						continue // a boolean schema: `false` forbids the key
					}
					if d, _ := sub["description"].(string); strings.TrimSpace(d) == "" {
						t.Errorf("%s/%s/%s has no description", ptr, group, name)
					}
				}
			}
			for k, x := range v {
				switch k {
				case "allOf", "anyOf", "oneOf", "not", "if", "then", "else":
					// cross-field rules: their properties are conditions
					// on keys described where they are declared
				default:
					walk(ptr+"/"+k, x)
				}
			}
		}
	}
	walk("#", doc)
}

// TestSchemaEnumsMatchSpec keeps the schema's enums equal to package spec's
// lists, in spec-v1 order.
func TestSchemaEnumsMatchSpec(t *testing.T) {
	doc, err := schemaDoc()
	if err != nil {
		t.Fatal(err)
	}
	defs := doc.(map[string]any)["$defs"].(map[string]any)
	mount := defs["mount"].(map[string]any)["properties"].(map[string]any)
	for _, c := range []struct {
		where string
		enum  any
		want  []string
	}{
		{"$defs/namespaceType", defs["namespaceType"].(map[string]any)["enum"], spec.NamespaceTypes},
		{"$defs/mount/properties/type", mount["type"].(map[string]any)["enum"], spec.MountTypes},
		{"$defs/mount/properties/options/items", mount["options"].(map[string]any)["items"].(map[string]any)["enum"], spec.MountOptions},
	} {
		var got []string
		for _, v := range c.enum.([]any) {
			got = append(got, v.(string))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s enum = %q, package spec has %q", c.where, got, c.want)
		}
	}
}

// TestValidTestdata checks that every testdata/valid/*.yaml passes.
func TestValidTestdata(t *testing.T) {
	sch := compiled(t)
	files := glob(t, "testdata/valid/*.yaml")
	if len(files) < 4 {
		t.Fatalf("only %d files in testdata/valid", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if first := firstLine(t, f); first != testdataModeline {
				t.Errorf("first line is %q, want %q", first, testdataModeline)
			}
			v, err := loadYAML(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(v); err != nil {
				t.Errorf("%s is valid spec v1, but the schema rejects it:\n%v", f, err)
			}
		})
	}
}

// TestValidTestdataCoversSchema checks that testdata/valid uses every key the
// schema declares and every value of its enums, so that TestValidTestdata
// proves the schema accepts all of spec v1.
func TestValidTestdataCoversSchema(t *testing.T) {
	doc, err := schemaDoc()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	var walkSchema func(v any)
	walkSchema = func(v any) {
		switch v := v.(type) {
		case []any:
			for _, x := range v {
				walkSchema(x)
			}
		case map[string]any:
			if props, ok := v["properties"].(map[string]any); ok {
				for k, sub := range props {
					if sub != false {
						want["key "+k] = true
					}
				}
			}
			if enum, ok := v["enum"].([]any); ok {
				for _, e := range enum {
					want["value "+fmt.Sprint(e)] = true
				}
			}
			for k, x := range v {
				if k != "if" { // an if's properties are conditions, not keys
					walkSchema(x)
				}
			}
		}
	}
	walkSchema(doc)

	seen := map[string]bool{}
	var walkDoc func(v any)
	walkDoc = func(v any) {
		switch v := v.(type) {
		case []any:
			for _, x := range v {
				walkDoc(x)
			}
		case map[string]any:
			for k, x := range v {
				seen["key "+k] = true
				walkDoc(x)
			}
		default:
			seen["value "+fmt.Sprint(v)] = true
		}
	}
	for _, f := range glob(t, "testdata/valid/*.yaml") {
		v, err := loadYAML(f)
		if err != nil {
			t.Fatal(err)
		}
		walkDoc(v)
	}
	var missing []string
	for w := range want {
		if !seen[w] {
			missing = append(missing, w)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("testdata/valid never uses: %s", strings.Join(missing, ", "))
	}
}

// TestInvalidTestdata checks that the schema rejects every
// testdata/invalid/*.yaml, at the place its `# at: JSON-POINTER` line names
// (`# at: (root)` for the document itself, `# at: propertyNames KEY` for a
// key rejected by propertyNames; see errorLocations).
func TestInvalidTestdata(t *testing.T) {
	sch := compiled(t)
	files := glob(t, "testdata/invalid/*.yaml")
	if len(files) < 15 {
		t.Fatalf("only %d files in testdata/invalid, want at least 15", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			at, ok := expectedLocation(t, f)
			if !ok {
				t.Fatalf("%s has no `# at: JSON-POINTER` line", f)
			}
			v, err := loadYAML(f)
			if err != nil {
				t.Fatalf("%s is not even YAML: %v", f, err)
			}
			err = sch.Validate(v)
			if err == nil {
				t.Fatalf("the schema accepts %s", f)
			}
			locs := errorLocations(err)
			if !slices.Contains(locs, at) {
				t.Errorf("the schema rejects %s, but not at %q (errors at %q):\n%v", f, at, locs, err)
			}
		})
	}
}

// TestExamples checks that every examples/*.yaml starts with the modeline
// that points editors at the schema, and that the schema accepts it.
func TestExamples(t *testing.T) {
	sch := compiled(t)
	files := glob(t, "../examples/*.yaml")
	if len(files) == 0 {
		missingCorpus(t, "no ../examples/*.yaml")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if first := firstLine(t, f); first != exampleModeline {
				t.Errorf("%s: first line is %q, want exactly %q", f, first, exampleModeline)
			}
			v, err := loadYAML(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(v); err != nil {
				t.Errorf("the schema rejects the example %s:\n%v", f, err)
			}
		})
	}
}

// TestSpecInvalidCorpus checks that the schema rejects every file of
// spec/testdata/invalid whose first line is exactly `# schema: invalid`
// (those whose error is structural); other files there are for package
// spec alone. With fewer than minSpecInvalid marked files it fails under
// CI=true and skips otherwise (the corpus may still be being written).
func TestSpecInvalidCorpus(t *testing.T) {
	sch := compiled(t)
	marked := 0
	for _, f := range glob(t, "../spec/testdata/invalid/*.yaml") {
		if firstLine(t, f) != invalidMarker {
			continue
		}
		marked++
		t.Run(filepath.Base(f), func(t *testing.T) {
			v, err := loadYAML(f)
			if err != nil {
				// Editors reject it too, as YAML; the schema never sees it.
				t.Logf("%s is rejected as YAML: %v", f, err)
				return
			}
			if err := sch.Validate(v); err == nil {
				t.Errorf("%s is marked %q, but the schema accepts it", f, invalidMarker)
			}
		})
	}
	if marked < minSpecInvalid {
		missingCorpus(t, fmt.Sprintf("%d files of ../spec/testdata/invalid are marked %q, want at least %d", marked, invalidMarker, minSpecInvalid))
	}
}

// missingCorpus fails under CI=true and skips otherwise: the corpus is
// written by others, and may not exist yet while they work.
func missingCorpus(t *testing.T, msg string) {
	t.Helper()
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatal(msg)
	}
	t.Skip(msg + " (fails under CI=true)")
}

func glob(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

// firstLine returns the first line of file f, without its line ending.
func firstLine(t *testing.T, f string) string {
	t.Helper()
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return string(bytes.TrimSuffix(line, []byte("\r")))
}

// expectedLocation returns the JSON pointer of the `# at: POINTER` comment
// line of f.
func expectedLocation(t *testing.T, f string) (string, bool) {
	t.Helper()
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if at, ok := strings.CutPrefix(strings.TrimSpace(line), "# at:"); ok {
			at = strings.TrimSpace(at)
			if at == "(root)" {
				at = ""
			}
			return at, true
		}
	}
	return "", false
}

// errorLocations returns the instance location, as a JSON pointer, of every
// error of the tree err (the validator reports the causes of a failure as a
// tree: oneOf branches, if/then, $ref). A propertyNames error is reported as
// "propertyNames KEY" instead: jsonschema v6.0.3 gives it a wrong instance
// location (it keeps the validator's location slice without copying it, and
// later siblings overwrite it: santhosh-tekuri/jsonschema issues 258, 269).
func errorLocations(err error) []string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var locs []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if pn, ok := e.ErrorKind.(*kind.PropertyNames); ok {
			locs = append(locs, "propertyNames "+pn.Property)
			return
		}
		var sb strings.Builder
		for _, tok := range e.InstanceLocation {
			sb.WriteByte('/')
			sb.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(tok))
		}
		if l := sb.String(); !slices.Contains(locs, l) {
			locs = append(locs, l)
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return locs
}

// loadYAML reads the first YAML document of file f as a JSON value.
func loadYAML(f string) (any, error) {
	b, err := os.ReadFile(f)
	if err != nil {
		return nil, err
	}
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", f, err)
	}
	return toJSON(v)
}

// toJSON converts a value decoded by yaml.v3 into one of the types of the
// JSON data model that the validator expects: maps get string keys (the
// key's text, as an editor sees it), numbers stay numbers, and a timestamp
// (which yaml.v3 does not produce for an `any` target, but could for a
// tagged one) becomes its RFC 3339 text.
func toJSON(v any) (any, error) {
	switch v := v.(type) {
	case nil, bool, string, int, int64, uint64, float64:
		return v, nil
	case time.Time:
		return v.Format(time.RFC3339Nano), nil
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			y, err := toJSON(x)
			if err != nil {
				return nil, err
			}
			out[i] = y
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			y, err := toJSON(x)
			if err != nil {
				return nil, err
			}
			out[k] = y
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			y, err := toJSON(x)
			if err != nil {
				return nil, err
			}
			out[fmt.Sprint(k)] = y
		}
		return out, nil
	default:
		return nil, fmt.Errorf("unexpected YAML value %v of type %T", v, v)
	}
}
