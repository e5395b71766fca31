package executor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRootReadonlyHostTargetThere (helper-144): a mount whose target is
// missing in a host folder on a read-only mount of the host's (a dir
// root's, a writable bind's), or on a host mount below a read-only dir
// root's folder, is refused at plan time (apply failed with "read-only
// file system": planner's TestRootReadonlyHostTargetRefused). What the
// plan still allows applies: a target that is there on the read-only
// host mount (in the root, in a writable bind of a folder of it), one an
// overlaid root of it lacks (made in the overlay's upper layer, not in
// the host's folder), and, below a read-only root, one there on a host
// mount below its folder and one missing in the root's own folder (made
// before the root is made read-only). Each tmpfs shows at its target
// inside and takes a file.
func TestRootReadonlyHostTargetThere(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	ro, rw := filepath.Join(dir, "ro"), filepath.Join(dir, "rw")
	for _, d := range []string{"ro/data/sub", "rw"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	busyboxRootAt(t, filepath.Join(ro, "root"))
	busyboxRootAt(t, filepath.Join(rw, "root"))
	for _, d := range []string{"ro/root/exists", "ro/root/data", "ro/root/proc", "rw/root/sub", "rw/root/proc"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// ro: a read-only bind of itself; rw/root/sub: a tmpfs of the host's.
	if err := unix.Mount(ro, ro, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(ro, unix.MNT_DETACH) })
	if err := unix.Mount("", ro, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(rw, "root/sub")
	if err := unix.Mount("nsup-h144", sub, "tmpfs", 0, "size=64k"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(sub, unix.MNT_DETACH) })
	if err := os.Mkdir(filepath.Join(sub, "there"), 0o755); err != nil {
		t.Fatal(err)
	}
	tmpfs := func(at string) string { return "      - {type: tmpfs, target: " + at + ", size: 1M}\n" }
	for _, c := range []struct {
		rootfs, mounts string
		targets        []string
	}{
		{"{dir: ./ro/root}", tmpfs("/exists") + "      - {type: bind, source: ./ro/data, target: /data}\n" + tmpfs("/data/sub"), []string{"/exists", "/data/sub"}},
		{"{dir: ./ro/root, overlay: true}", tmpfs("/new"), []string{"/new"}},
		{"{dir: ./rw/root}", tmpfs("/sub/there") + tmpfs("/newtop"), []string{"/sub/there", "/newtop"}},
	} {
		p := compile(t, dir, `version: 1
environments:
  a:
    rootfs: `+c.rootfs+`
    namespaces: [mnt, pid, net, ipc]
    mounts:
      - {type: proc, target: /proc}
`+c.mounts+`    processes:
      - name: main
        command: [/bin/sh, -c, 'for d in `+strings.Join(c.targets, " ")+`; do grep " $d " /proc/self/mountinfo | grep " - tmpfs " | grep -q size=1024k && echo "$d mounted"; echo x > $d/f && echo "$d written"; done']
`)
		out := runOK(t, p)
		for _, d := range c.targets {
			for _, w := range []string{d + " mounted\n", d + " written\n"} {
				if !strings.Contains(out, w) {
					t.Errorf("%s: want %q in:\n%s", c.rootfs, w, out)
				}
			}
		}
	}
	// The overlay's target was made in its upper layer.
	if _, err := os.Lstat(filepath.Join(ro, "root/new")); !os.IsNotExist(err) {
		t.Errorf("the overlaid root's target in the host's folder: %v", err)
	}
}
