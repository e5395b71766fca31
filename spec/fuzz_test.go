package spec

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// errLine is the form of every line of a spec error.
var errLine = regexp.MustCompile(`^[^:]+:\d+:\d+: `)

// FuzzParse checks that no input makes ParseBytes panic or hang, and that
// it returns either a spec or Errors whose every line is FILE:LINE:COL: ….
// The seeds are a few snippets and every file of testdata.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"",
		"version: 1\n",
		"version: 1\nenvironments:\n  a:\n    rootfs: {dir: .}\n    namespaces: [mnt]\n    processes: [{name: m, command: [x]}]\n",
		"version: 1\nenvironments:\n  a:\n    rootfs: {closure: [/bin/sh]}\n    namespaces: [mnt, uts, user, time]\n    hostname: h\n" +
			"    idmap: {uid: [{inside: 0, outside: 1, count: 2}]}\n    time: {monotonic: 1s}\n" +
			"    mounts: [{type: tmpfs, target: /t, size: 1k, mode: \"755\", options: [nosuid]}, {type: bind, source: s, target: /s}]\n" +
			"    processes: [{name: m, command: [x], children: [{name: c, command: [y]}]}]\n",
		"version: 1\nenvironments:\n  a:\n    join: {net: b}\n  b:\n    join: {net: a}\n",
		"a: &a [*a]\n",
		"a: &a x\nb: *a\n",
		"- [\n",
		"{\"version\": 1, \"environments\": {\"a\": null}}",
		"version: 1\n---\nversion: 1\n",
		"\xef\xbb\xbfversion: 1\n",
		"version: !!int x\n",
		"? [a, b]\n: c\n",
		"version: 1\nenvironments:\n  a:\n    env: {\"\": \"\\0\"}\n",
	} {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob("testdata/*/*.yaml")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// A generous bound that only a hang or a quadratic rule can reach:
		// the largest input, 1 MiB, takes well under a second.
		start := time.Now()
		s, err := ParseBytes("fuzz.yaml", "/fuzz", data)
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("ParseBytes took %v for %d bytes", d, len(data))
		}
		if err == nil {
			if s == nil {
				t.Fatal("nil spec and nil error")
			}
			return
		}
		if s != nil {
			t.Fatal("a spec and an error")
		}
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("error %T is not a non-empty Errors: %v", err, err)
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if !errLine.MatchString(line) {
				t.Fatalf("malformed error line %q", line)
			}
		}
	})
}
