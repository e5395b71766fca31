package oci

import (
	"strings"
	"testing"

	"github.com/nsup/nsup/internal/textsafe"
	"github.com/nsup/nsup/spec"
)

// TestImportBidiEscaped: a config's strings that hold bidirectional
// runes or control characters (the Trojan Source class) are written
// escaped: the YAML holds no such rune (a reviewer of the spec sees
// \u202e where the command's text would have shown reordered), and reads
// back as the config's very strings. The import wrote U+202E raw.
func TestImportBidiEscaped(t *testing.T) {
	b, err := export(t, "examples/hello.yaml", "hello")
	if err != nil {
		t.Fatal(err)
	}
	m := configMap(t, marshal(t, b.Config))
	arg := "echo safe \u202e;hs.kcab/pmt/ \u2066x\u2069\x1b[2J\u009b"
	val := "v\u200f\u061c\t\r"
	p := m["process"].(map[string]any)
	p["args"] = []any{"sh", "-c", arg}
	p["env"] = append(p["env"].([]any), "BIDI="+val)
	m["annotations"] = map[string]any{"note\u202e\n# x": "y"}
	y, _, err := Import(marshal(t, m), importOptions("config.json", "/b"))
	if err != nil {
		t.Fatal(err)
	}
	if i := strings.IndexFunc(string(y), func(r rune) bool { return r != '\n' && textsafe.Unsafe(r) }); i >= 0 {
		t.Errorf("a raw %U at byte %d of:\n%s", []rune(string(y)[i:])[0], i, y)
	}
	if !strings.Contains(string(y), `\u202e`) {
		t.Errorf("no \\u202e in:\n%s", y)
	}
	s, err := spec.ParseBytes("imported.yaml", "/b", y)
	if err != nil {
		t.Fatalf("%v\n%s", err, y)
	}
	e := s.Environments[0]
	if got := e.Process[0].Command; len(got) != 3 || got[2] != arg {
		t.Errorf("command %q, want %q", got, arg)
	}
	found := false
	for _, v := range e.Env {
		if v.Name == "BIDI" {
			found = true
			if v.Value != val {
				t.Errorf("BIDI=%q, want %q", v.Value, val)
			}
		}
	}
	if !found {
		t.Errorf("no BIDI in env %+v\n%s", e.Env, y)
	}
}
