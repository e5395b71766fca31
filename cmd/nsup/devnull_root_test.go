package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestRootHostDevNullReplaced: the CVE-2025-31133 class (runc 1.2.8). A
// masked file is a bind of the host's /dev/null, and a dev mount's
// nodes are binds of the host's /dev/null, zero, full, random, urandom
// and tty. Root in an environment with a writable bind of the host's
// /dev hard-links another node there in /dev/null's place (a link needs
// no device access: nodev does not stop it). Before helper-93's review
// nsup bound whatever was at that path, so the next environment read
// it through /proc/keys and /dev/null. The test replaces /dev/null in a
// mount namespace of its own that nsup starts in (a bind over it, as
// the link would be: nsup opens the path, following no symlink, either
// way), with a file of its own and with another device, and wants
// apply refused naming the node, the file never read.
func TestRootHostDevNullReplaced(t *testing.T) {
	bb := requireBusybox(t)
	dir := rootTestDirs(t)
	bin := buildNsup(t)
	root := filepath.Join(dir, "rootfs")
	busyboxTree(t, root)
	// Read 64 bytes at most: /dev/zero bound there never ends.
	fake := filepath.Join(dir, "fakenull")
	os.WriteFile(fake, []byte("NOT-THE-NULL-DEVICE\n"), 0o644)
	for _, c := range []struct{ name, mounts string }{
		{"masks", "[{type: proc, target: /proc}]"},
		{"dev", "[{type: dev, target: /dev}]"},
	} {
		spec := filepath.Join(dir, c.name+".yaml")
		os.WriteFile(spec, []byte(`version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts: `+c.mounts+`
    processes:
      - {name: main, command: [/bin/busybox, sh, -c, 'echo start; /bin/busybox head -c 64 /proc/keys; /bin/busybox head -c 64 /dev/null; echo end']}
`), 0o644)
		for _, with := range []string{"", fake, "/dev/zero"} {
			script := `exec "$0" apply "$1"`
			if with != "" {
				script = `/bin/busybox mount -o bind "$2" /dev/null && ` + script
			}
			cmd := exec.Command(bb, "sh", "-c", script, bin, spec, with)
			cmd.Env = os.Environ()
			cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS} // and / made private
			out, err := cmd.CombinedOutput()
			got := string(out)
			switch {
			case with == "" && (err != nil || !strings.Contains(got, "start\n") || !strings.Contains(got, "end\n")):
				t.Errorf("%s, /dev/null as it is: %v\n%s", c.name, err, got)
			case with != "" && strings.Contains(got, "NOT-THE-NULL"):
				t.Errorf("%s, /dev/null replaced by %s: the environment read the replacement:\n%s", c.name, with, got)
			case with != "" && (err == nil || strings.Contains(got, "start\n") || !strings.Contains(got, "/dev/null on the host is not the device it names")):
				t.Errorf("%s, /dev/null replaced by %s: want apply refused naming it: %v\n%s", c.name, with, err, got)
			}
		}
	}
}
