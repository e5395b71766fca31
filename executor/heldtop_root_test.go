package executor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRootMaskBelowReadonlyHeld (helper-52's review): with the held
// mount itself listed in readonly_paths (/proc, or a bind's target),
// its read-only clone went on top of it, and the masks that followed,
// resolved beneath the held fd, went onto the mount below that clone,
// where nothing inside sees them: /proc/keys and the bind's masked file
// read in full (helper-51's fix had this; resolved by path, before it,
// they reached the clone). The held fd is now the clone's.
func TestRootMaskBelowReadonlyHeld(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	host := filepath.Join(dir, "hostdata")
	for _, d := range []string{filepath.Join(root, "data"), filepath.Join(root, "proc"), host} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(host, "secret"), []byte("host-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := compile(t, dir, `version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: proc, target: /proc}
      - {type: bind, source: ./hostdata, target: /data}
    security:
      masked_paths: [/proc/keys, /data/secret]
      readonly_paths: [/proc, /data]
    processes:
      - name: main
        command: [/bin/sh, -c, 'echo "keys: [$(head -c 1 /proc/keys)]"; echo "secret: [$(cat /data/secret)]"; true > /proc/sys/kernel/core_pattern; echo "open: $?"']
`)
	out := runOK(t, p)
	if _, err := os.Stat("/proc/keys"); err == nil && !strings.Contains(out, "keys: []") {
		t.Errorf("/proc/keys is not masked below a read-only /proc: %q", out)
	}
	if strings.Contains(out, "host-secret") || !strings.Contains(out, "secret: []") {
		t.Errorf("the masked file is read below a read-only bind: %q", out)
	}
	if !strings.Contains(out, "open: 1") {
		t.Errorf("core_pattern opened for writing below a read-only /proc: %q", out)
	}
}
