package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestRootStdioNullKept: nsup's caller's /dev/null (a CI job's stdin,
// hyperfine's, cron's, a service's) was handed to the environment as it
// was, an fd of the host's node on the host's /dev, and so was the
// /dev/null a detached environment's stdin is and the one nsup exec's
// caller gives: root inside (the node's owner, uid 0) ran chmod 0600
// /proc/self/fd/0 and chown 1234 /proc/self/fd/1, and the host's
// /dev/null changed, every host user's shell then failing to open it
// (found by hand in the twenty-first stop; runc and crun chown a
// process's stdio and skip /dev/null for the same node, runc#3707).
// Each now gets the null device opened through a read-only clone
// (NullDevice, exec's ReadOnlyNull): the chmod and chown fail with EROFS
// and the device still reads and writes. As in TestRootHostDevNodeModeKept,
// nsup runs in a mount namespace of the test's own in which /dev/null is
// a node of the test's, so that the host's is never touched.
func TestRootStdioNullKept(t *testing.T) {
	bb := requireBusybox(t)
	dir := rootTestDirs(t)
	bin := buildNsup(t)
	busyboxTree(t, filepath.Join(dir, "rootfs"))
	nodes := filepath.Join(dir, "nodes")
	if err := os.MkdirAll(nodes, 0o755); err != nil {
		t.Fatal(err)
	}
	// Each try reports on stderr, a file (which nsup bridges).
	try := `for f in 0 1; do /bin/busybox chmod 0600 /proc/self/fd/$$f; /bin/busybox chown 1234 /proc/self/fd/$$f; done; echo out && /bin/busybox wc -c </proc/self/fd/0 >&2`
	fg := filepath.Join(dir, "fg.yaml")
	det := filepath.Join(dir, "det.yaml")
	for p, body := range map[string]string{
		fg: `    processes:
      - {name: main, command: [/bin/busybox, sh, -c, '` + try + `; echo fg-end >&2']}
`,
		det: `    processes:
      - {name: main, command: [/bin/busybox, sh, -c, '/bin/busybox chmod 0600 /proc/self/fd/0; /bin/busybox chown 1234 /proc/self/fd/0; echo det-started; exec /bin/busybox sleep 1000']}
`,
	} {
		spec := `version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts: [{type: proc, target: /proc}]
` + body
		if err := os.WriteFile(p, []byte(spec), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The detached environment is taken down whatever happened before.
	// After each of apply, apply -d (its main process tries at start:
	// its log is waited for) and exec, the node as it is; then as it was
	// before, for the next.
	// The detached environment is taken down whatever happened before.
	script := `/bin/busybox mount -t tmpfs t "$3" || exit 1
/bin/busybox mknod -m 666 "$3/null" c 1 3 && /bin/busybox mount -o bind "$3/null" /dev/null || exit 1
N=$3/null
node() { /bin/busybox stat -c "node after $1: %a %u" "$N" >&2; /bin/busybox chmod 666 "$N"; /bin/busybox chown 0:0 "$N"; }
"$0" apply "$1" </dev/null >/dev/null
node apply
"$0" apply -d "$2" </dev/null >/dev/null
i=0; until "$0" logs a | /bin/busybox grep -q det-started || [ $i -ge 400 ]; do i=$((i+1)); /bin/busybox sleep 0.05; done
"$0" logs a >&2
node "apply -d"
"$0" exec a -- /bin/busybox sh -c 'for f in 0 1; do /bin/busybox chmod 0600 /proc/self/fd/$f; /bin/busybox chown 1234 /proc/self/fd/$f; done; echo out && /bin/busybox wc -c </proc/self/fd/0 >&2; echo exec-end >&2' </dev/null >/dev/null
node exec
"$0" down a >/dev/null`
	cmd := exec.Command(bb, "sh", "-c", script, bin, fg, det, nodes)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS} // and / made private
	out, err := cmd.CombinedOutput()
	got := string(out)
	if err != nil || !strings.Contains(got, "fg-end\n") || !strings.Contains(got, "exec-end\n") || !strings.Contains(got, "det-started\n") {
		t.Fatalf("apply, apply -d, exec: %v\n%s", err, got)
	}
	// The device still works: what was read of it is nothing.
	if n := strings.Count("\n"+got, "\n0\n"); n != 2 {
		t.Errorf("want two reads of 0 bytes from the null device (apply, exec), got %d:\n%s", n, got)
	}
	for _, by := range []string{"apply", "apply -d", "exec"} {
		if !strings.Contains(got, "node after "+by+": 666 0\n") {
			t.Errorf("root inside changed, after %s, the /dev/null nsup's caller gave it (want mode 666, owner 0):\n%s", by, got)
		}
	}
}
