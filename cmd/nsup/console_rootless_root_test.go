package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nsup/nsup/executor/lifecycle"
	"golang.org/x/sys/unix"
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

// TestRootRootlessTerminalNoDev: rootless, with nsup's stdin a terminal
// and no dev mount, the environment's fds 0-2 are nsup's pty, a node of
// the host's devpts that the user owns; root inside (the user) ran chmod
// 666 /proc/self/fd/0, and every host user then opened the environment's
// terminal (its keystrokes read, and typed into). Host-side, the
// unprivileged nsup cannot clone a mount to reopen it read-only; the
// child, in its own user and mount namespaces, can (the ReadOnlyTerminal
// step): the chmod fails (EROFS), and the host's node keeps its mode,
// looked at from the host while the environment still holds it.
func TestRootRootlessTerminalNoDev(t *testing.T) {
	requireBusybox(t)
	u, dir, bin, cache := rootlessCase(t)
	spec := filepath.Join(dir, "tty.yaml")
	os.WriteFile(spec, []byte(`version: 1
environments:
  con:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid, ipc]
    mounts:
      - {type: proc, target: /proc}
    processes:
      - name: main
        command:
          - /bin/busybox
          - sh
          - -c
          - |
            set -- $$(busybox stat -L -c '%t %T %a' /proc/self/fd/0)
            echo "pty=$$1:$$2 mode=$$3"
            busybox chmod 666 /proc/self/fd/0; echo "fdchmod=$$?"
            read x; echo "read=$$x"
`), 0o644)
	p := startOnPty(t, u.command([]string{"XDG_CACHE_HOME=" + cache}, bin, "apply", spec), nil, "fdchmod=")
	text := p.text
	if ok, err := p.untilMarker(); !ok {
		t.Fatalf("apply ended before the chmod: %v\n%s", err, text())
	}
	// The environment holds its terminal until it reads a line: the
	// host's node is there to look at.
	node, mode := hostPtyKept(t, text())
	err := p.finish("go\n")
	got := text()
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, got)
	}
	if !strings.Contains(got, "fdchmod=1\n") {
		t.Errorf("inside: want fdchmod=1 (EROFS):\n%s", got)
	}
	if !strings.Contains(got, "read=go\n") {
		t.Errorf("inside: the terminal read no line:\n%s", got)
	}
	t.Logf("%s: mode %04o\n%s", node, mode, got)
}

// hostPtyKept checks, from the host, the node of the environment's
// terminal that text's "pty=MAJ:MIN mode=MODE" line (stat -L -c '%t %T
// %a' of fd 0 inside, before its chmod 666) names: a node of the host's
// devpts whose mode is still MODE, for no other host user. It returns
// the node's name and MODE.
func hostPtyKept(t *testing.T, text string) (node string, mode uint64) {
	t.Helper()
	var maj, min uint64
	for _, l := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "pty="); ok {
			f := strings.FieldsFunc(v, func(r rune) bool { return r == ':' || r == ' ' || r == '=' })
			if len(f) == 4 {
				maj, _ = strconv.ParseUint(f[0], 16, 32)
				min, _ = strconv.ParseUint(f[1], 16, 32)
				mode, _ = strconv.ParseUint(f[3], 8, 32)
			}
		}
	}
	var st unix.Stat_t
	if maj < 0x88 || maj > 0x8f {
		t.Errorf("fd 0 inside is no pty:\n%s", text)
		return "", mode
	}
	node = fmt.Sprintf("/dev/pts/%d", (maj-0x88)*256+min)
	if err := unix.Stat(node, &st); err != nil {
		t.Errorf("stat %s on the host: %v", node, err)
	} else if uint64(st.Rdev) != unix.Mkdev(uint32(maj), uint32(min)) {
		t.Errorf("%s on the host is %d:%d, not the environment's terminal %d:%d", node, unix.Major(uint64(st.Rdev)), unix.Minor(uint64(st.Rdev)), maj, min)
	} else if got := uint64(st.Mode & 0o7777); got != mode || got&0o006 != 0 {
		t.Errorf("%s on the host: mode %04o after the chmod inside, %04o before: root inside gave it to other host users", node, got, mode)
	}
	return node, mode
}
