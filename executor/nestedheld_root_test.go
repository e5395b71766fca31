package executor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
)

// TestRootNestedHeldBindRenamed (helper-55's review): a read-only bind
// below a writable one, with a mount of its own below it, is held itself
// (its fd is held for that mount), and was resolved again by path from
// the root after the writable bind, not beneath its fd. Another
// environment that may write the tree renamed the writable bind's folder
// and put a folder of its own in its place: the read-only bind went
// there, and at the writable bind's new name root inside wrote the
// host's folder it was to make read-only. The test plays that other
// environment while the child stage is paused before the read-only bind.
func TestRootNestedHeldBindRenamed(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	host := filepath.Join(dir, "hostdata")
	for _, d := range []string{filepath.Join(root, "data"), filepath.Join(host, "conf", "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p := compile(t, dir, `version: 1
environments:
  victim:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./hostdata, target: /data}
      - {type: bind, source: ./hostdata/conf, target: /data/conf, readonly: true}
      - {type: tmpfs, target: /data/conf/sub}
    processes:
      - name: main
        command: [/bin/sh, -c, 'echo x > /moved/conf/written; echo "write: $?"']
`)
	step := -1
	for i, st := range p.Environments[0].Steps {
		if op, ok := st.Op.(planner.Mount); ok && op.Target == "/data/conf" && step < 0 {
			step = i
		}
	}
	if step < 0 {
		t.Fatalf("no bind of /data/conf in the plan:\n%s", planText(p))
	}
	out := applyPausedAt(t, p, "victim", step, func() {
		// The other environment: the bind's folder renamed away, a folder of
		// its own with the same names put in its place.
		if err := os.Rename(filepath.Join(root, "data"), filepath.Join(root, "moved")); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(root, "data", "conf", "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := os.Stat(filepath.Join(host, "conf", "written")); err == nil || strings.Contains(out, "write: 0") {
		t.Errorf("the host's folder bound read-only below the bind was written through the folder moved away: %q", out)
	}
}
