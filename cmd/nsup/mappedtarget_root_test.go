package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestRootMappedTargetMissing: as root, with an idmap that maps root
// inside to 100000, a bind whose target is missing in a dir root of
// root's (0755) is refused at plan time, at the mount: the plan showed
// "mkdir target if missing" and apply failed with "resolve /src inside
// the root: permission denied", as root inside may not make a folder in
// root's. The same spec with overlay: true (its upper layer root
// inside's), or with the folder made in the root, applies; a target in
// a folder root inside may not search is refused too, and applies once
// it may.
// TestMappedTargetMakeable (planner) has the other cases.
func TestRootMappedTargetMissing(t *testing.T) {
	c := newReachCase(t, "mappedtarget")
	root := filepath.Join(c.dir, "root")
	busyboxTree(t, root)
	spec := c.spec("missing.yaml", "{dir: "+root+"}", "/src")
	want := fmt.Sprintf(`%s:8:9: environments.walk.mounts[0].target: /src is missing in the dir root %s: apply makes it ("target if missing") inside the environment's user namespace, as root inside, host uid 100000 (gid 100000) through the id maps, which may not make its first missing folder %s/src there (%s is mode 0755, owner 0:0): apply would fail with EACCES; make %s/src in the root beforehand, say overlay: true (its upper layer is root inside's), or give an idmap that maps the root's owner and group too`, spec, root, root, root, root)
	for _, cmd := range []string{"plan", "apply"} {
		c.refused(cmd, "with the target missing", spec, want)
	}
	if _, err := os.Lstat(filepath.Join(root, "src")); err == nil {
		t.Error("the refused apply made the target")
	}
	c.applies("with overlay: true", c.spec("overlay.yaml", "{dir: "+root+", overlay: true}", "/src"))
	os.Mkdir(filepath.Join(root, "src"), 0o755)
	c.applies("with the target made", spec)
	// A target that exists, in a folder root inside may not search
	// (0700, root's): refused the same (apply failed alike).
	os.MkdirAll(filepath.Join(root, "deep/src"), 0o755)
	os.Chmod(filepath.Join(root, "deep"), 0o700)
	deep := c.spec("deep.yaml", "{dir: "+root+"}", "/deep/src")
	c.refused("apply", "with the target's folder unsearchable", deep, fmt.Sprintf("%s:8:9: environments.walk.mounts[0].target: /deep/src lies in the dir root %s, and apply's child stage resolves it inside the environment's user namespace, as root inside, host uid 100000 (gid 100000) through the id maps, which may not search %s/deep on its way (mode 0700, owner 0:0): apply would fail with EACCES", deep, root, root))
	os.Chmod(filepath.Join(root, "deep"), 0o711)
	c.applies("with the target's folder searchable", deep)
}

// TestRootMappedTargetThroughLink: the same, the target through a link
// of the root (/l/src, l -> real, real 0755 root's): apply resolves it
// inside the root, follows the link and makes src in real, where root
// inside may not; the plan refuses it as it refuses /real/src, naming
// that folder. Before helper-160's change it planned (exit 0) and apply
// failed at the mount's step with "resolve /l/src inside the root:
// permission denied" (helper-159's finding). It applies once real/src
// is there.
func TestRootMappedTargetThroughLink(t *testing.T) {
	c := newReachCase(t, "mappedlink")
	root := filepath.Join(c.dir, "root")
	busyboxTree(t, root)
	if err := os.Mkdir(filepath.Join(root, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(root, "l")); err != nil {
		t.Fatal(err)
	}
	spec := c.spec("linked.yaml", "{dir: "+root+"}", "/l/src")
	want := fmt.Sprintf(`%s:8:9: environments.walk.mounts[0].target: /l/src is missing in the dir root %s: apply makes it ("target if missing") inside the environment's user namespace, as root inside, host uid 100000 (gid 100000) through the id maps, which may not make its first missing folder %s/real/src there (%s/real is mode 0755, owner 0:0): apply would fail with EACCES; make %s/real/src in the root beforehand`, spec, root, root, root, root)
	for _, cmd := range []string{"plan", "apply"} {
		c.refused(cmd, "with the target missing through a link", spec, want)
	}
	if _, err := os.Lstat(filepath.Join(root, "real/src")); err == nil {
		t.Error("the refused apply made the target")
	}
	os.Mkdir(filepath.Join(root, "real/src"), 0o755)
	c.applies("with the target made where the link leads", spec)
}
