package executor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRootDevLinksRenamed (helper-59's review): the dev mount's links
// (ptmx, fd, stdin, stdout, stderr), its console bind and, with the dev
// below no bind, its node binds, devpts and shm were placed by their
// paths from the root. Another environment that may write the tree (the
// same dir root with readonly: false) waited until the dev's tmpfs was
// mounted, renamed rootfs/dev away and put a symlink to /data/conf in its
// place: the links and a shm folder went into the host's hostdata/conf,
// which the environment binds read-only (its bind comes after the dev).
// The dev's tmpfs is held now, and its own steps are resolved beneath
// its fd. The test plays that other environment while the child stage is
// paused before the first link.
func TestRootDevLinksRenamed(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	host := filepath.Join(dir, "hostdata")
	for _, d := range []string{filepath.Join(root, "data"), filepath.Join(root, "dev"), filepath.Join(host, "conf")} {
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
      - {type: dev, target: /dev, readonly: true}
      - {type: bind, source: ./hostdata/conf, target: /data/conf, readonly: true}
    processes:
      - name: main
        command: [/bin/sh, -c, 'for l in ptmx fd stdin stdout stderr; do test -L /dev2/$l && echo "link $l: ok"; done; test -c /dev2/null && echo "null: ok"; test -d /dev2/shm && echo "shm: ok"; touch /dev2/new; echo "devwrite: $?"']
`)
	text := planText(p)
	for _, w := range []string{`fsmount(fsopen("tmpfs"), fsconfig("mode=755,size=65536k"), MS_NOSUID|MS_NODEV|MS_NOEXEC), move_mount(its fd, <root>/dev), its fd held`,
		`symlink("pts/ptmx", <mount at /dev>/ptmx)`, `symlink("/proc/self/fd/2", <mount at /dev>/stderr)`, `mount("tmpfs", <mount at /dev>/shm,`,
		`mount(NULL, <mount at /dev>, NULL, MS_REMOUNT|MS_BIND|MS_RDONLY`} {
		if !strings.Contains(text, w) {
			t.Fatalf("the plan does not show %q:\n%s", w, text)
		}
	}
	step := -1
	for i, st := range p.Environments[0].Steps {
		if st.Op.Kind() == "symlink" {
			step = i
			break
		}
	}
	if step < 0 {
		t.Fatalf("no symlink step in the plan:\n%s", planText(p))
	}
	out := applyPausedAt(t, p, "victim", step, func() {
		if err := os.Rename(filepath.Join(root, "dev"), filepath.Join(root, "dev2")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/data/conf", filepath.Join(root, "dev")); err != nil {
			t.Fatal(err)
		}
	})
	if names := dirNames(filepath.Join(host, "conf")); len(names) != 0 {
		t.Errorf("the host's folder bound read-only got %v through the dev's folder moved away: %q", names, out)
	}
	for _, w := range []string{"link ptmx: ok", "link fd: ok", "link stdin: ok", "link stdout: ok", "link stderr: ok", "null: ok", "shm: ok", "devwrite: 1"} {
		if !strings.Contains(out, w) {
			t.Errorf("at the dev's new name, %q is not so: %q", w, out)
		}
	}
}
