package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestRootHostDevNodeModeKept: a dev mount's nodes and a masked file are
// binds of the host's /dev/null, zero, full, random, urandom and tty.
// Before helper-94's review they were writable binds, and root inside
// (CAP_CHOWN, CAP_FOWNER by default) ran chmod 0600 /dev/null and chown
// 1234 /proc/keys: the host's own /dev/null changed, every host user's
// shell then failing to open it (found by hand, in a mount namespace of
// the test's own as here). The test binds nodes of its own (the same
// devices, made in a tmpfs) over the host's in a mount namespace nsup
// starts in, so that the host's are never touched, and wants them as
// they were after root inside tried, and the devices still working.
func TestRootHostDevNodeModeKept(t *testing.T) {
	bb := requireBusybox(t)
	dir := rootTestDirs(t)
	bin := buildNsup(t)
	root := filepath.Join(dir, "rootfs")
	busyboxTree(t, root)
	os.MkdirAll(filepath.Join(dir, "nodes"), 0o755)
	spec := filepath.Join(dir, "nsup.yaml")
	os.WriteFile(spec, []byte(`version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts: [{type: dev, target: /dev}, {type: proc, target: /proc}]
    processes:
      - {name: main, command: [/bin/busybox, sh, -c, '/bin/busybox chmod 0600 /dev/null /dev/zero /dev/tty /proc/keys; /bin/busybox chown 1234 /dev/null /dev/zero /dev/tty /proc/keys; echo out >/dev/null && /bin/busybox head -c 4 /dev/zero | /bin/busybox wc -c; echo end']}
`), 0o644)
	nodes := filepath.Join(dir, "nodes")
	script := `set -e; /bin/busybox mount -t tmpfs t "$2"
for n in null:1:3 zero:1:5 tty:5:0; do f=${n%%:*}; r=${n#*:}; /bin/busybox mknod -m 666 "$2/$f" c ${r%:*} ${r#*:}; /bin/busybox mount -o bind "$2/$f" /dev/$f; done
"$0" apply "$1"; /bin/busybox stat -c '%a %u %n' "$2/null" "$2/zero" "$2/tty"`
	cmd := exec.Command(bb, "sh", "-c", script, bin, spec, nodes)
	cmd.Env = os.Environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS} // and / made private
	out, err := cmd.CombinedOutput()
	got := string(out)
	if err != nil || !strings.Contains(got, "4\nend\n") {
		t.Fatalf("apply: %v\n%s", err, got)
	}
	for _, n := range []string{"null", "zero", "tty"} {
		if want := "666 0 " + filepath.Join(nodes, n) + "\n"; !strings.Contains(got, want) {
			t.Errorf("root inside changed the host's /dev/%s (want %q):\n%s", n, want, got)
		}
	}
}
