package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/executor/lifecycle"
)

// TestRootRootlessConsole: rootless, with nsup's stdin a terminal, the
// environment's dev gets the console as root does (its /dev/pts/N opened
// in the user namespace's copy of the host's mounts, checked, cloned,
// made read-only, the fds reopened through it), and root inside, the
// user, changes the mode of neither /dev/console nor its fd 0: the
// node is the host devpts's, the user's own, and 0666 would give every
// host user the environment's terminal.
func TestRootRootlessConsole(t *testing.T) {
	requireBusybox(t)
	u, dir, bin, cache := rootlessCase(t)
	spec := filepath.Join(dir, "console.yaml")
	os.WriteFile(spec, []byte(`version: 1
environments:
  con:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid, ipc]
    mounts:
      - {type: proc, target: /proc}
      - {type: dev, target: /dev}
    processes:
      - name: main
        command:
          - /bin/busybox
          - sh
          - -c
          - |
            echo "console=$$(busybox stat -L -c %d:%i /dev/console) fd0=$$(busybox stat -L -c %d:%i /proc/self/fd/0)"
            busybox chmod 666 /dev/console; echo "chmod=$$?"
            busybox chmod 666 /proc/self/fd/0; echo "fdchmod=$$?"
`), 0o644)
	master, _, slave, err := lifecycle.OpenPty()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	tty := os.NewFile(uintptr(slave), "pts")
	cmd := u.command([]string{"XDG_CACHE_HOME=" + cache}, bin, "apply", spec)
	cmd.Stdin = tty
	var out strings.Builder
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	b, err := cmd.CombinedOutput()
	tty.Close()
	<-copied
	got := strings.ReplaceAll(out.String()+string(b), "\r", "")
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, got)
	}
	var console, fd0 string
	for _, l := range strings.Split(got, "\n") {
		for _, f := range strings.Fields(l) {
			if v, ok := strings.CutPrefix(f, "console="); ok {
				console = v
			}
			if v, ok := strings.CutPrefix(f, "fd0="); ok {
				fd0 = v
			}
		}
	}
	if console == "" || console != fd0 {
		t.Errorf("/dev/console %q, fd 0 %q: want the same terminal\n%s", console, fd0, got)
	}
	for _, w := range []string{"chmod=1\n", "fdchmod=1\n"} {
		if !strings.Contains(got, w) {
			t.Errorf("inside: want %q (EROFS):\n%s", w, got)
		}
	}
}
