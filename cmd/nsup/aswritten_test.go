package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateAsWrittenReferences: validate --no-interpolate accepts
// docs/spec.md's own `pids: "${PIDS:-64}"`, and other values that hold a
// reference (a cwd, a size, a namespace join), whose type and form only
// interpolation gives; a value without one is checked as before ($$ is
// a literal $, no reference), and an error elsewhere in the file is
// still reported, alone. Before, the docs' example was refused: "must be
// an integer or "unlimited", got string "${PIDS:-64}"" (helper-151's user
// trial).
func TestValidateAsWrittenReferences(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	head := "version: 1\nenvironments:\n  box:\n    rootfs: {dir: /}\n    namespaces: [mnt, pid]\n"
	ok := write("ok.yaml", head+`    limits: {pids: "${PIDS:-64}", memory: "${MEM}"}
    processes: [{name: main, command: [/bin/true], cwd: "${WD:-/}"}]
`)
	code, out, errs := nsup(t, "validate", "--no-interpolate", ok)
	if code != 0 || !strings.HasPrefix(out, ok+": valid as a file (1 environment; values as written, no variable read; 3 with a reference not checked") || errs != "" {
		t.Errorf("validate --no-interpolate of references: %d %q %q", code, out, errs)
	}
	bad := write("bad.yaml", head+`    limits: {pids: "${PIDS:-64}", memory: "$${MEM}"}
    processes: [{name: main, command: [/bin/true], cwd: relative}]
`)
	code, out, errs = nsup(t, "validate", "--no-interpolate", bad)
	want := bad + `:6:43: environments.box.limits.memory: invalid size "$${MEM}": use a number of bytes with an optional K, M, G or T suffix, such as 16M
` + bad + `:7:57: environments.box.processes[0].cwd: must be an absolute path, got "relative"
`
	if code != 2 || out != "" || errs != want {
		t.Errorf("validate --no-interpolate of errors besides references: %d %q\n%s\nwant\n%s", code, out, errs, want)
	}
}
