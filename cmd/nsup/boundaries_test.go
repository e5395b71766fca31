package main

import (
	"go/build"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageBoundaries enforces design.md's table: spec imports nothing
// of ours, planner only spec, executor only planner (the plan types),
// planner/oci (the OCI translation) spec, planner and planner/seccomp
// (nsup's default profile, to leave it out of an import), and only cmd/nsup
// imports all. Test files may use more (executor's tests compile real
// specs), so only the package's own imports are checked.
func TestPackageBoundaries(t *testing.T) {
	const mod = "github.com/nsup/nsup/"
	allowed := map[string][]string{
		"spec":            {},
		"planner":         {"spec", "planner/seccomp"},
		"planner/seccomp": {},
		"planner/oci":     {"spec", "planner", "planner/seccomp"},
		"executor":        {"planner"},
		"schema":          {},
	}
	for pkg, ok := range allowed {
		p, err := build.ImportDir(filepath.Join("..", "..", pkg), 0)
		if err != nil {
			t.Fatalf("%s: %v", pkg, err)
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, mod) {
				continue
			}
			name := strings.TrimPrefix(imp, mod)
			found := false
			for _, a := range ok {
				found = found || a == name
			}
			if !found {
				t.Errorf("package %s imports %s: design.md allows only %v", pkg, name, ok)
			}
		}
		// Only cmd/nsup prints or exits.
		for _, imp := range p.Imports {
			if imp == "flag" || imp == "github.com/spf13/pflag" {
				t.Errorf("package %s parses flags; only cmd/nsup may", pkg)
			}
		}
	}
	// The OCI translation is pure: it neither reads nor writes a file
	// (cmd/nsup copies the rootfs and writes config.json), nor runs one.
	p, err := build.ImportDir(filepath.Join("..", "..", "planner", "oci"), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range p.Imports {
		switch imp {
		case "os", "os/exec", "io/ioutil", "syscall":
			t.Errorf("planner/oci imports %s: it translates, cmd/nsup does the files", imp)
		}
	}
}
