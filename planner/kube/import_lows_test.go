package kube

import (
	"os"
	"slices"
	"testing"

	"github.com/nsup/nsup/spec"
)

// TestImportCgroupNamespace: each container gets a cgroup namespace of
// its own, as Kubernetes and podman give one on cgroup v2 (the host's
// pid, network and IPC namespaces do not change that), and none joins
// another's: the import gave none, and /proc/self/cgroup inside showed
// where the host keeps the environment.
func TestImportCgroupNamespace(t *testing.T) {
	for _, f := range []string{"foreign.yaml", "hostnet.yaml"} {
		data, err := os.ReadFile("testdata/import/" + f)
		if err != nil {
			t.Fatal(err)
		}
		y, _, err := Import(f, data)
		if err != nil {
			t.Fatal(err)
		}
		s := parseImported(t, f, y)
		if len(s.Environments) < 2 {
			t.Fatalf("%s: %d environments", f, len(s.Environments))
		}
		for _, e := range s.Environments {
			var ns []string
			for _, n := range e.Namespaces {
				ns = append(ns, n.Type)
			}
			if !slices.Contains(ns, spec.NSCgroup) {
				t.Errorf("%s: %s: namespaces %v, no cgroup", f, e.Name, ns)
			}
			if e.Joined(spec.NSCgroup) != nil {
				t.Errorf("%s: %s joins a cgroup namespace", f, e.Name)
			}
		}
	}
}
