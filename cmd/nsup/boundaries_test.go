package main

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageBoundaries enforces design.md's table: spec imports nothing
// of ours, planner only spec, executor/store (the cache, building root
// trees) and executor/lifecycle (detached environments seen from outside)
// only planner, executor planner and those two, planner/oci (the OCI
// translation) spec, planner and planner/seccomp (nsup's default profile,
// to leave it out of an import), and only cmd/nsup imports all. Test files
// may use more (executor's tests compile real specs), so only the
// package's own imports are checked.
func TestPackageBoundaries(t *testing.T) {
	const mod = "github.com/nsup/nsup/"
	allowed := map[string][]string{
		"spec":               {},
		"planner":            {"spec", "planner/seccomp"},
		"planner/seccomp":    {},
		"planner/oci":        {"spec", "planner", "planner/seccomp"},
		"executor":           {"planner", "executor/store", "executor/lifecycle"},
		"executor/store":     {"planner"},
		"executor/lifecycle": {"planner"},
		"schema":             {},
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
	// The store and the lifecycle return what they did and every error:
	// they never print (not even to the process's own stdout or stderr,
	// which executor's init writes its environment's output to), log or
	// exit.
	for _, pkg := range []string{"executor/store", "executor/lifecycle"} {
		p, err := build.ImportDir(filepath.Join("..", "..", pkg), 0)
		if err != nil {
			t.Fatalf("%s: %v", pkg, err)
		}
		for _, imp := range p.Imports {
			if imp == "log" || imp == "log/slog" {
				t.Errorf("package %s imports %s: only cmd/nsup prints", pkg, imp)
			}
		}
		fset := token.NewFileSet()
		for _, name := range p.GoFiles {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				x, ok := sel.X.(*ast.Ident)
				if !ok {
					return true
				}
				switch {
				case x.Name == "os" && (sel.Sel.Name == "Exit" || sel.Sel.Name == "Stdout" || sel.Sel.Name == "Stderr"),
					x.Name == "fmt" && strings.HasPrefix(sel.Sel.Name, "Print"),
					x.Name == "syscall" && sel.Sel.Name == "Exit",
					x.Name == "unix" && sel.Sel.Name == "Exit":
					t.Errorf("%s: %s.%s: only cmd/nsup prints or exits", fset.Position(sel.Pos()), x.Name, sel.Sel.Name)
				}
				return true
			})
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
