package executor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
)

// stepAt is the index of the first step of p's first environment that
// mounts at target (not a masked or read-only path), or fails the test.
func stepAt(t *testing.T, p *planner.Plan, target string) int {
	t.Helper()
	for i, st := range p.Environments[0].Steps {
		if op, ok := st.Op.(planner.Mount); ok && op.Target == target && op.Confine == "" {
			return i
		}
	}
	t.Fatalf("no mount at %s in the plan:\n%s", target, planText(p))
	return -1
}

// renameAway plays another environment that may write the tree (the
// same dir root with readonly: false): root's folder from renamed to
// moved, and a folder of its own with the names below put in its place.
func renameAway(t *testing.T, root, from, moved string, names ...string) {
	t.Helper()
	if err := os.Rename(filepath.Join(root, from), filepath.Join(root, moved)); err != nil {
		t.Fatal(err)
	}
	for _, d := range names {
		if err := os.MkdirAll(filepath.Join(root, from, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRootNestedLateBindRenamed (helper-55's review of b89dc6f): a mount
// below a bind listed after a mount elsewhere was placed by its path, the
// executor holding one mount's fd at a time, and another environment
// that may write the tree renamed the bind's folder: the read-only bind
// went to that environment's folder, and root inside wrote the host's
// folder at the bind's new name. dc7723f refused such a spec, and two
// held siblings below one bind with it. The executor holds one fd per
// held mount now: both are resolved beneath the bind's fd, and the test
// plays that other environment while the child stage is paused before
// the first of them, after the mount elsewhere.
func TestRootNestedLateBindRenamed(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	host := filepath.Join(dir, "hostdata")
	for _, d := range []string{filepath.Join(root, "data"), filepath.Join(root, "other"), filepath.Join(host, "conf", "sub"),
		filepath.Join(host, "conf2", "sub"), filepath.Join(host, "hide")} {
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
      - {type: tmpfs, target: /other}
      - {type: bind, source: ./hostdata/conf, target: /data/conf, readonly: true}
      - {type: tmpfs, target: /data/conf/sub}
      - {type: bind, source: ./hostdata/conf2, target: /data/conf2, readonly: true}
      - {type: tmpfs, target: /data/conf2/sub}
      - {type: tmpfs, target: /other/x}
      - {type: tmpfs, target: /data/hide}
    processes:
      - name: main
        command: [/bin/sh, -c, 'for d in conf conf2; do echo x > /moved/$d/written; echo "write $d: $?"; done; echo "hidden: [$(cat /moved/hide/secret)]"']
`)
	text := planText(p)
	for _, w := range []string{"move_mount(its fd, <mount at /data>/conf), its fd held", "move_mount(its fd, <mount at /data>/conf2), its fd held",
		`<mount at /data/conf2>/sub`, `<mount at /data>/hide`} {
		if !strings.Contains(text, w) {
			t.Fatalf("the plan does not show %q:\n%s", w, text)
		}
	}
	out := applyPausedAt(t, p, "victim", stepAt(t, p, "/data/conf"), func() {
		renameAway(t, root, "data", "moved", "conf/sub", "conf2/sub", "hide")
	})
	for _, d := range []string{"conf", "conf2"} {
		if _, err := os.Stat(filepath.Join(host, d, "written")); err == nil || !strings.Contains(out, "write "+d+": 1") {
			t.Errorf("the host's %s bound read-only below the bind was written through the folder moved away: %q", d, out)
		}
	}
	if strings.Contains(out, "host-secret") || !strings.Contains(out, "hidden: []") {
		t.Errorf("the host's folder a tmpfs hides below the bind was read through the folder moved away: %q", out)
	}
}

// TestRootNestedTmpfsConfinedRenamed (helper-56's review): a tmpfs below
// a bind, with a read-only path of its own, was placed by its path, then
// refused (4a13554): the rename of the bind's folder by another
// environment that may write the tree sent it to that environment's
// folder, and the host's folder it hid showed at the bind's new name.
// The tmpfs and its read-only path are resolved beneath the bind's fd.
func TestRootNestedTmpfsConfinedRenamed(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	host := filepath.Join(dir, "hostdata")
	for _, d := range []string{filepath.Join(root, "data", "hide"), filepath.Join(host, "hide")} {
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
      - {type: tmpfs, target: /data/hide}
    security:
      readonly_paths: [/data/hide]
    processes:
      - name: main
        command: [/bin/sh, -c, 'echo "hidden: [$(cat /moved/hide/secret)]"; touch /moved/hide/new; echo "write: $?"']
`)
	if text := planText(p); !strings.Contains(text, "open_tree(<mount at /data>/hide, OPEN_TREE_CLONE|AT_RECURSIVE)") {
		t.Fatalf("the read-only path below the tmpfs is not beneath the bind:\n%s", text)
	}
	out := applyPausedAt(t, p, "victim", stepAt(t, p, "/data/hide"), func() {
		renameAway(t, root, "data", "moved", "hide")
	})
	if strings.Contains(out, "host-secret") || !strings.Contains(out, "hidden: []") {
		t.Errorf("the host's folder a tmpfs hides below the bind was read through the folder moved away: %q", out)
	}
	if !strings.Contains(out, "write: 1") {
		t.Errorf("the tmpfs made read-only below the bind was written at the bind's new name: %q", out)
	}
}

// TestRootKernelMountsBelowBindRenamed: a proc, a dev and an mqueue
// below a bind were placed by their path: another environment that may
// write the tree renamed the bind's folder, and they went to its folder,
// leaving the bind's own empty (and a proc below it without its masked
// and read-only paths, were the paths of the spec's resolved the same
// way). They are resolved beneath the bind's held fd: at the bind's new
// name, proc, /dev's nodes, its devpts (its read-only remount too) and
// the mqueue are there.
func TestRootKernelMountsBelowBindRenamed(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	host := filepath.Join(dir, "hostdata")
	for _, d := range []string{filepath.Join(root, "data"), host} {
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
      - {type: proc, target: /data/proc}
      - {type: dev, target: /data/dev, readonly: true}
      - {type: mqueue, target: /data/mq}
    processes:
      - name: main
        command: [/bin/sh, -c, 'test -r /moved/proc/self/stat && echo "proc: ok"; true >> /moved/proc/sys/kernel/core_pattern; echo "open: $?"; test -c /moved/dev/null && echo "null: ok"; test -c /moved/dev/pts/ptmx && echo "pts: ok"; touch /moved/dev/new; echo "devwrite: $?"; grep " mqueue " /moved/proc/self/mounts']
`)
	text := planText(p)
	for _, w := range []string{`move_mount(its fd, <mount at /data>/proc), its fd held`, `<mount at /data/proc>/sys`,
		`move_mount(its fd, <mount at /data>/dev), its fd held`, `mount("devpts", <mount at /data/dev>/pts,`, `symlink("pts/ptmx", <mount at /data/dev>/ptmx)`,
		`mount("mqueue", <mount at /data>/mq,`} {
		if !strings.Contains(text, w) {
			t.Fatalf("the plan does not show %q:\n%s", w, text)
		}
	}
	out := applyPausedAt(t, p, "victim", stepAt(t, p, "/data/proc"), func() {
		renameAway(t, root, "data", "moved", "proc", "dev", "mq")
	})
	for _, w := range []string{"proc: ok", "open: 1", "null: ok", "pts: ok", "devwrite: 1", "/moved/mq mqueue"} {
		if !strings.Contains(out, w) {
			t.Errorf("at the bind's new name, %q is not so: %q", w, out)
		}
	}
	for _, d := range []string{"proc", "mq"} {
		if ents, _ := os.ReadDir(filepath.Join(host, d)); len(ents) != 0 {
			t.Errorf("the host's folder %s got %d entries", d, len(ents))
		}
	}
}
