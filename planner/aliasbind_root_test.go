package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner/cgroup"
	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// TestRootWritableFolderAlias: a writable bind of the spec's folder named
// by another path of the same folder (a host bind mount of it, as an
// fstab line binding /data/home on /home makes) is found by the folder's
// inode, not its path. A review named such an alias in a dev box's
// writable bind: the spec was not bound over itself (root inside
// appended to it, and the next nsup run applied it), and a link root
// inside planted in the folder was followed by a bind of ./cache that the
// spec names by the spec's path. The alias is mounted in a temporary
// folder and unmounted after. Root only.
func TestRootWritableFolderAlias(t *testing.T) {
	if os.Geteuid() != 0 {
		skipOrFail(t, "mounts a bind of a folder: needs root")
	}
	d := t.TempDir()
	proj := filepath.Join(d, "proj")
	alias := filepath.Join(d, "alias")
	for _, p := range []string{proj + "/cache", alias, d + "/root/bin"} {
		os.MkdirAll(p, 0o755)
	}
	os.WriteFile(d+"/root/bin/sh", []byte("#!/bin/sh\n"), 0o755)
	if err := unix.Mount(proj, alias, "", unix.MS_BIND, ""); err != nil {
		skipOrFail(t, "bind mount: "+err.Error())
	}
	t.Cleanup(func() { unix.Unmount(alias, unix.MNT_DETACH) })
	compile := func(mounts string) (*Plan, error) {
		text := "version: 1\nenvironments:\n  dev:\n    rootfs: {dir: " + d + "/root}\n    namespaces: [mnt, pid]\n    mounts: [" + mounts + "]\n    processes: [{name: main, command: [/bin/sh]}]\n"
		file := filepath.Join(proj, "nsup.yaml")
		os.WriteFile(file, []byte(text), 0o644)
		s, err := spec.ParseBytes(file, proj, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		o := fixedOptions(Options{CacheDir: "/var/cache/nsup", Caller: &rootCaller})
		o.Cgroups = func() (*cgroup.Layout, error) { return cgroup.Discover(os.DirFS("cgroup/testdata/hybrid")) }
		return Compile(s, o)
	}
	p, err := compile("{type: bind, source: " + alias + ", target: /src}")
	if err != nil {
		t.Fatal(err)
	}
	var bound bool
	for _, st := range p.Environments[0].Steps {
		if m, ok := st.Op.(Mount); ok && m.Source == proj+"/nsup.yaml" && m.Target == "/src/nsup.yaml" {
			bound = true
		}
	}
	if !bound {
		t.Errorf("the spec, shown by a writable bind of %s (%s bound there): not bound read-only over itself at /src/nsup.yaml", alias, proj)
	}
	// A plan saved in the folder, shown by another path below a
	// writable bind (helper-57's review): refused, as one in the
	// bound folder is.
	other := t.TempDir()
	if err := os.Mkdir(other+"/view", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(proj, other+"/view", "", unix.MS_BIND, ""); err != nil {
		skipOrFail(t, "bind mount: "+err.Error())
	}
	t.Cleanup(func() { unix.Unmount(other+"/view", unix.MNT_DETACH) })
	saved := &Plan{Writable: []WritableFolder{{Path: other, Field: "environments.dev.mounts[0]"}}}
	if folder, _ := saved.WritableHolding(proj + "/plan.json"); folder != other {
		t.Errorf("a plan saved in %s, shown at %s/view of a writable %s: not refused (%q)", proj, other, other, folder)
	}
	os.Remove(proj + "/cache")
	os.Symlink("/etc", proj+"/cache")
	_, err = compile("{type: bind, source: " + alias + ", target: /src}, {type: bind, source: ./cache, target: /cache, readonly: true}")
	if err == nil || !strings.Contains(err.Error(), "passes through the symlink "+proj+"/cache") {
		t.Errorf("a link in the folder, named by the spec's path, the folder bound by its alias: %v, want refused", err)
	}
}
