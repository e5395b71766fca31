package oci

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/planner/cgroup"
	"github.com/nsup/nsup/spec"
)

// TestMemorySwap: a memory limit without memory_swap holds for swap too,
// in a bundle as under nsup apply: linux.resources.memory.swap is the
// limit (a runtime leaves swap unlimited where it is not set); an
// explicit memory_swap is carried as it is. Import reads each back to
// the same meaning (swap at the limit: no key; unset or 0, what runc
// takes as unlimited: memory_swap: unlimited), and export → import →
// export gives the same resources.
func TestMemorySwap(t *testing.T) {
	for _, c := range []struct {
		limits     string
		swap       int64
		importLine string // the imported limits
	}{
		{"{memory: 64M}", 64 << 20, "limits: {memory: 67108864}"},
		{"{memory: 64M, memory_swap: unlimited}", -1, "limits: {memory: 67108864, memory_swap: unlimited}"},
		{"{memory: 64M, memory_swap: 128M}", 128 << 20, "limits: {memory: 67108864, memory_swap: 134217728}"},
	} {
		t.Run(c.limits, func(t *testing.T) {
			text := "version: 1\nenvironments:\n  m:\n    rootfs: {closure: [/bin/sh]}\n    namespaces: [mnt, pid]\n    limits: " + c.limits + "\n    processes:\n      - {name: main, command: [/bin/sh]}\n"
			first := exportText(t, t.TempDir(), text)
			mem := first.Config.Linux.Resources.Memory
			if mem == nil || mem.Limit == nil || *mem.Limit != 64<<20 || mem.Swap == nil || *mem.Swap != c.swap {
				t.Fatalf("linux.resources.memory = %+v, want limit %d, swap %d", mem, 64<<20, c.swap)
			}
			bundle := t.TempDir()
			os.MkdirAll(filepath.Join(bundle, RootfsDir, "bin"), 0o755)
			os.WriteFile(filepath.Join(bundle, RootfsDir, "bin", "sh"), nil, 0o755)
			y, notes, err := Import(marshal(t, first.Config), importOptions("config.json", bundle))
			if err != nil || len(notes) > 0 {
				t.Fatalf("import: %v\n%s", err, notesText(notes))
			}
			if !strings.Contains(string(y), c.importLine) {
				t.Errorf("imported, no %q:\n%s", c.importLine, y)
			}
			again := exportText(t, bundle, string(y))
			if got, want := string(marshal(t, again.Config.Linux.Resources)), string(marshal(t, first.Config.Linux.Resources)); got != want {
				t.Errorf("export → import → export: resources\n%s\nwant\n%s", got, want)
			}
		})
	}
	// A bundle's memory limit with swap unset, or 0 (unset to runc),
	// leaves swap unlimited under a runtime: imported as such.
	data, err := os.ReadFile("testdata/import/runc-spec.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, swap := range []any{nil, 0} {
		m := configMap(t, data)
		mem := map[string]any{"limit": 67108864}
		if swap != nil {
			mem["swap"] = swap
		}
		m["linux"].(map[string]any)["resources"] = map[string]any{"memory": mem}
		y, _, err := Import(marshal(t, m), importOptions("config.json", "/srv/bundles/my-app"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(y), "limits: {memory: 67108864, memory_swap: unlimited}") {
			t.Errorf("swap %v: imported\n%s", swap, y)
		}
	}
}

// exportText plans the spec text (in dir) on a fixed host with cgroup v2
// and exports its environment m.
func exportText(t *testing.T, dir, text string) *Bundle {
	t.Helper()
	s, err := spec.ParseBytes("m.yaml", dir, []byte(text))
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	p, err := planner.Compile(s, planner.Options{CacheDir: "/var/cache/nsup", Export: true, Closure: fixedClosure, Caller: &rootCaller, Seccomp: fixedSeccomp, HostPath: fixedHostPath,
		Cgroups: func() (*cgroup.Layout, error) { return cgroup.Discover(os.DirFS("../cgroup/testdata/v2-delegated")) }})
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	b, err := Export(s, p, "m")
	if err != nil {
		t.Fatal(err)
	}
	return b
}
