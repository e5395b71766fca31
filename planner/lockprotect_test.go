package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner/cgroup"
	"github.com/nsup/nsup/spec"
)

// TestLockFileProtected: the lock beside the spec (nsup.yaml.lock), which
// plan and apply check the rootfs against, is bound read-only over
// itself after a writable bind of its folder, as the spec is. A review,
// as root in a dev box whose closure named a tool of the project
// (./tools/mytool), rewrote the tool and removed the lock (or could have
// rewritten the tool's line in it): the next nsup run checked nothing,
// and ran the changed tool without a word.
func TestLockFileProtected(t *testing.T) {
	d := t.TempDir()
	os.MkdirAll(filepath.Join(d, "root/bin"), 0o755)
	os.MkdirAll(filepath.Join(d, "proj"), 0o755)
	os.WriteFile(filepath.Join(d, "root/bin/sh"), []byte("#!/bin/sh\n"), 0o755)
	text := "version: 1\nenvironments:\n  dev:\n    rootfs: {dir: " + d + "/root}\n    namespaces: [mnt, pid]\n    mounts: [{type: bind, source: ., target: /src}]\n    processes: [{name: main, command: [/bin/sh]}]\n"
	file := filepath.Join(d, "proj/nsup.yaml")
	os.WriteFile(file, []byte(text), 0o644)
	os.WriteFile(file+".lock", []byte("{\"nsupLock\":2}\n"), 0o644)
	s, err := spec.ParseBytes(file, filepath.Join(d, "proj"), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	o := fixedOptions(Options{CacheDir: "/var/cache/nsup", Caller: &rootCaller})
	o.Cgroups = func() (*cgroup.Layout, error) { return cgroup.Discover(os.DirFS("cgroup/testdata/hybrid")) }
	p, err := Compile(s, o)
	if err != nil {
		t.Fatal(err)
	}
	var bound, ro bool
	for _, st := range p.Environments[0].Steps {
		if m, ok := st.Op.(Mount); ok && m.Flags&msBIND != 0 && m.Source == file+".lock" && m.Target == "/src/nsup.yaml.lock" {
			bound = true
		}
		if a, ok := st.Op.(MountSetattr); ok && a.Path == "/src/nsup.yaml.lock" && a.Set&1 != 0 {
			ro = true
		}
	}
	if !bound || !ro {
		t.Errorf("the lock beside the spec in a writable bind: bound over itself %v, read-only %v; want both", bound, ro)
	}
	if !strings.Contains(strings.Join(p.Environments[0].Notes, "\n"), file+".lock, which nsup reads to plan this spec") {
		t.Errorf("no note of the lock: %q", p.Environments[0].Notes)
	}
}
