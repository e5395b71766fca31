package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRootCwdLinkedTarget: in a merged-/usr root (lib64 -> usr/lib64), a
// tmpfs at /lib64/t holds the cwd /usr/lib64/t/x, and a tmpfs at
// /lib64/newp/mnt makes the cwd /usr/lib64/newp: both apply, in a dir
// root with overlay and without. Before helper-136's review the plan
// refused both ("is not in the dir root"; the second applied before
// MakeCwd), and with overlay planned a MakeCwd of /usr/lib64/t/x that
// crossed the tmpfs (EXDEV).
func TestRootCwdLinkedTarget(t *testing.T) {
	rc := newReachCase(t, "cwdlink")
	dir, bin := rc.dir, rc.bin
	root := filepath.Join(dir, "r")
	os.MkdirAll(filepath.Join(root, "usr", "bin"), 0o755)
	os.MkdirAll(filepath.Join(root, "usr", "lib64"), 0o755)
	os.Symlink("usr/bin", filepath.Join(root, "bin"))
	os.Symlink("usr/lib64", filepath.Join(root, "lib64"))
	bb, err := os.ReadFile(requireBusybox(t))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "usr", "bin", "busybox"), bb, 0o755)
	for _, a := range []string{"sh", "sleep", "touch", "test"} {
		os.Symlink("busybox", filepath.Join(root, "usr", "bin", a))
	}
	for _, overlay := range []bool{false, true} {
		t.Run(fmt.Sprintf("overlay %v", overlay), func(t *testing.T) {
			spec := filepath.Join(dir, fmt.Sprintf("o%v.yaml", overlay))
			os.WriteFile(spec, []byte(fmt.Sprintf(`version: 1
environments:
  t:
    rootfs: {dir: ./r, overlay: %v}
    namespaces: [mnt, pid]
    mounts:
      - {type: tmpfs, target: /lib64/t}
      - {type: tmpfs, target: /lib64/newp/mnt}
    cwd: /usr/lib64/t/x
    processes:
      - {name: main, command: [/bin/sh, -c, 'pwd; until test -e /lib64/t/done; do sleep 0.02; done'], cwd: /usr/lib64/newp,
         children: [{name: c, command: [/bin/sh, -c, 'pwd; touch /lib64/t/done']}]}
`, overlay)), 0o644)
			code, out, errs := runCaptured(t, exec.Command(bin, "apply", spec))
			lines := strings.Split(strings.TrimSpace(out), "\n")
			slices.Sort(lines)
			if want := "t/c | /usr/lib64/t/x,t/main | /usr/lib64/newp"; code != 0 || strings.Join(lines, ",") != want {
				t.Errorf("apply: exit %d, out %q, want 0 and %s\n%s", code, out, want, errs)
			}
			// The working directory in the tmpfs, not in the dir root
			// (where, without overlay, the mounts' targets are made).
			if _, err := os.Lstat(filepath.Join(root, "usr", "lib64", "t", "x")); err == nil {
				t.Errorf("the cwd was made in the dir root")
			}
			os.RemoveAll(filepath.Join(root, "usr", "lib64", "t"))
			os.RemoveAll(filepath.Join(root, "usr", "lib64", "newp"))
		})
	}
}
