package executor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
)

// TestRootProcConfineRenamed (helper-51's review): the read-only and
// masked paths of a proc mount were mounted on their targets resolved
// again by path after the proc mount, so another environment that may
// write the same tree (the same dir root with readonly: false, or a
// writable bind of it) renamed the folder proc was mounted on away and
// put a folder of its own in its place: /proc/sys's read-only bind and
// the masks went to that folder, and the real proc, at the new name,
// kept /proc/sys writable for root inside (kernel.core_pattern runs a
// program as the host's root). Done by hand with two environments, an
// exchange loop in one (renameat2 RENAME_EXCHANGE) won 6 starts of 20.
// The test plays that other environment while the child stage is paused
// before the first confinement step; inside, opening core_pattern for
// writing (nothing is written) must fail, and /proc/keys read empty.
func TestRootProcConfineRenamed(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	if err := os.MkdirAll(filepath.Join(root, "proc"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := compile(t, dir, `version: 1
environments:
  victim:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: proc, target: /proc}
    processes:
      - name: main
        command: [/bin/sh, -c, 'true >> /moved/sys/kernel/core_pattern; echo "open: $?"; echo "keys: [$(head -c 1 /moved/keys)]"']
`)
	step := -1
	var confined []string
	for i, st := range p.Environments[0].Steps {
		if op, ok := st.Op.(planner.Mount); ok && op.Confine != "" && strings.HasPrefix(op.Target, "/proc/") {
			if step < 0 {
				step = i
			}
			confined = append(confined, op.Target)
		}
	}
	if step < 0 {
		t.Fatal("no masked or read-only path of /proc in the plan")
	}
	out := applyPausedAt(t, p, "victim", step, func() {
		// The other environment: proc's folder renamed away, a folder of its
		// own with the confined names put in its place.
		if err := os.Rename(filepath.Join(root, "proc"), filepath.Join(root, "moved")); err != nil {
			t.Fatal(err)
		}
		for _, c := range confined {
			fake := filepath.Join(root, c)
			st, err := os.Stat(c) // the host's /proc has the same kinds
			if err != nil {
				t.Fatal(err)
			}
			if st.IsDir() {
				err = os.MkdirAll(fake, 0o755)
			} else if err = os.MkdirAll(filepath.Dir(fake), 0o755); err == nil {
				err = os.WriteFile(fake, nil, 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	})
	if !strings.Contains(out, "open: 1") {
		t.Errorf("root inside opened core_pattern for writing through the proc moved away: %q", out)
	}
	if _, err := os.Stat("/proc/keys"); err == nil && !strings.Contains(out, "keys: []") {
		t.Errorf("/proc/keys of the proc moved away is not masked: %q", out)
	}
}
