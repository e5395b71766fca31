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
	dir := rootTestDirs(t)
	bin := buildNsup(t)
	bb := requireBusybox(t)
	root := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "proc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := exec.Command("cp", bb, filepath.Join(root, "bin", "busybox")).Run(); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"true", "sh"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	// A filter of the spec's that refuses close_range(2): it is loaded
	// before the process's execve, so a close made there is refused too
	// (found by this stop's last review).
	if err := os.WriteFile(filepath.Join(dir, "noclose.json"), []byte(`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["close_range"], "action": "SCMP_ACT_ERRNO"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	// A program of the host's that no tree has: run, it says its name is
	// no applet of its.
	if err := exec.Command("cp", bb, filepath.Join(dir, "hostonly")).Run(); err != nil {
		t.Fatal(err)
	}
	up := strings.Repeat("/..", 40) + filepath.Join(dir, "hostonly")
	spec := func(victimRoot, security string) string {
		return `version: 1
environments:
  tree:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - {name: a, command: [/bin/true]}
      - {name: b, command: [/bin/true]}
  victim:
    rootfs: ` + victimRoot + `
    namespaces: [mnt, pid]
    init: false
` + security + `    mounts:
      - {type: proc, target: /proc}
    processes:
      - {name: main, command: [/app]}
`
	}
	for _, tc := range []struct {
		name, root, security string
		interp               func(n int) string
	}{
		// nsup's own binary, held for the tree's init.
		{"binary", "{dir: ./rootfs}", "", func(n int) string { return fmt.Sprintf("/proc/self/fd/%d", n) }},
		{"binary, close_range refused", "{dir: ./rootfs}", "    security: {seccomp: ./noclose.json}\n", func(n int) string { return fmt.Sprintf("/proc/self/fd/%d", n) }},
		// A folder of the host's: a tar root's cache entry, held locked.
		{"folder, close_range refused", "{tar: ./root.tar}", "    security: {seccomp: ./noclose.json}\n", func(n int) string { return fmt.Sprintf("/proc/self/fd/%d", n) + up }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for n := 3; n <= 24; n++ {
				if err := os.WriteFile(filepath.Join(root, "app"), []byte("#!"+tc.interp(n)+"\n"), 0o755); err != nil {
					t.Fatal(err)
				}
				if strings.HasPrefix(tc.root, "{tar") {
					if out, err := exec.Command("tar", "-C", root, "-cf", filepath.Join(dir, "root.tar"), ".").CombinedOutput(); err != nil {
						t.Fatalf("tar: %v %s", err, out)
					}
				}
				if err := os.WriteFile(filepath.Join(dir, "nsup.yaml"), []byte(spec(tc.root, tc.security)), 0o644); err != nil {
					t.Fatal(err)
				}
				out, _ := exec.Command(bin, "apply", filepath.Join(dir, "nsup.yaml")).CombinedOutput()
				switch {
				case strings.Contains(string(out), "unknown command") || strings.Contains(string(out), "Run 'nsup help'"):
					t.Errorf("fd %d: nsup's own binary ran inside the environment:\n%s", n, out)
				case strings.Contains(string(out), "applet not found"):
					t.Errorf("fd %d: a program of the host's ran inside the environment:\n%s", n, out)
				case !strings.Contains(string(out), `/app", ["/app"]`) || !strings.Contains(string(out), "execve("):
					t.Errorf("fd %d: want the execve refused:\n%s", n, out)
				}
			}
		})
	}
}
