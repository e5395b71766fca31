package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner/cgroup"
	"github.com/nsup/nsup/spec"
)

// TestProfileLinkRefused: a seccomp profile reached through a symlink in
// a folder an environment may write is refused, as the spec is. Only the
// file the link leads to was bound read-only over itself (and not at all
// when outside the folder): a review, as root in a dev box whose project
// held seccomp.json -> ../profiles/default.json, could point the link at
// a profile of its own, which the next nsup run loaded as the spec's.
func TestProfileLinkRefused(t *testing.T) {
	d := t.TempDir()
	os.MkdirAll(filepath.Join(d, "root/bin"), 0o755)
	os.MkdirAll(filepath.Join(d, "proj"), 0o755)
	os.MkdirAll(filepath.Join(d, "profiles"), 0o755)
	os.WriteFile(filepath.Join(d, "root/bin/sh"), []byte("#!/bin/sh\n"), 0o755)
	prof, err := os.ReadFile("seccomp/testdata/default.json")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(d, "profiles/default.json"), prof, 0o644)
	if err := os.Symlink("../profiles/default.json", filepath.Join(d, "proj/seccomp.json")); err != nil {
		t.Fatal(err)
	}
	compile := func(readonly string) error {
		text := "version: 1\nenvironments:\n  dev:\n    rootfs: {dir: " + d + "/root}\n    namespaces: [mnt, pid]\n    security: {seccomp: ./seccomp.json}\n    mounts: [{type: bind, source: ., target: /src, readonly: " + readonly + "}]\n    processes: [{name: main, command: [/bin/sh]}]\n"
		file := filepath.Join(d, "proj/nsup.yaml")
		os.WriteFile(file, []byte(text), 0o644)
		s, err := spec.ParseBytes(file, filepath.Join(d, "proj"), []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		o := fixedOptions(Options{CacheDir: "/var/cache/nsup", Caller: &rootCaller})
		o.Cgroups = func() (*cgroup.Layout, error) { return cgroup.Discover(os.DirFS("cgroup/testdata/hybrid")) }
		_, err = Compile(s, o)
		return err
	}
	if err := compile("false"); err == nil || !strings.Contains(err.Error(), "passes through the symlink "+filepath.Join(d, "proj/seccomp.json")) {
		t.Errorf("a profile through a link in a writable bind: %v, want refused", err)
	}
	if err := compile("true"); err != nil {
		t.Errorf("the same, bound read-only: %v", err)
	}
}
