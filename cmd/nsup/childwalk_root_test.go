package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRootChildWalksHostPaths: as root, with an idmap that maps root
// inside to 100000, a dir root and a bind source in a folder that uid may
// not search (0700, root's) are refused at plan time, at their keys
// (helper-115 found both planned, and apply failing with EACCES at the
// child's open_tree); the folder made searchable (0711), the same spec
// applies. TestChildWalksHostPaths (planner) has the other cases.
func TestRootChildWalksHostPaths(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir, err := os.MkdirTemp("", "nsup-childwalk-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	priv := filepath.Join(dir, "priv")
	busyboxTree(t, filepath.Join(priv, "root"))
	os.MkdirAll(filepath.Join(priv, "src"), 0o755)
	os.Mkdir(filepath.Join(priv, "root", "src"), 0o755) // the target: root inside may not make it in root's folder
	os.WriteFile(filepath.Join(priv, "src", "f"), []byte("bound\n"), 0o644)
	os.Chmod(priv, 0o700)
	spec := filepath.Join(dir, "walk.yaml")
	os.WriteFile(spec, []byte(fmt.Sprintf(`version: 1
environments:
  walk:
    rootfs: {dir: %s/root}
    namespaces: [user, mnt, pid]
    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}
    mounts:
      - {type: bind, source: %s/src, target: /src, readonly: true}
    processes:
      - {name: main, command: [/bin/busybox, cat, /src/f]}
`, priv, priv)), 0o644)
	bin := buildNsup(t)
	code, out, errs := runCaptured(t, exec.Command(bin, "apply", spec))
	col := len("    rootfs: {dir: ") + 1
	for _, want := range []string{
		fmt.Sprintf("%s:4:%d: environments.walk.rootfs.dir: the dir root %s/root is opened by the environment's child stage inside its user namespace, as root inside, host uid 100000 (gid 100000) through the id maps, which may not search %s (mode 0700, owner 0:0): apply would fail with EACCES", spec, col, priv, priv),
		fmt.Sprintf("%s:8:9: environments.walk.mounts[0].source: bind source %s/src is opened by the environment's child stage inside its user namespace, as root inside, host uid 100000 (gid 100000) through the id maps, which may not search %s (mode 0700, owner 0:0): apply would fail with EACCES", spec, priv, priv),
	} {
		if code != 2 || !strings.Contains(errs, want) {
			t.Errorf("apply with an unsearchable folder: exit %d, want 2 and %q\n%s%s", code, want, out, errs)
		}
	}
	os.Chmod(priv, 0o711)
	code, out, errs = runCaptured(t, exec.Command(bin, "apply", spec))
	if code != 0 || out != "bound\n" {
		t.Errorf("apply with the folder searchable: exit %d\n%s%s", code, out, errs)
	}
}
