package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRootDefaultCapNotInBoundingSet: nsup run where its bounding set
// lacks a capability of the default set (a container nsup runs in, or a
// host that dropped CAP_AUDIT_WRITE, here made with setpriv) plans the
// environment without it, says so, and applies: apply failed at capset
// (EPERM) for every spec that left the defaults as they are. Root
// inside holds the rest of the defaults (CapEff).
func TestRootDefaultCapNotInBoundingSet(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxTree(t, filepath.Join(dir, "rootfs"))
	for _, d := range []string{"proc", "etc"} {
		if err := os.MkdirAll(filepath.Join(dir, "rootfs", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f := filepath.Join(dir, "nsup.yaml")
	if err := os.WriteFile(f, []byte(`version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid, uts, ipc, net]
    mounts: [{type: proc, target: /proc}]
    processes:
      - {name: main, command: [/bin/busybox, grep, CapEff, /proc/self/status]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	nsupAs := func(args ...string) (int, string, string) {
		cmd := exec.Command("setpriv", append([]string{"--bounding-set=-audit_write", "env", asCLI + "=1", self}, args...)...)
		cmd.Dir = dir
		return runCaptured(t, cmd)
	}
	code, out, errs := nsupAs("plan", f)
	if code != 0 || !strings.Contains(out, "CAP_AUDIT_WRITE (not in nsup's bounding or permitted set)") {
		t.Fatalf("plan: exit %d, no note of CAP_AUDIT_WRITE:\n%s%s", code, out, errs)
	}
	code, out, errs = nsupAs("apply", f)
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
	}
	var eff uint64
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "CapEff:" {
			if eff, err = strconv.ParseUint(f[1], 16, 64); err != nil {
				t.Fatal(err)
			}
		}
	}
	if eff == 0 {
		t.Fatalf("no CapEff in the output:\n%s%s", out, errs)
	}
	if eff&(1<<unix.CAP_AUDIT_WRITE) != 0 || eff&(1<<unix.CAP_KILL) == 0 || eff&(1<<unix.CAP_SETFCAP) == 0 {
		t.Errorf("CapEff %x: want the defaults without CAP_AUDIT_WRITE", eff)
	}
}
