package spec

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
)

// endless is an io.Reader that never ends, like /dev/zero, without a file.
type endless struct{ read int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	e.read += int64(len(p))
	return len(p), nil
}

// TestTooLarge checks that a large input is refused with a positioned
// error, and that Parse stops reading just past the limit: it must also
// work on an endless input.
func TestTooLarge(t *testing.T) {
	r := &endless{}
	_, err := parseReader("big.yaml", "/", r, 0, Vars{})
	want := "big.yaml:1:1: the file is larger than 1048576 bytes (1 MiB)"
	if err == nil || err.Error() != want {
		t.Fatalf("parseReader(endless) = %v, want %s", err, want)
	}
	if r.read > 2*MaxSize {
		t.Errorf("read %d bytes of an endless input, want about %d", r.read, MaxSize+1)
	}

	big := []byte("version: 1\n# " + strings.Repeat("x", 2<<20) + "\n")
	if _, err := ParseBytes("big.yaml", "/", big); err == nil || err.Error() != want {
		t.Errorf("ParseBytes(2 MiB) = %v, want %s", err, want)
	}
	// At the limit is still fine: the error is about the content.
	atLimit := []byte("version: 1\n#" + strings.Repeat("x", MaxSize-13) + "\n")
	if len(atLimit) != MaxSize {
		t.Fatalf("test input is %d bytes", len(atLimit))
	}
	if _, err := ParseBytes("max.yaml", "/", atLimit); err == nil || strings.Contains(err.Error(), "larger") {
		t.Errorf("ParseBytes(1 MiB) = %v, want a content error", err)
	}
}

// TestBillionLaughs checks that the classic alias bomb, one level more than
// the corpus file, gives an error at once instead of expanding 10^10 nodes.
func TestBillionLaughs(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\nl0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= 10; i++ {
		b.WriteString("l" + strconv.Itoa(i) + ": &l" + strconv.Itoa(i) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*l" + strconv.Itoa(i-1))
		}
		b.WriteString("]\n")
	}
	b.WriteString("environments: *l10\n")
	_, err := ParseBytes("lol.yaml", "/", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "lol.yaml:3:") || !strings.Contains(err.Error(), "aliases are not allowed (*l0, and 100 more)") {
		t.Fatalf("ParseBytes(billion laughs) = %v", err)
	}
}

// TestDeepNesting checks inputs nested far beyond maxDepth, below and above
// yaml.v3's own limit of 10000.
func TestDeepNesting(t *testing.T) {
	for _, n := range []int{65, 9000, 20000} {
		data := "version: 1\nenvironments: " + strings.Repeat("[", n) + strings.Repeat("]", n) + "\n"
		_, err := ParseBytes("deep.yaml", "/", []byte(data))
		if err == nil || !strings.HasPrefix(err.Error(), "deep.yaml:") {
			t.Errorf("depth %d: %v", n, err)
		}
	}
	// Block nesting: a process tree deeper than anyone writes.
	var b strings.Builder
	b.WriteString("version: 1\nenvironments:\n  a:\n    rootfs: {dir: /r}\n    namespaces: [mnt]\n    processes:\n")
	indent := "      "
	for i := 0; i < 40; i++ {
		b.WriteString(indent + "- name: p" + strconv.Itoa(i) + "\n" + indent + "  command: [/bin/true]\n" + indent + "  children:\n")
		indent += "    "
	}
	b.WriteString(indent + "- {name: last, command: [/bin/true]}\n")
	_, err := ParseBytes("tree.yaml", "/", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "nesting is deeper than 64 levels") {
		t.Errorf("deep process tree: %v", err)
	}
}

// TestManyErrors checks that a file with thousands of errors still reports
// each once, on its own line, sorted.
func TestManyErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\nenvironments:\n")
	for i := 0; i < 2000; i++ {
		b.WriteString("  E" + strconv.Itoa(i%100) + strings.Repeat("x", i/100) + ": {}\n")
	}
	_, err := ParseBytes("many.yaml", "/", []byte(b.String()))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("ParseBytes = %v", err)
	}
	if got, want := len(errs), 2000*4; got != want {
		t.Errorf("%d errors, want %d", got, want)
	}
	for i := 1; i < len(errs); i++ {
		if errs[i].Pos.Line < errs[i-1].Pos.Line {
			t.Fatalf("errors not sorted: %v before %v", errs[i-1], errs[i])
		}
	}
}

// TestReadError checks that a failing reader gives its own error.
func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := parseReader("x.yaml", "/", io.MultiReader(strings.NewReader("version: 1\n"), errReader{boom}), 0, Vars{})
	if !errors.Is(err, boom) {
		t.Errorf("parseReader = %v, want %v", err, boom)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestLargeInputs parses inputs just under MaxSize whose shape once made a
// rule quadratic (every environment in one join cycle, thousands of joins
// to unknown environments) or makes the syntax error search work hard.
// It asserts no time: a regression shows as a test that takes minutes.
func TestLargeInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("large inputs")
	}
	fill := func(head string, line func(i int) string) []byte {
		var b strings.Builder
		b.WriteString(head)
		for i := 0; b.Len() < MaxSize-200; i++ {
			b.WriteString(line(i))
		}
		return []byte(b.String())
	}
	envs := "version: 1\nenvironments:\n"
	for name, data := range map[string][]byte{
		"join ring": fill(envs, func(i int) string {
			return "  e" + strconv.Itoa(i) + ": {join: {net: e" + strconv.Itoa(i+1) + ", ipc: e0}}\n"
		}),
		"unknown joins": fill(envs, func(i int) string {
			return "  e" + strconv.Itoa(i) + ": {join: {net: x" + strconv.Itoa(i) + "}}\n"
		}),
		"bad indent at the end": append(fill(envs, func(i int) string {
			return "  e" + strconv.Itoa(i) + ": {}\n"
		}), " x: 1\n"...),
		// The hints' reading of the lines above a bad indent (yamlhints.go).
		"deep lists, then a bad indent": append(fill("", func(int) string {
			return strings.Repeat("- ", 4000) + "x\n"
		})[:MaxSize-400], "\n  a: b\n c: d\n"...),
		"a staircase of keys, then a bad indent": append(fill("", func(i int) string {
			return strings.Repeat(" ", i%1400) + "k" + strconv.Itoa(i) + ":\n"
		}), "\n   a: b\n  c: d\n"...),
		"a quote never closed":  fill("a: \"", func(int) string { return "x\n" }),
		"brackets never closed": fill("a: ", func(int) string { return "[" }),
	} {
		if _, err := ParseBytes("big.yaml", "/", data); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
