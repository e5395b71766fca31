package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRootKernelFSBinds: a bind of a kernel filesystem mounted anywhere
// (not in /proc or /sys, where the path says it) is refused outside a
// user namespace by its filesystem's magic: binfmt_misc, configfs,
// efivarfs, pstore, nsfs and fusectl were missing from kernelFS (a
// review's list), beside debugfs, tracefs, securityfs and bpf. Each is
// mounted in a temporary folder (those this kernel cannot mount are
// skipped) and unmounted after. Root only: a planner test needs none
// otherwise.
func TestRootKernelFSBinds(t *testing.T) {
	if os.Geteuid() != 0 {
		skipOrFail(t, "mounts kernel filesystems: needs root")
	}
	root := shRoot(t)
	env := func(src string) string {
		return `version: 1
environments:
  web:
    rootfs: {dir: ` + root + `}
    namespaces: [mnt, pid, net]
    mounts:
      - {type: bind, source: ` + src + `, target: /x, recursive: false, readonly: true}
    processes: [{name: main, command: [/bin/sh]}]
`
	}
	check := func(src, fs string) {
		t.Helper()
		_, err := compileLimits(t, env(src), rootCaller, "hybrid")
		if want := "environments.web.mounts[0].source: " + src + " is on a " + fs + " filesystem, the host's kernel's"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", fs, err, want)
		}
		if _, err := compileLimits(t, env(src), userCaller, "hybrid"); err != nil {
			t.Errorf("%s in a user namespace (rootless): %v", fs, err)
		}
	}
	mounted := 0
	for _, fs := range []string{"binfmt_misc", "configfs", "efivarfs", "pstore", "fusectl", "debugfs", "tracefs", "securityfs", "bpf"} {
		dir := t.TempDir()
		if err := unix.Mount("nsup-test", dir, fs, unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			t.Logf("%s: not mounted here (%v): skipped", fs, err)
			continue
		}
		t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) }) // before TempDir's removal
		mounted++
		check(dir, fs)
	}
	// nsfs: a namespace bound on a file (as ip netns add does).
	file := filepath.Join(t.TempDir(), "net")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("/proc/self/ns/net", file, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind of /proc/self/ns/net: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(file, unix.MNT_DETACH) })
	check(file, "nsfs")
	if mounted == 0 {
		t.Error("no kernel filesystem could be mounted")
	}
}
