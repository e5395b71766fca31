package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRootExecNoHostFD: no fd of nsup's is open when a process's
// execve(2) resolves its path. A script whose #! names /proc/self/fd/N
// (a tree may hold one, and the planner checks a command, not its
// interpreter) ran nsup's own binary, the host's, inside an environment
// with init: false, when another environment of the plan started nsup's
// init, for which nsup keeps its binary open: the CVE-2019-5736 class,
// found by this stop's review of its own fixes. Every fd number that
// could be nsup's is tried; each execve must fail.
func TestRootExecNoHostFD(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	bin := buildNsup(t)
	bb := requireBusybox(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "proc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := exec.Command("cp", bb, filepath.Join(root, "bin", "busybox")).Run(); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("busybox", filepath.Join(root, "bin", "true")); err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(dir, "nsup.yaml")
	if err := os.WriteFile(spec, []byte(`version: 1
environments:
  tree:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - {name: a, command: [/bin/true]}
      - {name: b, command: [/bin/true]}
  victim:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    init: false
    mounts:
      - {type: proc, target: /proc}
    processes:
      - {name: main, command: [/app]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	for n := 3; n <= 24; n++ {
		if err := os.WriteFile(filepath.Join(root, "app"), []byte(fmt.Sprintf("#!/proc/self/fd/%d\n", n)), 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "apply", spec)
		cmd.Env = append(os.Environ(), "NSUP_CACHE_DIR="+filepath.Join(dir, "cache"))
		out, _ := cmd.CombinedOutput()
		if strings.Contains(string(out), "unknown command") || strings.Contains(string(out), "Run 'nsup help'") {
			t.Errorf("#!/proc/self/fd/%d ran nsup's own binary inside the environment:\n%s", n, out)
		} else if !strings.Contains(string(out), `execve("/app"`) {
			t.Errorf("#!/proc/self/fd/%d: want the execve refused:\n%s", n, out)
		}
	}
}
