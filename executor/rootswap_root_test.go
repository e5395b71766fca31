package executor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// TestRootRootPathSwapped (helper-52's review): after the root's bind,
// its mount_setattr steps (nodev, the read-only mounts below a dir root)
// took the root's path again, following symlinks, and the steps inside
// the root and the chdir before pivot_root opened it again. Another
// environment that may write the folder above a dir root renamed the
// root away and put a symlink in its place (to /dev, or any mount) for
// the setattr, then the folder back for the steps after, in an exchange
// loop: the root kept no nodev, and a device node made in the tree (by
// a writer with CAP_MKNOD, whose own mounts are nodev) opened the host's
// disk. The test plays that writer while the child stage is paused
// before the first setattr, and leaves the symlink: the root's clone's
// fd is its handle from its bind on, so the environment starts in its
// own tree, with nodev on its root. Before the fix, the setattr went to
// /dev and the next step refused the symlink in the root's path.
func TestRootRootPathSwapped(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	if err := os.MkdirAll(filepath.Join(root, "proc"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := compile(t, dir, `version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: proc, target: /proc}
    processes:
      - name: main
        command: [/bin/sh, -c, 'cat /nsup-marker; grep -E "^[0-9]+ [0-9]+ [0-9:]+ [^ ]+ / " /proc/self/mountinfo']
`)
	step := -1
	for i, st := range p.Environments[0].Steps {
		if op, ok := st.Op.(planner.MountSetattr); ok && op.InRoot && op.Path == "/" && op.Set == unix.MOUNT_ATTR_NODEV {
			step = i
			break
		}
	}
	if step < 0 {
		t.Fatalf("no mount_setattr of the root's mount (its nodev) in the plan:\n%s", planText(p))
	}
	out := applyPausedAt(t, p, "a", step, func() {
		// The writer of the folder above the root: the root renamed away, a
		// symlink to another mount in its place.
		real := root + ".real"
		if err := os.Rename(root, real); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/dev", root); err != nil {
			t.Fatal(err)
		}
	})
	var rootLine string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 5 && f[4] == "/" {
			rootLine = l
		}
	}
	if !strings.Contains(out, "inside") || rootLine == "" {
		t.Fatalf("the environment did not start in its own tree once the root's path was swapped: %q", out)
	}
	if opts := strings.Fields(rootLine)[5]; !strings.Contains(","+opts+",", ",nodev,") {
		t.Errorf("the root's mount has no nodev: %q", rootLine)
	}
}
