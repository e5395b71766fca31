package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestRootFileOnFolderRefused: as root, a bind of a file (or of the
// host's /dev/null) whose target is a folder of the dir root planned,
// and apply failed at the mount ("move_mount(its fd, <root>/xdir) ...:
// invalid argument"): the kernel binds a non-folder only on a
// non-folder. Refused by plan and apply now, at the
// target, before anything is mounted; the root is left as it was. The
// way out the error gives, the target made a file, applies, and main
// reads the bound file there.
func TestRootFileOnFolderRefused(t *testing.T) {
	c := newReachCase(t, "fileonfolder")
	root := filepath.Join(c.dir, "root")
	busyboxTree(t, root)
	if err := os.Mkdir(filepath.Join(root, "xdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, source string) string {
		spec := filepath.Join(c.dir, name)
		if err := os.WriteFile(spec, []byte(`version: 1
environments:
  walk:
    rootfs: {dir: `+root+`}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: `+source+`, target: /xdir, readonly: true}
    processes:
      - {name: main, command: [/bin/busybox, cat, /xdir]}
`), 0o644); err != nil {
			t.Fatal(err)
		}
		return spec
	}
	file, null := write("file.yaml", c.dir+"/src/f"), write("null.yaml", "/dev/null")
	for _, cmd := range []string{"plan", "apply"} {
		c.refused(cmd, "of a file on a folder", file, fmt.Sprintf("%s:7:9: environments.walk.mounts[0].target: /xdir is a folder in the dir root %s (%s/xdir), and the bind of %s/src/f, a file, needs a file there: apply's mount would fail (EINVAL); bind it at a path that is not a folder, or make %s/xdir a file", file, root, root, c.dir, root))
		c.refused(cmd, "of /dev/null on a folder", null, fmt.Sprintf("%s:7:9: environments.walk.mounts[0].target: /xdir is a folder in the dir root %s (%s/xdir), and the bind of /dev/null, a device, needs a file there", null, root, root))
	}
	if fi, err := os.Lstat(filepath.Join(root, "xdir")); err != nil || !fi.IsDir() {
		t.Errorf("the refused apply changed the root's /xdir: %v", err)
	}
	// The way out: the target made a file.
	if err := os.Remove(filepath.Join(root, "xdir")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "xdir"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c.applies("with the target a file", file)
}
