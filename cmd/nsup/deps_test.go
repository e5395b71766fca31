package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestStartDeps: nsup links none of the modules whose package
// initialisation would cost every start of every command, and that only
// a corner of it (export --kube, export --image) would use: Kubernetes'
// (k8s.io/api's types register themselves), and image-spec's Go types
// with go-digest (whose init compiles regular expressions: 0.16 ms of
// each start). Their tests use them, to check nsup's own small structs
// against theirs (planner/kube, image).
func TestStartDeps(t *testing.T) {
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := exec.LookPath(gobin); err != nil {
		if gobin, err = exec.LookPath("go"); err != nil {
			t.Fatal("no go command to list the dependencies with")
		}
	}
	forbidden := []string{"k8s.io/", "sigs.k8s.io/", "github.com/opencontainers/go-digest", "github.com/opencontainers/image-spec"}
	for _, pkg := range []string{".", "../../planner/kube", "../../image"} {
		cmd := exec.Command(gobin, "list", "-deps", pkg)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list -deps %s: %d packages, too few to be its dependencies:\n%s", pkg, len(deps), out)
		}
		for _, d := range deps {
			for _, f := range forbidden {
				if strings.HasPrefix(d, f) {
					t.Errorf("%s depends on %s", pkg, d)
				}
			}
		}
	}
}
