package executor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
)

// TestRootBindConfineRenamed (helper-52's review): the masked and
// read-only paths the spec lists below a bind of a host folder were
// mounted on targets resolved again by path from the root after the
// bind, as those of proc were before helper-51's review. Another
// environment that may write the tree (the same dir root with readonly:
// false, or a writable bind of it) renamed the folder the bind had just
// been mounted on and put a folder of its own with the same names in its
// place: the mask and the read-only bind went there, and the host's
// folder, at the new name, showed the masked file and took writes to the
// read-only one, files of the host's the spec kept from root inside. The
// test plays that other environment while the child stage is paused
// before the first confinement step.
func TestRootBindConfineRenamed(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	host := filepath.Join(dir, "hostdata")
	for _, d := range []string{filepath.Join(root, "data"), filepath.Join(host, "conf")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(host, "secret"), []byte("host-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := compile(t, dir, `version: 1
environments:
  victim:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./hostdata, target: /data}
    security:
      masked_paths: [/data/secret]
      readonly_paths: [/data/conf]
    processes:
      - name: main
        command: [/bin/sh, -c, 'echo "secret: [$(cat /moved/secret)]"; echo x > /moved/conf/written; echo "write: $?"']
`)
	step := -1
	for i, st := range p.Environments[0].Steps {
		if op, ok := st.Op.(planner.Mount); ok && op.Confine != "" && strings.HasPrefix(op.Target, "/data/") {
			if step < 0 {
				step = i
			}
		}
	}
	if step < 0 {
		t.Fatalf("no masked or read-only path of /data in the plan:\n%s", planText(p))
	}
	out := applyPausedAt(t, p, "victim", step, func() {
		// The other environment: the bind's folder renamed away, a folder of
		// its own with the confined names put in its place.
		if err := os.Rename(filepath.Join(root, "data"), filepath.Join(root, "moved")); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(root, "data", "conf"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "data", "secret"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	})
	if strings.Contains(out, "host-secret") || !strings.Contains(out, "secret: []") {
		t.Errorf("the host's file masked below the bind was read through the folder moved away: %q", out)
	}
	if _, err := os.Stat(filepath.Join(host, "conf", "written")); err == nil || strings.Contains(out, "write: 0") {
		t.Errorf("the host's folder made read-only below the bind was written through the folder moved away: %q", out)
	}
}
