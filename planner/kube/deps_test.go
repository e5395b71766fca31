package kube

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestNoKubernetesInNsup: nsup, and this package without its tests,
// link nothing of Kubernetes' modules (k8s.io/api's package
// initialisation would cost every start of nsup); only the tests here
// use them.
func TestNoKubernetesInNsup(t *testing.T) {
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := exec.LookPath(gobin); err != nil {
		if gobin, err = exec.LookPath("go"); err != nil {
			t.Fatal("no go command to list the dependencies with")
		}
	}
	for _, pkg := range []string{"./cmd/nsup", "./planner/kube"} {
		cmd := exec.Command(gobin, "list", "-deps", pkg)
		cmd.Dir = repoRoot(t)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list -deps %s: %d packages, too few to be its dependencies:\n%s", pkg, len(deps), out)
		}
		for _, d := range deps {
			if strings.HasPrefix(d, "k8s.io/") || strings.HasPrefix(d, "sigs.k8s.io/") {
				t.Errorf("%s depends on %s", pkg, d)
			}
		}
	}
}
