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

// TestRootMountTargetSwappedForLink: the CVE-2021-30465 class (runc
// 1.0.0-rc95). A writer of the tree (another environment with the same
// dir root writable, or a volume shared by two) swaps a mount's target,
// a folder when the plan was made, for a symlink before the mount: to
// the host's folder (absolute, and as ../ enough times), or to the
// environment's /proc, whose masks the mount would cover. runc resolved
// the target and then mounted it by its path again. nsup opens the
// target once, inside the root (RESOLVE_IN_ROOT), its last component
// not followed, refuses a link there, and mounts through that fd: apply
// fails naming the link, and nothing is made or mounted where it leads
// (the test's check of the host, and the folders left empty).
func TestRootMountTargetSwappedForLink(t *testing.T) {
	requireRoot(t)
	for _, c := range []struct{ name, link string }{
		{"absolute", "HOST"},
		{"dots", "../../../../../../../..HOST"},
		{"proc", "proc"},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkHost(t)
			dir := t.TempDir()
			root := busyboxRoot(t, dir)
			hostSide := filepath.Join(dir, "hostside")
			for _, d := range []string{hostSide, filepath.Join(root, "data"), filepath.Join(root, "proc"), filepath.Join(root, hostSide)} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			p := compile(t, dir, `version: 1
environments:
  b:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: proc, target: /proc}
      - {type: tmpfs, target: /data}
      - {type: bind, source: ./hostside, target: /data/sub, create: true}
    processes:
      - {name: main, command: [/bin/sh, -c, "cat /proc/keys; echo ran"]}
`)
			// What the writer does between b's plan and its mounts.
			if err := os.Remove(filepath.Join(root, "data")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(strings.Replace(c.link, "HOST", hostSide, 1), filepath.Join(root, "data")); err != nil {
				t.Fatal(err)
			}
			st, out, errOut, err := run(t, p, executor.Options{})
			if err == nil || !errors.Is(err, unix.ELOOP) || !strings.Contains(err.Error(), "/data is a symlink inside the root") {
				t.Errorf("status %d, error %v, want the mount at /data refused (ELOOP)\n%s%s", st, err, out, errOut)
			}
			if strings.Contains(out, "ran") {
				t.Errorf("the environment ran: %q", out)
			}
			for _, d := range []string{hostSide, filepath.Join(root, hostSide)} {
				if names := dirNames(d); len(names) != 0 {
					t.Errorf("%s got %v through the link", d, names)
				}
			}
		})
	}
}
