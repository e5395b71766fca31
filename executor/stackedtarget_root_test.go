package executor_test

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRootStackedKindsApply: the stacks the plan still allows since
// helper-139's check of a target against the earlier mount there (a
// folder's bind on a tmpfs at its point, a file bound on a file of that
// folder, a tmpfs on a folder of it, a file bound in that tmpfs, and a
// file bound over that bind at its point) apply, each on top of the one
// before, as the process sees from inside.
func TestRootStackedKindsApply(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	for _, d := range []string{"host/sub"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for f, text := range map[string]string{"host/afile": "host\n", "conf": "conf\n", "conf2": "conf2\n"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := compile(t, dir, `version: 1
environments:
  stacked:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: proc, target: /proc}
      - {type: tmpfs, target: /m}
      - {type: bind, source: ./host, target: /m, readonly: true}
      - {type: bind, source: ./conf, target: /m/afile}
      - {type: tmpfs, target: /m/sub}
      - {type: bind, source: ./conf, target: /m/sub/f}
      - {type: bind, source: ./conf2, target: /m/sub/f}
    processes:
      - name: main
        command: [/bin/sh, -c, 'for p in /m /m/afile /m/sub /m/sub/f; do echo "$p $(grep -c " $p " /proc/self/mountinfo) $(stat -c %F $p)"; done; cat /m/afile /m/sub/f; touch /m/new || echo read-only /m']
`)
	out := runOK(t, p)
	want := "/m 2 directory\n/m/afile 1 regular file\n/m/sub 1 directory\n/m/sub/f 2 regular file\nconf\nconf2\nread-only /m\n"
	if out != want {
		t.Errorf("inside:\n%s\nwant:\n%s", out, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "host/new")); err == nil {
		t.Errorf("the read-only bind on the tmpfs at /m was written")
	}
}
