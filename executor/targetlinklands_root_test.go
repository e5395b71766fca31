package executor_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/nsup/nsup/executor"
)

// TestRootMountTargetLinkLands (helper-137's): a mount whose target is,
// at its end, a symlink of a dir root (a merged-/usr tree's /lib64 ->
// usr/lib64; a file's /etc/conf -> ../srv/conf, not there yet) planned,
// and apply failed at the mount with ELOOP ("/lib64 is a symlink inside
// the root"). The plan writes where the link leads now, as runc mounts
// there: the tmpfs is at /usr/lib64, seen through /lib64 too, hiding the
// tree's file there; the bound file is at /srv/conf (apply made its
// place), read through /etc/conf; the links are still links.
func TestRootMountTargetLinkLands(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	if err := os.MkdirAll(filepath.Join(root, "usr", "lib64"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "usr", "lib64", "tree-file"), []byte("tree\n"), 0o644)
	os.MkdirAll(filepath.Join(root, "srv"), 0o755)
	for link, to := range map[string]string{"lib64": "usr/lib64", "etc/conf": "../srv/conf"} {
		if err := os.Symlink(to, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "conf"), []byte("from the host\n"), 0o644)
	p := compile(t, dir, `version: 1
environments:
  b:
    rootfs: {dir: ./rootfs, readonly: true}
    namespaces: [mnt, pid]
    mounts:
      - {type: proc, target: /proc}
      - {type: tmpfs, target: /lib64}
      - {type: bind, source: ./conf, target: /etc/conf, readonly: true}
    processes:
      - name: main
        command:
          - /bin/sh
          - -c
          - |
            echo "== mounts"; grep -e lib64 -e conf /proc/self/mountinfo
            echo "== lib64"; ls /lib64; readlink /lib64
            echo "== conf"; cat /etc/conf; readlink /etc/conf
`)
	out := runOK(t, p)
	s := sections(out)
	mounts := strings.Join(s["mounts"], "\n")
	if !strings.Contains(mounts, " /usr/lib64 rw,nosuid,nodev") || !strings.Contains(mounts, "- tmpfs") || !strings.Contains(mounts, " /srv/conf ") || strings.Contains(mounts, " /lib64 ") || strings.Contains(mounts, " /etc/conf ") {
		t.Errorf("mounts inside:\n%s\nwant the tmpfs at /usr/lib64 and the bind at /srv/conf", mounts)
	}
	if got := strings.Join(s["lib64"], "|"); got != "usr/lib64" {
		t.Errorf("/lib64 inside: %q, want the tmpfs (empty), through the link usr/lib64", got)
	}
	if got := strings.Join(s["conf"], "|"); got != "from the host|../srv/conf" {
		t.Errorf("/etc/conf inside: %q, want the host's file, through the link ../srv/conf", got)
	}
	if b, err := os.ReadFile(filepath.Join(root, "usr", "lib64", "tree-file")); err != nil || string(b) != "tree\n" {
		t.Errorf("the tree's file: %q %v", b, err)
	}
}

// TestRootMountTargetLinkTar: a tar root's tree is not known at plan
// time, so its link at a target's end is found by apply, which refuses
// it (a mount is placed on no link there), nothing run, and says what to
// write instead; before, the error said only "/lib64 is a symlink
// inside the root: too many levels of symbolic links".
func TestRootMountTargetLinkTar(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	os.MkdirAll(filepath.Join(root, "usr", "lib64"), 0o755)
	if err := os.Symlink("usr/lib64", filepath.Join(root, "lib64")); err != nil {
		t.Fatal(err)
	}
	tarOf(t, root, filepath.Join(dir, "root.tar"))
	p := compile(t, dir, `version: 1
environments:
  b:
    rootfs: {tar: ./root.tar}
    namespaces: [mnt, pid]
    mounts:
      - {type: tmpfs, target: /lib64}
    processes:
      - {name: main, command: [/bin/sh, -c, 'echo ran']}
`)
	st, out, errOut, err := run(t, p, executor.Options{})
	want := "/lib64 is a symlink inside the root, the tar archive's tree, which the plan cannot see: a mount is placed on no link at its target's end (one could lead it anywhere); write the target as the path the link leads to"
	if err == nil || !errors.Is(err, unix.ELOOP) || !strings.Contains(err.Error(), want) {
		t.Errorf("status %d, error %v, want %q (ELOOP)\n%s", st, err, want, errOut)
	}
	if strings.Contains(out, "ran") {
		t.Errorf("the environment ran: %q", out)
	}
}
