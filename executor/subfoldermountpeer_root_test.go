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

// TestRootSubfolderMountHidesPidPeer (helper-80): the pid-peer variant of
// subfolderMountHides, which only a planner test covered. b shares a's
// pid namespace from a mount namespace of its own (and a net namespace
// of its own: no Landlock domain keeps it from a's processes), passes
// the ptrace check on a's processes and reaches a's mounts through their
// /proc/PID/root, where the kernel refuses to rename only the mount
// points of b's own namespace. So a mount that hides host files is not
// held even where it is without a peer (TestRootMountDirectlyInBindHeld):
//   - a tmpfs directly in a's writable bind (/data/top over
//     hostdata/top): b moves a's /data/top to /data/top2 and makes an
//     empty /data/top;
//   - a tmpfs in a subfolder bound onto its own place (hostdata/sub at
//     /data/sub, a tmpfs at /data/sub/cache): b moves /data/sub;
//   - a tmpfs directly in a writable dir root (/tmp over rootfsa/tmp):
//     b moves /tmp.
//
// The next run mounts the tmpfs on b's empty folder, and root inside a
// reads the host's files at the new name. Each is refused (renamableAbove
// with pidPeer); the test runs the attack where a spec plans. With the
// peer case of renamableAbove removed (folderOf as subfolderOf) all three
// plan and root inside a reads the hidden token in the second run: the
// test fails so (helper-80, by hand).
func TestRootSubfolderMountHidesPidPeer(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	rootA := filepath.Join(dir, "rootfsa")
	for _, d := range []string{"rootfs/data", "rootfs/proc", "hostdata/top", "hostdata/sub/cache"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"hostdata/top/token", "hostdata/sub/cache/token"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("hidden\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name, rootfs, mounts string
		mark                 string // a path only a's view has, that b finds a's processes by
		done                 string // where b leaves word it is done, as a sees it
		move                 string // the folder b renames (a's view)
		hidden               string // the hidden token at the new name, for a's next run
	}{
		{"a tmpfs directly in the writable bind", "{dir: ./rootfs}",
			"      - {type: bind, source: ./hostdata, target: /data}\n      - {type: tmpfs, target: /data/top}\n",
			"/data/top", "/data/moved", "/data/top", "/data/top2/token"},
		{"a tmpfs in a subfolder bound onto its own place", "{dir: ./rootfs}",
			"      - {type: bind, source: ./hostdata, target: /data}\n      - {type: bind, source: ./hostdata/sub, target: /data/sub}\n      - {type: tmpfs, target: /data/sub/cache}\n",
			"/data/sub/cache", "/data/moved", "/data/sub", "/data/sub2/cache/token"},
		{"a tmpfs directly in a writable dir root", "{dir: ./rootfsa, readonly: false}",
			"      - {type: tmpfs, target: /tmp}\n",
			"/amark", "/moved", "/tmp", "/tmp2/token"},
	} {
		// a's root: busybox's, with a token in its /tmp.
		os.RemoveAll(rootA)
		busyboxRootAt(t, rootA)
		os.MkdirAll(rootA+"/tmp", 0o755)
		os.MkdirAll(rootA+"/proc", 0o755)
		os.WriteFile(rootA+"/tmp/token", []byte("hidden\n"), 0o600)
		os.WriteFile(rootA+"/amark", nil, 0o644)
		os.Remove(filepath.Join(dir, "hostdata/moved"))
		plan := func(a, b string) (*planner.Plan, error) {
			s, err := spec.ParseBytesVars("test.yaml", dir, []byte(`version: 1
environments:
  a:
    rootfs: `+c.rootfs+`
    namespaces: [mnt, pid, net]
    mounts:
`+c.mounts+`    processes:
      - {name: main, command: [/bin/sh, -c, '`+a+`']}
  b:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, net]
    join: {pid: a}
    mounts:
      - {type: proc, target: /proc}
    processes:
      - {name: main, command: [/bin/sh, -c, '`+b+`']}
`), asWritten)
			if err != nil {
				t.Fatal(err)
			}
			return planner.Compile(s, planner.Options{CacheDir: filepath.Join(dir, "cache")})
		}
		// Run 1: b finds a's process (its root shows mark) and moves the
		// folder; a waits for word of it (a minute at most: not an
		// assertion, a bound on a broken run).
		p, err := plan("i=0; while [ ! -e "+c.done+" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done",
			"for p in /proc/[0-9]*; do [ -e $p/root"+c.mark+" ] && P=$p; done; mv $P/root"+c.move+" $P/root"+c.move+"2 && mkdir $P/root"+c.move+" && echo moved; touch $P/root"+c.done)
		if err != nil {
			if !strings.Contains(err.Error(), "environment b shares this environment's pid namespace from a mount namespace of its own") {
				t.Errorf("%s: refused, but not for b: %v", c.name, err)
			}
			continue
		}
		if _, out, errOut, err := run(t, p, executor.Options{}); !strings.Contains(out, "moved") {
			t.Fatalf("%s: run 1: b did not move %s (the test proves nothing): %q %q %v", c.name, c.move, out, errOut, err)
		}
		// Run 2: the same spec, planned again.
		if p, err = plan("cat "+c.hidden, "true"); err != nil {
			t.Fatalf("%s: run 2 refused: %v", c.name, err)
		}
		if _, out, _, _ := run(t, p, executor.Options{}); strings.Contains(out, "hidden") {
			t.Errorf("%s: root inside a read the host's file the tmpfs hid, at %s, after b moved %s: %q", c.name, c.hidden, c.move, out)
		}
	}
}

// busyboxRootAt is busyboxRoot's tree at root.
func busyboxRootAt(t *testing.T, root string) {
	t.Helper()
	tmp := t.TempDir()
	if err := os.Rename(busyboxRoot(t, tmp), root); err != nil {
		t.Fatal(err)
	}
}
