package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRootStdioFifoKept: nsup apply handed a pipe of its caller's to the
// environment as it is, and a named FIFO is one to fstat(2) (S_IFIFO),
// but it is a node of the caller's filesystem, not pipefs's: root inside
// (the node's owner, uid 0) ran chmod 0666 and chown 1234 on
// /proc/self/fd/0 and /proc/self/fd/1, and the caller's FIFOs changed
// (found by helper-99's review of the NullDevice step, by a real run: a
// root-owned 0600 FIFO given as stdout came back 1234's, and with a POSIX
// ACL set through the fd). A named FIFO is bridged now, as a regular file
// is; an anonymous pipe or socket is still handed over as it is.
func TestRootStdioFifoKept(t *testing.T) {
	bb := requireBusybox(t)
	dir := rootTestDirs(t)
	bin := buildNsup(t)
	busyboxTree(t, filepath.Join(dir, "rootfs"))
	spec := filepath.Join(dir, "fifo.yaml")
	try := `for f in 0 1; do /bin/busybox chmod 0666 /proc/self/fd/$$f; /bin/busybox chown 1234 /proc/self/fd/$$f; done; echo fifo-end`
	if err := os.WriteFile(spec, []byte(`version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts: [{type: proc, target: /proc}]
    processes:
      - {name: main, command: [/bin/busybox, sh, -c, '`+try+`']}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	// in has a writer of the script's own (fd 3) that never writes, so
	// that opening it to read does not wait; out's reader copies it to
	// got. Then both nodes as they are.
	script := `/bin/busybox mkfifo -m 600 in out || exit 1
/bin/busybox cat out >got &
exec 3<>in
"$0" apply "$1" <in >out 2>&1
echo "apply: $?"
exec 3>&-
wait
/bin/busybox cat got
/bin/busybox stat -c "node %n: %a %u" in out`
	cmd := exec.Command(bb, "sh", "-c", script, bin, spec)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	got := string(out)
	if err != nil || !strings.Contains(got, "apply: 0\n") || !strings.Contains(got, "fifo-end\n") {
		t.Fatalf("apply with FIFOs as stdin and stdout: %v\n%s", err, got)
	}
	for _, n := range []string{"in", "out"} {
		if !strings.Contains(got, "node "+n+": 600 0\n") {
			t.Errorf("root inside changed the named FIFO %s nsup's caller gave it (want mode 600, owner 0):\n%s", n, got)
		}
	}
}
