package executor_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
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

// TestRootMountTargetLinkTar: a tar root's tree is known to the plan
// through its archive's shape (planner/tarshape.go), so a link of the
// archive at a target's end is mounted where it leads, as a dir root's:
// before, apply refused it (ELOOP, "a symlink inside the root, the tar
// archive's tree, which the plan cannot see"). A host file bound over a
// file of the archive, and a tmpfs at a folder the archive lacks (made
// in the overlay's upper layer), apply with it; the archive's own file
// below the link is unchanged in the cache.
func TestRootMountTargetLinkTar(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	os.MkdirAll(filepath.Join(root, "usr", "lib64"), 0o755)
	os.WriteFile(filepath.Join(root, "usr", "lib64", "tree-file"), []byte("tree\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc", "conf"), []byte("archive's\n"), 0o644)
	if err := os.Symlink("usr/lib64", filepath.Join(root, "lib64")); err != nil {
		t.Fatal(err)
	}
	tarOf(t, root, filepath.Join(dir, "root.tar"))
	os.WriteFile(filepath.Join(dir, "conf"), []byte("from the host\n"), 0o644)
	p := compile(t, dir, `version: 1
environments:
  b:
    rootfs: {tar: ./root.tar}
    namespaces: [mnt, pid]
    mounts:
      - {type: proc, target: /proc}
      - {type: tmpfs, target: /lib64}
      - {type: bind, source: ./conf, target: /etc/conf, readonly: true}
      - {type: tmpfs, target: /newdir/sub}
    processes:
      - name: main
        command:
          - sh
          - -c
          - |
            echo "== mounts"; grep -e lib64 -e conf -e newdir /proc/self/mountinfo | sed 's/^\([^ ]* \)\{4\}\([^ ]*\) .* - \([^ ]*\) .*/\2 \3/' 
            echo "== lib64"; ls /lib64; readlink /lib64
            echo "== conf"; cat /etc/conf
`)
	if notes := strings.Join(p.Environments[0].Notes, "\n"); !strings.Contains(notes, `/lib64 is a symlink of the root (-> "usr/lib64"): mounted where it leads, at /usr/lib64`) {
		t.Errorf("notes:\n%s", notes)
	}
	s := sections(runOK(t, p))
	if got := strings.Join(s["mounts"], "|"); !regexp.MustCompile(`^/usr/lib64 tmpfs\|/etc/conf [a-z0-9]+\|/newdir/sub tmpfs$`).MatchString(got) {
		t.Errorf("mounts inside: %q, want the tmpfs at /usr/lib64, the bind at /etc/conf, the tmpfs at /newdir/sub", got)
	}
	if got := strings.Join(s["lib64"], "|"); got != "usr/lib64" {
		t.Errorf("/lib64 inside: %q, want the tmpfs (empty), through the link usr/lib64", got)
	}
	if got := strings.Join(s["conf"], "|"); got != "from the host" {
		t.Errorf("/etc/conf inside: %q, want the host's file", got)
	}
}
