package executor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
)

// TestRootNestedBindRenamed (helper-54's review): a mount of the spec's
// below a bind of a host folder (a read-only bind of a subfolder, a
// tmpfs that hides one) was resolved again by path from the root after
// the bind. Another environment that may write the tree (the same dir
// root with readonly: false) renamed the folder the bind had just been
// mounted on and put a folder of its own in its place: the read-only
// bind and the tmpfs went there, and at the bind's new name root inside
// wrote the host's folder and read the hidden one. The test plays that
// other environment while the child stage is paused before the first
// mount below the bind.
func TestRootNestedBindRenamed(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	host := filepath.Join(dir, "hostdata")
	for _, d := range []string{filepath.Join(root, "data"), filepath.Join(host, "conf"), filepath.Join(host, "hide")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(host, "hide", "secret"), []byte("host-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := compile(t, dir, `version: 1
environments:
  victim:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./hostdata, target: /data}
      - {type: bind, source: ./hostdata/conf, target: /data/conf, readonly: true}
      - {type: tmpfs, target: /data/hide}
    processes:
      - name: main
        command: [/bin/sh, -c, 'echo x > /moved/conf/written; echo "write: $?"; echo "hidden: [$(cat /moved/hide/secret)]"']
`)
	step := -1
	for i, st := range p.Environments[0].Steps {
		if op, ok := st.Op.(planner.Mount); ok && op.Target == "/data/conf" {
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
		for _, d := range []string{"conf", "hide"} {
			if err := os.MkdirAll(filepath.Join(root, "data", d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	})
	if _, err := os.Stat(filepath.Join(host, "conf", "written")); err == nil || strings.Contains(out, "write: 0") {
		t.Errorf("the host's folder bound read-only below the bind was written through the folder moved away: %q", out)
	}
	if strings.Contains(out, "host-secret") || !strings.Contains(out, "hidden: []") {
		t.Errorf("the host's folder a tmpfs hides below the bind was read through the folder moved away: %q", out)
	}
}
