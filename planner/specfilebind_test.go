package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner/cgroup"
	"github.com/nsup/nsup/spec"
)

// TestSpecFileBoundWritable (helper-55's review): a writable bind of a
// file nsup reads to plan the spec (the spec itself, the .env beside
// it: a bind of ./.env to the app's config is an ordinary line, and
// writable by default) was planned, and root inside wrote it: the next
// nsup run applied what it had written (a variable the spec uses as a
// bind's source set to /, say). Only a bind of the folder that shows one
// was looked at. It is refused; read-only, it is planned.
func TestSpecFileBoundWritable(t *testing.T) {
	d := t.TempDir()
	os.MkdirAll(filepath.Join(d, "root/bin"), 0o755)
	os.MkdirAll(filepath.Join(d, "proj"), 0o755)
	os.WriteFile(filepath.Join(d, "root/bin/sh"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(d, "proj/.env"), []byte("X=1\n"), 0o644)
	dir := filepath.Join(d, "proj")
	for _, c := range []struct {
		mount   string
		refused bool
	}{
		{"{type: bind, source: ./nsup.yaml, target: /s.yaml}", true},
		{"{type: bind, source: ./.env, target: /app/.env}", true},
		{"{type: bind, source: ./.env, target: /app/.env, recursive: false}", true},
		{"{type: bind, source: ./.env, target: /app/.env, readonly: true}", false},
		{"{type: bind, source: ./nsup.yaml, target: /s.yaml, readonly: true}", false},
	} {
		text := `version: 1
environments:
  dev:
    rootfs: {dir: ` + d + `/root}
    namespaces: [mnt, pid]
    mounts: [` + c.mount + `]
    processes: [{name: main, command: [/bin/sh]}]
`
		file := filepath.Join(dir, "nsup.yaml")
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := spec.ParseBytes(file, dir, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		o := fixedOptions(Options{CacheDir: "/var/cache/nsup", Caller: &rootCaller})
		o.Cgroups = func() (*cgroup.Layout, error) { return cgroup.Discover(os.DirFS("cgroup/testdata/hybrid")) }
		_, err = Compile(s, o)
		refused := err != nil && strings.Contains(err.Error(), "which nsup reads to plan this spec")
		if refused != c.refused {
			t.Errorf("%s: refused %v, want %v: %v", c.mount, refused, c.refused, err)
		}
	}
}
