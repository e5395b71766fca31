package executor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
)

// TestRootBindReadonlyRenamed (a known limit of the seventh stop): a
// bind's readonly was set by mount_setattr on its target resolved again
// after the bind, so another environment sharing the tree could rename
// folders in between: the bind moved away, and the environment's tmpfs
// moved into the target's place took the attributes instead, leaving the
// bind of a host folder writable. The test plays that other environment
// while the child stage is paused before the mount_setattr step. The
// attributes are now set through the fd of the bind itself (a detached
// clone moved onto the target, Mount.Detached): the write fails.
func TestRootBindReadonlyRenamed(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	for _, d := range []string{"ro", "t", filepath.Join("..", "data")} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	hostFile := filepath.Join(dir, "data", "f")
	if err := os.WriteFile(hostFile, []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := compile(t, dir, `version: 1
environments:
  victim:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: tmpfs, target: /t}
      - {type: bind, source: ./data, target: /ro, readonly: true}
    processes:
      - name: main
        command: [/bin/sh, -c, 'echo written > /moved/f; echo "write: $?"']
`)
	step := -1
	for i, st := range p.Environments[0].Steps {
		if op, ok := st.Op.(planner.MountSetattr); ok && op.Path == "/ro" {
			step = i
		}
	}
	if step < 0 {
		t.Fatal("no mount_setattr of /ro in the plan")
	}
	out := applyPausedAt(t, p, "victim", step, func() {
		// The other environment: the bind's folder renamed away, the tmpfs's
		// folder renamed into its place.
		if err := os.Rename(filepath.Join(root, "ro"), filepath.Join(root, "moved")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(root, "t"), filepath.Join(root, "ro")); err != nil {
			t.Fatal(err)
		}
	})
	if b, _ := os.ReadFile(hostFile); string(b) != "host\n" {
		t.Errorf("the read-only bind's host file was written from inside: %q; output %q", b, out)
	}
	if !strings.Contains(out, "write: 1") {
		t.Errorf("the write inside did not fail: %q", out)
	}
}
