package executor_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nsup/nsup/executor"
)

// TestRootMissingFolderLinkedWithHostMountBelow (helper-66's review):
// with any mount of the host's below a dir root (a tmpfs at rootfs/mnt),
// no mount of the root was walked crossing no mount (NoXDev), though
// most targets cross none of the host's: the writer of the tree that put
// a link to /data/conf in the place of /opt after the plan had the
// missing folder of a tmpfs at /opt/new made in the host's
// hostdata/conf, which the environment binds read-only after (helper-59's
// review, again). A target that crosses no host mount below the root, as
// written nor as the tree's links lead it, is walked crossing no mount
// now (TestWalkCrossesNoHostMount: one below the host's mount still
// crosses it).
func TestRootMissingFolderLinkedWithHostMountBelow(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	host := filepath.Join(dir, "hostdata")
	for _, d := range []string{filepath.Join(root, "data"), filepath.Join(root, "opt"), filepath.Join(root, "mnt"), filepath.Join(host, "conf")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	below := filepath.Join(root, "mnt")
	if err := syscall.Mount("nsup-test", below, "tmpfs", 0, "mode=755"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(below, syscall.MNT_DETACH) })
	p := compile(t, dir, `version: 1
environments:
  victim:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./hostdata, target: /data}
      - {type: tmpfs, target: /opt/new}
      - {type: bind, source: ./hostdata/conf, target: /data/conf, readonly: true}
    processes:
      - {name: main, command: [/bin/true]}
`)
	text := planText(p)
	if !strings.Contains(text, "<root>/opt/new, \"tmpfs\", MS_NOSUID|MS_NODEV, NULL), mkdir target if missing, crossing no mount") {
		t.Errorf("the mount is walked crossing mounts:\n%s", text)
	}
	// The other environment, after the plan.
	opt := filepath.Join(root, "opt")
	if err := os.Remove(opt); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/data/conf", opt); err != nil {
		t.Fatal(err)
	}
	_, out, errOut, err := run(t, p, executor.Options{})
	if names := dirNames(filepath.Join(host, "conf")); len(names) != 0 {
		t.Errorf("the host's folder bound read-only got %v through the link: %q %q %v\n%s", names, out, errOut, err, text)
	}
	if err == nil || !strings.Contains(err.Error(), "cross-device") {
		t.Errorf("apply: %v, want the link to another mount refused: %q %q", err, out, errOut)
	}
}
