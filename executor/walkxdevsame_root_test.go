package executor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
)

// TestRootSameTargetRenamed (helper-66's review): a mount at the target
// of an earlier one (a tmpfs at /a/x, then another there) was walked
// crossing mounts, its target "below" the earlier mount's. Another
// environment that may write the tree (the same dir root with readonly:
// false) renamed rootfs/a away once the first was mounted and put a
// link to /data/conf in its place: the second's missing folder was made
// in the host's hostdata/conf, which the environment binds read-only
// after. A target that is an earlier mount's, and crosses no other, is
// walked crossing no mount now (the walk ends on that mount only when
// it is there, and then the first lookup finds it). The test plays that
// other environment while the child stage is paused before the second.
func TestRootSameTargetRenamed(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	host := filepath.Join(dir, "hostdata")
	for _, d := range []string{filepath.Join(root, "data"), filepath.Join(root, "a", "x"), filepath.Join(host, "conf")} {
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
      - {type: tmpfs, target: /a/x, size: 1m}
      - {type: tmpfs, target: /a/x, size: 2m}
      - {type: bind, source: ./hostdata/conf, target: /data/conf, readonly: true}
    processes:
      - {name: main, command: [/bin/true]}
`)
	step, n := -1, 0
	for i, st := range p.Environments[0].Steps {
		if m, ok := st.Op.(planner.Mount); ok && m.Target == "/a/x" {
			if n++; n == 2 {
				step = i
			}
		}
	}
	if step < 0 {
		t.Fatalf("no second mount at /a/x in the plan:\n%s", planText(p))
	}
	out := applyPausedAt(t, p, "victim", step, func() {
		if err := os.Rename(filepath.Join(root, "a"), filepath.Join(root, "a2")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/data/conf", filepath.Join(root, "a")); err != nil {
			t.Fatal(err)
		}
	})
	if names := dirNames(filepath.Join(host, "conf")); len(names) != 0 {
		t.Errorf("the host's folder bound read-only got %v through the link: %q\n%s", names, out, planText(p))
	}
	if !strings.Contains(out, "cross-device") {
		t.Errorf("apply did not fail for the link to another mount: %q", out)
	}
}

// TestRootSameTargetStacked: a mount at an earlier one's target, walked
// crossing no mount, is still made on it (the first lookup finds it).
func TestRootSameTargetStacked(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	if err := os.MkdirAll(filepath.Join(root, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := compile(t, dir, `version: 1
environments:
  stacked:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: proc, target: /proc}
      - {type: tmpfs, target: /a/x, size: 1m}
      - {type: tmpfs, target: /a/x, size: 2m}
    processes:
      - {name: main, command: [/bin/sh, -c, 'grep -c " /a/x " /proc/self/mountinfo']}
`)
	if text := planText(p); !strings.Contains(text, "<root>/a/x, \"tmpfs\", MS_NOSUID|MS_NODEV, \"size=2m\"), mkdir target if missing, crossing no mount") {
		t.Fatalf("the two mounts are not walked crossing no mount:\n%s", text)
	}
	if out := runOK(t, p); strings.TrimSpace(out) != "2" {
		t.Errorf("mounts at /a/x: %q, want 2", out)
	}
}
