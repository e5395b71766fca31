package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRootNodevLifted: as root, root inside mapped to 100000 and the
// host's /dev bound read-only (nodev: no option dev), with SYS_ADMIN
// kept in that user namespace. Before helper-128's review this applied,
// and root inside ran mount -o remount,bind,dev,ro /hostdev and opened
// for writing a host node of uid 100000 (mode 0600) that nodev had kept
// it from opening: the flag is nsup's, set in the environment's own
// mount namespace, and not locked. Refused at plan and apply now; the
// same spec without SYS_ADMIN applies, and the node stays closed to it.
// TestNodevLiftedRefused (planner) has the other cases.
func TestRootNodevLifted(t *testing.T) {
	c := newReachCase(t, "nodevlift")
	root := filepath.Join(c.dir, "root")
	busyboxTree(t, root)
	for _, d := range []string{"hostdev", "proc"} {
		os.Mkdir(filepath.Join(root, d), 0o755)
	}
	name := fmt.Sprintf("nsup-nodevlift-%d", os.Getpid())
	node := "/dev/" + name
	if err := unix.Mknod(node, unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(node) })
	if err := os.Chown(node, 100000, 100000); err != nil {
		t.Fatal(err)
	}
	write := func(file, caps string) string {
		spec := filepath.Join(c.dir, file)
		os.WriteFile(spec, []byte(`version: 1
environments:
  a:
    rootfs: {dir: `+root+`, readonly: true}
    namespaces: [user, mnt, pid]
    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}
`+caps+`    mounts:
      - {type: bind, source: /dev, target: /hostdev, readonly: true}
      - {type: proc, target: /proc}
    processes:
      - {name: main, command: [/bin/busybox, sh, -c, "/bin/busybox mount -o remount,bind,dev,ro /hostdev; echo x > /hostdev/`+name+` && echo opened"]}
`), 0o644)
		return spec
	}
	spec := write("lift.yaml", "    security: {capabilities: {add: [SYS_ADMIN]}}\n")
	for _, cmd := range []string{"plan", "apply"} {
		c.refused(cmd, "with SYS_ADMIN", spec, spec+":9:9: environments.a.mounts[0]: /dev is a folder of the host's /dev: root inside keeps CAP_SYS_ADMIN in its user namespace and lifts the nodev flag nsup sets on the bind (mount -o remount,bind,dev;")
	}
	code, out, errs := runCaptured(t, exec.Command(c.bin, "apply", write("kept.yaml", "")))
	if code == 0 && strings.Contains(out, "opened") || !strings.Contains(errs, "Permission denied") {
		t.Errorf("apply without SYS_ADMIN: exit %d, want the node not opened\n%s%s", code, out, errs)
	}
}
