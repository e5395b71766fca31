package executor_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/planner/cgroup"
	"github.com/nsup/nsup/spec"
)

// TestRootMissingFolderLinkedOnHostMount (helper-68's review): a target
// on a mount of the host's below a dir root (a tmpfs at rootfs/mnt, a
// tmpfs of the spec's at /mnt/x/new) is walked crossing mounts, as it
// must be to reach it; that walk followed links, so the writer of the
// tree (another environment with the same dir root, which a recursive
// bind of it shows that host tmpfs, writable) that put a link to
// /data/conf at rootfs/mnt/x after the plan had the missing folder made
// in the host's hostdata/conf, bound read-only after (helper-59's
// review, again). The plan saw no link on the way: the walk follows
// none now, and fails on the one put there since.
func TestRootMissingFolderLinkedOnHostMount(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	host := filepath.Join(dir, "hostdata")
	for _, d := range []string{filepath.Join(root, "data"), filepath.Join(root, "mnt"), filepath.Join(host, "conf")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	below := filepath.Join(root, "mnt")
	if err := syscall.Mount("nsup-test", below, "tmpfs", 0, "mode=755"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(below, syscall.MNT_DETACH) })
	// A writable root: a read-only one makes the host's tmpfs read-only
	// before the spec's mounts, and the plan refuses the missing target
	// (TestRootReadonlyHostTargetRefused).
	p := compile(t, dir, `version: 1
environments:
  victim:
    rootfs: {dir: ./rootfs, readonly: false}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./hostdata, target: /data}
      - {type: tmpfs, target: /mnt/x/new}
      - {type: bind, source: ./hostdata/conf, target: /data/conf, readonly: true}
    processes:
      - {name: main, command: [/bin/true]}
`)
	text := planText(p)
	// The other environment, after the plan, in the host's tmpfs.
	if err := os.Symlink("/data/conf", filepath.Join(below, "x")); err != nil {
		t.Fatal(err)
	}
	_, out, errOut, err := run(t, p, executor.Options{})
	if names := dirNames(filepath.Join(host, "conf")); len(names) != 0 {
		t.Errorf("the host's folder bound read-only got %v through the link: %q %q %v\n%s", names, out, errOut, err, text)
	}
	if err == nil {
		t.Errorf("apply made the missing folder through a link: %q %q", out, errOut)
	}
}

// TestRootMissingFolderLinkedToHostMount (helper-69's review): a target
// that reaches a mount of the host's below a dir root through a link of
// the tree at plan time (/lnk -> mnt, a host tmpfs at rootfs/mnt, a
// tmpfs of the spec's at /lnk/x/new) was walked crossing mounts and
// following links, NoLinks being only for a path that passes no link:
// the writer of the tree that put a link to /data/conf at rootfs/mnt/x,
// or pointed /lnk at /data/conf, after the plan had the missing folders
// made in the host's hostdata/conf, bound read-only after. Such a target
// is refused now: name the path it leads to.
func TestRootMissingFolderLinkedToHostMount(t *testing.T) {
	for _, plant := range []string{"in the host mount", "the tree's link"} {
		t.Run(plant, func(t *testing.T) {
			requireRoot(t)
			checkHost(t)
			dir := t.TempDir()
			root := busyboxRoot(t, dir)
			host := filepath.Join(dir, "hostdata")
			for _, d := range []string{filepath.Join(root, "data"), filepath.Join(root, "mnt"), filepath.Join(host, "conf")} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Symlink("mnt", filepath.Join(root, "lnk")); err != nil {
				t.Fatal(err)
			}
			below := filepath.Join(root, "mnt")
			if err := syscall.Mount("nsup-test", below, "tmpfs", 0, "mode=755"); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { syscall.Unmount(below, syscall.MNT_DETACH) })
			s, err := spec.ParseBytesVars("test.yaml", dir, []byte(`version: 1
environments:
  victim:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./hostdata, target: /data}
      - {type: tmpfs, target: /lnk/x/new}
      - {type: bind, source: ./hostdata/conf, target: /data/conf, readonly: true}
    processes:
      - {name: main, command: [/bin/true]}
`), asWritten)
			if err != nil {
				t.Fatal(err)
			}
			// The host's mounts read now, with the tmpfs (cgroup.Host
			// reads them once per process).
			p, err := planner.Compile(s, planner.Options{CacheDir: filepath.Join(dir, "cache"),
				Cgroups: func() (*cgroup.Layout, error) { return cgroup.Discover(os.DirFS("/")) }})
			if err != nil {
				if !strings.Contains(err.Error(), "/lnk/x/new passes through the symlink /lnk of the root (-> \"mnt\") and leads to /mnt/x/new, on a mount of the host's below the root") {
					t.Fatalf("refused, but not for the link: %v", err)
				}
				return
			}
			// The other environment, after the plan.
			if plant == "in the host mount" {
				err = os.Symlink("/data/conf", filepath.Join(below, "x"))
			} else if err = os.Remove(filepath.Join(root, "lnk")); err == nil {
				err = os.Symlink("/data/conf", filepath.Join(root, "lnk"))
			}
			if err != nil {
				t.Fatal(err)
			}
			_, out, errOut, err := run(t, p, executor.Options{})
			if names := dirNames(filepath.Join(host, "conf")); len(names) != 0 {
				t.Errorf("the host's folder bound read-only got %v through the link: %q %q %v\n%s", names, out, errOut, err, planText(p))
			}
		})
	}
}
