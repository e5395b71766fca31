package executor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
)

// TestRootSubfolderMountHidesRenamed (helper-75's review, medium): a
// mount that hides host files in a subfolder of a writable bind
// (hostdata bound writable at /data, a tmpfs at /data/sub/cache over
// hostdata/sub/cache, as teams hide node_modules or secrets) held for
// one run only: the kernel refuses to rename the mount point
// /data/sub/cache, not /data/sub above it. Root inside moved /data/sub
// to /data/sub2 and made an empty /data/sub; the next apply mounted the
// tmpfs on root inside's /data/sub/cache, and root inside read and
// wrote the host's hostdata/sub/cache at /data/sub2/cache. So did a
// bind of another folder there, and a tmpfs at /etc/cache in a
// writable dir root's own tree, with /etc moved. Such specs are
// refused now (subfolderMountHides).
func TestRootSubfolderMountHidesRenamed(t *testing.T) {
	const move, then = "mv /data/sub /data/sub2 && mkdir /data/sub && echo moved", `cat /data/sub2/cache/token; echo x > /data/sub2/cache/f && echo "written"`
	for _, mount := range []string{
		"      - {type: tmpfs, target: /data/sub/cache}\n",
		"      - {type: bind, source: ./other, target: /data/sub/cache}\n",
	} {
		out := renamedAcrossRuns(t, []string{"sub/cache/token"}, mount, "", move, then, "other/")
		if strings.Contains(out, "hidden") || strings.Contains(out, "written") {
			t.Errorf("%sroot inside reached the host's folder the mount hid at its parent's new name: %q", mount, out)
		}
	}
	out := renamedAcrossRunsIn(t, "{dir: ./rootfs, readonly: false}", []string{"rootfs/etc/cache/token"},
		"      - {type: tmpfs, target: /etc/cache}\n", "",
		"mv /etc /etc2 && mkdir /etc && echo moved",
		`cat /etc2/cache/token; echo x > /etc2/cache/f && echo "written"`, "a subfolder of the writable root")
	if strings.Contains(out, "hidden") || strings.Contains(out, "written") {
		t.Errorf("root inside reached the tree's folder the tmpfs hid at /etc2: %q", out)
	}
}

// TestRootMountDirectlyInBindHeld (helper-75's review): what still
// plans holds. A tmpfs directly in a writable bind (/data/cache, as a
// dev box's /work/node_modules) is a mount point in the bind's own
// mount point: root inside can rename neither, and never reads the
// host's files it hides; one over a host folder that is empty hides
// nothing (/data/sub/empty), and the next plan plans it again.
func TestRootMountDirectlyInBindHeld(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	for _, d := range []string{"rootfs/data", "hostdata/cache", "hostdata/sub/empty"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "hostdata/cache/token"), []byte("hidden\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := spec.ParseBytesVars("test.yaml", dir, []byte(`version: 1
environments:
  victim:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./hostdata, target: /data}
      - {type: tmpfs, target: /data/cache}
      - {type: tmpfs, target: /data/sub/empty}
    processes:
      - {name: main, command: [/bin/sh, -c, 'mv /data/cache /data/c2 && echo moved; cat /data/cache/token /data/c2/token; mv /data/sub /data/sub2 && echo renamed; echo x > /data/x && echo written']}
`), asWritten)
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 2; n++ {
		p, err := planner.Compile(s, planner.Options{CacheDir: filepath.Join(dir, "cache")})
		if err != nil {
			t.Fatalf("run %d: %v", n, err)
		}
		_, out, errOut, _ := run(t, p, executor.Options{})
		if !strings.Contains(out, "written") || !strings.Contains(out, "renamed") {
			t.Fatalf("run %d: the writable bind was not written, or /data/sub not renamed (the test proves nothing): %q %q", n, out, errOut)
		}
		if strings.Contains(out, "moved") || strings.Contains(out, "hidden") {
			t.Errorf("run %d: root inside moved the tmpfs's mount point or read the host's file it hides: %q", n, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "hostdata/cache/token")); err != nil {
		t.Errorf("the hidden file is no longer at its place: %v", err)
	}
}
