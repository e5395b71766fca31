package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestRootChildWalksHostPaths: as root, with an idmap that maps root
// inside to 100000, a dir root and a bind source in a folder that uid may
// not search (0700, root's) are refused at plan time, at their values
// (helper-115 found both planned, and apply failing with EACCES at the
// child's open_tree); the folder made searchable (0711), the same spec
// applies. TestChildWalksHostPaths (planner) has the other cases.
func TestRootChildWalksHostPaths(t *testing.T) {
	c := newReachCase(t, "childwalk")
	priv := c.dir // 0700 below: root's, searchable by root inside only once 0711
	busyboxTree(t, filepath.Join(priv, "root"))
	os.Mkdir(filepath.Join(priv, "root", "src"), 0o755) // the target: root inside may not make it in root's folder
	spec := c.spec("walk.yaml", "{dir: "+priv+"/root}", "/src")
	os.Chmod(priv, 0o700)
	col := len("    rootfs: {dir: ") + 1
	c.refused("apply", "with an unsearchable folder", spec,
		fmt.Sprintf("%s:4:%d: environments.walk.rootfs.dir: the dir root %s/root is opened by the environment's child stage inside its user namespace, as root inside, host uid 100000 (gid 100000) through the id maps, which may not search %s (mode 0700, owner 0:0): apply would fail with EACCES", spec, col, priv, priv),
		fmt.Sprintf("%s:8:%d: environments.walk.mounts[0].source: bind source %s/src is opened by the environment's child stage inside its user namespace, as root inside, host uid 100000 (gid 100000) through the id maps, which may not search %s (mode 0700, owner 0:0): apply would fail with EACCES", spec, len("      - {type: bind, source: ")+1, priv, priv))
	os.Chmod(priv, 0o711)
	c.applies("with the folder searchable", spec)
}
