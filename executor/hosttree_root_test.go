package executor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// TestRootHostTreeNotShared: the host's clones of nsup's folders for an
// idmap's child (planner.OpenTree) on a shared mount of the host's, as
// systemd makes "/" (this test makes a shared tmpfs of its own hold the
// cache and the volumes). Found by helper-109's attacker review: a clone
// of a folder on a shared mount is a peer of that mount, and the child
// moved it in as it was, after making its own mount namespace's mounts
// private: every mount the child made on the root's or a volume's clone
// (a volume, a tmpfs, /proc) was made on the host too, under nsup's
// cache and volume folders, and stayed there after the environment
// ended (root inside with CAP_SYS_ADMIN would have mounted anything
// there, into the cache tree other environments clone); pivot_root
// refused the shared root (EINVAL). runc makes its root's mounts private
// or slaves before it mounts anything there, for the same reason. Now
// the host makes its clones private before the child takes them.
func TestRootHostTreeNotShared(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	requireBusybox(t)
	dir := t.TempDir()
	shared := filepath.Join(dir, "shared")
	if err := os.Mkdir(shared, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", shared, "tmpfs", 0, "mode=0700"); err != nil {
		t.Fatal(err)
	}
	// Undone before checkHost's check (cleanups run last first): the
	// tmpfs and whatever ended up mounted below it.
	t.Cleanup(func() { unix.Unmount(shared, unix.MNT_DETACH) })
	if err := unix.Mount("", shared, "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	cache, vols := filepath.Join(shared, "cache"), filepath.Join(shared, "volumes")
	for _, d := range []string{cache, vols} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("NSUP_VOLUME_DIR", vols)
	busyboxRoot(t, dir)
	os.Chmod(filepath.Dir(dir), 0o755) // a dir root: the child walks its path
	os.Chmod(dir, 0o755)
	os.Mkdir(filepath.Join(dir, "rootfs", "data"), 0o755)
	os.Mkdir(filepath.Join(dir, "rootfs", "tmp"), 0o755)
	// The closure root's clone and the volume's; with a dir root, the
	// volume's alone (apply went through there, and left the tmpfs of
	// /data/sub on the host).
	for _, root := range []string{"{closure: [/bin/busybox]}", "{dir: ./rootfs}"} {
		yaml := `version: 1
name: proj
volumes:
  data:
environments:
  c:
    rootfs: ` + root + `
    namespaces: [user, mnt, pid]` + mappedIDs + `
    mounts:
      - {type: volume, source: data, target: /data}
      - {type: tmpfs, target: /data/sub}
      - {type: tmpfs, target: /tmp}
    processes:
      - {name: main, command: [/bin/busybox, sh, -c, "echo kept > /data/x && busybox cat /data/x"]}
`
		s, err := spec.ParseBytesVars("test.yaml", dir, []byte(yaml), asWritten)
		if err != nil {
			t.Fatal(err)
		}
		p, err := planner.Compile(s, planner.Options{CacheDir: cache})
		if err != nil {
			t.Fatalf("%s: plan: %v", root, err)
		}
		if !strings.Contains(planText(p), "open_tree(") {
			t.Fatalf("%s: no host clone planned (the test proves nothing):\n%s", root, planText(p))
		}
		if _, out, errOut, err := run(t, p, executor.Options{}); out != "kept\n" {
			t.Errorf("%s: apply: %q %q %v, want the volume written and read", root, out, errOut, err)
		}
		checkShared(t, root, shared)
	}
}

// checkShared fails t if the host's mount table has a mount below the
// shared tmpfs at shared, and unmounts it (for the next case).
func checkShared(t *testing.T, what, shared string) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], shared+"/") {
			t.Errorf("%s: the environment's mount is on the host: %s", what, l)
			unix.Unmount(f[4], unix.MNT_DETACH)
		}
	}
}
