package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRootRootlessExecTTY: rootless, nsup exec -t's command got a pty
// nsup opened in the host's devpts, the user's own node, writable (the
// host's read-only reopen, ReadOnlyPty, needs CAP_SYS_ADMIN): root
// inside, the user, ran chmod 666 /proc/self/fd/0 and every host user
// could open the command's terminal (read what the caller types, type
// into it). Found by helper-103 checking the rootless side of
// TestRootExecTTYReadOnly. Init now opens the pty in the environment's
// own devpts (its dev) and hands nsup exec the master: the command's
// terminal is no node of the host's. Without a dev, rootless exec -t was
// then refused (nsup shell of examples/pod.yaml too); nsup now has a
// helper of its own, in a user and mount namespace of its own, reopen
// the host's pty through a read-only clone of it, as root's nsup does:
// the command has a terminal, and its chown and chmod fail with EROFS.
// The host's node, if the terminal is one, is looked at from the host
// while the command still holds it.
func TestRootRootlessExecTTY(t *testing.T) {
	requireBusybox(t)
	u, dir, bin, cache := rootlessCase(t)
	env := detachedEnv(u, cache)
	spec := filepath.Join(dir, "repo", "tty.yaml")
	writeTTYSpec(t, spec, "ttyx")
	t.Cleanup(func() { u.as(t, env, bin, "down", "-p", "ttyx") })
	if code, out, errs := u.as(t, env, bin, "apply", "-d", spec); code != 0 {
		t.Fatalf("apply -d as %s: %d %s%s", u.name, code, out, errs)
	}
	var hostPts unix.Stat_t
	if err := unix.Stat("/dev/pts", &hostPts); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"dev", "nodev"} {
		t.Run(name, func(t *testing.T) {
			got, node, err := execTTYChmod(t, u, env, bin, "ttyx/"+name, hostPts.Dev)
			if name == "dev" && node != "" {
				t.Errorf("the command's terminal is the host's %s: a node of the host's devpts", node)
			}
			if name == "nodev" && (node == "" || !strings.Contains(got, "fdchmod=1\n") || !strings.Contains(got, "fdchown=1\n") || strings.Count(got, "Read-only file system") < 2) {
				t.Errorf("exec -t without a dev, rootless: the host's pty %q, want one, whose chmod and chown inside fail with EROFS:\n%s", node, got)
			}
			if err == nil || !strings.Contains(err.Error(), "exit status 7") || !strings.Contains(got, "read=go\n") || !strings.Contains(got, "tty=yes\n") || !strings.Contains(got, "size=33 77\n") {
				t.Errorf("exec -t: %v, want status 7, a terminal of the caller's size (33 77) and the line read:\n%s", err, got)
			}
			t.Logf("%s", got)
		})
	}
}

// execTTYChmod runs, as u, nsup exec -t ref with a terminal of the test's:
// a command that says what its fd 0 is, chmods it 666 and reads a line.
// Once the chmod is done, if fd 0 is a node of the host's devpts (device
// hostPts), the host's node must be as it was; node names it then.
func execTTYChmod(t *testing.T, u testUser, env []string, bin, ref string, hostPts uint64) (got, node string, err error) {
	cmd := u.command(env, bin, "exec", "-t", ref, "--", "/bin/busybox", "sh", "-c",
		`[ -t 0 ] && echo tty=yes; echo "size=$(busybox stty size)"
set -- $(busybox stat -L -c '%d %t %T %a' /proc/self/fd/0)
echo "pty=$1:$2:$3:$4"
busybox chown 0:0 /proc/self/fd/0; echo "fdchown=$?"
busybox chmod 666 /proc/self/fd/0; echo "fdchmod=$?"
read x; echo "read=$x"; exit 7`)
	p := startOnPty(t, cmd, &unix.Winsize{Row: 33, Col: 77}, "fdchmod=")
	text := p.text
	if ok, err := p.untilMarker(); !ok {
		return text(), "", err
	}
	// The command holds its terminal until it reads a line.
	var dev, maj, min, mode uint64
	for _, l := range strings.Split(text(), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "pty="); ok {
			f := strings.Split(v, ":")
			if len(f) == 4 {
				dev, _ = strconv.ParseUint(f[0], 10, 64)
				maj, _ = strconv.ParseUint(f[1], 16, 32)
				min, _ = strconv.ParseUint(f[2], 16, 32)
				mode, _ = strconv.ParseUint(f[3], 8, 32)
			}
		}
	}
	if maj < 0x88 || maj > 0x8f {
		t.Errorf("fd 0 inside is no pty:\n%s", text())
	} else if dev == hostPts {
		node = fmt.Sprintf("/dev/pts/%d", (maj-0x88)*256+min)
		var st unix.Stat_t
		if err := unix.Stat(node, &st); err != nil {
			t.Errorf("stat %s on the host: %v", node, err)
		} else if got := uint64(st.Mode & 0o7777); got != mode || got&0o006 != 0 {
			t.Errorf("%s on the host: mode %04o after the chmod inside, %04o before: root inside gave it to other host users", node, got, mode)
		}
	}
	err = p.finish("go\n")
	return text(), node, err
}

// writeTTYSpec writes at path the spec of project the exec -t tests run:
// dev, with a dev mount (a devpts of its own, where init opens the
// command's pty), and nodev, without one (nsup exec sends a host pty,
// reopened read-only).
func writeTTYSpec(t *testing.T, path, project string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(`version: 1
name: `+project+`
environments:
  dev:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    mounts:
      - {type: proc, target: /proc}
      - {type: dev, target: /dev}
    processes:
      - {name: main, command: [/bin/busybox, sleep, "1000"]}
  nodev:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    mounts:
      - {type: proc, target: /proc}
    processes:
      - {name: main, command: [/bin/busybox, sleep, "1000"]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
}
