package executor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
)

// TestRootTmpfsChildRenamed (helper-63's review): a mount below a tmpfs
// that lies below no bind (/srv, then /srv/inner) was placed by its path
// from the root, its missing folder made by a walk that crossed the
// tmpfs. Another environment that may write the tree (the same dir root
// with readonly: false) renamed rootfs/srv away once its tmpfs was
// mounted and put a symlink to /data/conf in its place: the missing
// folder was made in the host's hostdata/conf, which the environment
// binds read-only after (through its writable bind of hostdata at /data).
// A tmpfs that mounts of the spec's lie below is held now, and they are
// resolved beneath it. The test plays that other environment while the
// child stage is paused before the mount below the tmpfs.
func TestRootTmpfsChildRenamed(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	host := filepath.Join(dir, "hostdata")
	for _, d := range []string{filepath.Join(root, "data"), filepath.Join(root, "srv"), filepath.Join(host, "conf")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p := compile(t, dir, `version: 1
environments:
  victim:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid, ipc]
    mounts:
      - {type: bind, source: ./hostdata, target: /data}
      - {type: tmpfs, target: /srv, size: 1m}
      - {type: tmpfs, target: /srv/inner}
      - {type: bind, source: ./hostdata/conf, target: /data/conf, readonly: true}
    processes:
      - name: main
        command: [/bin/sh, -c, 'test -d /srv2/inner && echo "inner: ok"']
`)
	step := -1
	for i, st := range p.Environments[0].Steps {
		if m, ok := st.Op.(planner.Mount); ok && m.Target == "/srv/inner" {
			step = i
			break
		}
	}
	if step < 0 {
		t.Fatalf("no mount at /srv/inner in the plan:\n%s", planText(p))
	}
	out := applyPausedAt(t, p, "victim", step, func() {
		if err := os.Rename(filepath.Join(root, "srv"), filepath.Join(root, "srv2")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/data/conf", filepath.Join(root, "srv")); err != nil {
			t.Fatal(err)
		}
	})
	if names := dirNames(filepath.Join(host, "conf")); len(names) != 0 {
		t.Errorf("the host's folder bound read-only got %v through the tmpfs's folder moved away: %q", names, out)
	}
	if !strings.Contains(out, "inner: ok") {
		t.Errorf("the mount below the tmpfs is not in it, at its new name: %q", out)
	}
}
