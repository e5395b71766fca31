package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestRootRootlessTerminalJoinedMnt: rootless, with nsup's stdin a
// terminal, an environment that joins another's mount namespace (with
// its user namespace) got nsup's pty as it was, a node of the host's
// devpts that the user owns: neither a Console step (no dev mount there)
// nor the child's ReadOnlyTerminal (no mount of the host's in the joined
// namespace) reopened it, and the unprivileged nsup could not clone it
// itself, so root inside (the user) ran chmod 666 /proc/self/fd/0 and
// every host user then opened the environment's terminal (found by
// helper-112's brief). nsup's helper now reopens it in a user and mount
// namespace of its own (Openpty.Helper), as for a rootless nsup exec -t:
// the chmod fails (EROFS), and the host's node keeps its mode, looked at
// from the host while the environment still holds it.
func TestRootRootlessTerminalJoinedMnt(t *testing.T) {
	requireBusybox(t)
	u, dir, bin, cache := rootlessCase(t)
	spec := joinedTerminalSpec(dir)
	env := []string{"XDG_CACHE_HOME=" + cache}
	// Planned on the terminal too: the plan shows the helper's reopen.
	const helper = `its peer opened again through a read-only clone (open_tree, mount_setattr) made by nsup's helper`
	pl := startOnPty(t, u.command(append(env, "NO_COLOR=1"), bin, "plan", spec, "a"), nil, helper)
	ok, err := pl.untilMarker()
	if ok {
		err = pl.finish("")
	}
	if err != nil || !strings.Contains(strings.Join(strings.Fields(pl.text()), " "), helper) {
		t.Errorf("plan: %v: want the terminal's reopen by nsup's helper:\n%s", err, pl.text())
	}
	p := startOnPty(t, u.command(env, bin, "apply", spec, "a"), nil, "fdchmod=")
	text := p.text
	if ok, err := p.untilMarker(); !ok {
		t.Fatalf("apply ended before the chmod: %v\n%s", err, text())
	}
	node, mode := hostPtyKept(t, text())
	err = p.finish("go\n")
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

// joinedTerminalSpec writes, in dir, the spec of an environment a that
// joins b's user, mount and pid namespaces, and whose main process says
// what its fd 0 is, chmods it 666 and reads a line. b waits for a's mark
// in the /tmp they share; a is in b's pid namespace too, so that b's
// /proc has a's /proc/self.
func joinedTerminalSpec(dir string) string {
	spec := filepath.Join(dir, "joined.yaml")
	os.WriteFile(spec, []byte(`version: 1
environments:
  b:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [user, mnt, pid]
    mounts:
      - {type: proc, target: /proc}
      - {type: tmpfs, target: /tmp}
    processes:
      - {name: main, command: [/bin/busybox, sh, -c, 'until [ -e /tmp/done ]; do busybox sleep 0.1; done']}
  a:
    rootfs: {closure: [/bin/busybox]}
    namespaces: []
    join: {user: b, mnt: b, pid: b}
    processes:
      - name: main
        command:
          - /bin/busybox
          - sh
          - -c
          - |
            trap 'busybox touch /tmp/done' EXIT
            set -- $$(busybox stat -L -c '%t %T %a' /proc/self/fd/0)
            echo "pty=$$1:$$2 mode=$$3"
            busybox chmod 666 /proc/self/fd/0; echo "fdchmod=$$?"
            read x; echo "read=$$x"
`), 0o644)
	return spec
}

// TestRootRootlessTerminalJoinedMntRefused: where the user may make no
// user namespace beyond b's, nsup's helper cannot reopen the terminal
// read-only, and apply is refused with a message that says why and what
// to do, rather than hand the host's node in writable (as it was before
// helper-112's change). The user's limit is that of a user namespace the
// test makes for nsup (its ids the host's, user.max_user_namespaces 1 in
// it alone): b's takes the one, the helper's clone fails (ENOSPC). With
// a limit of 2, the same nsup applies it, its terminal read-only.
func TestRootRootlessTerminalJoinedMntRefused(t *testing.T) {
	requireBusybox(t)
	u, dir, bin, cache := rootlessCase(t)
	spec := joinedTerminalSpec(dir)
	for _, limit := range []string{"1", "2"} {
		t.Run("max_user_namespaces="+limit, func(t *testing.T) {
			as := u.command([]string{"XDG_CACHE_HOME=" + cache}, bin, "apply", spec, "a")
			cmd := exec.Command("/bin/sh", append([]string{"-c", `echo "$0" > /proc/sys/user/max_user_namespaces && exec "$@"`, limit}, as.Args...)...)
			cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER,
				UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1 << 31}},
				GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1 << 31}},
				GidMappingsEnableSetgroups: true}
			p := startOnPty(t, cmd, nil, "fdchmod=")
			text := p.text
			ok, err := p.untilMarker()
			if limit == "1" {
				if ok {
					hostPtyKept(t, text())
					p.finish("go\n")
					t.Fatalf("apply ran the environment without a read-only terminal:\n%s", text())
				}
				if got := text(); err == nil || !strings.Contains(got, "refused: the environment's terminal, a node of the host's devpts, could not be reopened read-only") ||
					!strings.Contains(got, "no space left on device") || !strings.Contains(got, "run it with stdin not a terminal (< /dev/null), or as root") {
					t.Errorf("apply: %v, want it refused, saying why:\n%s", err, got)
				}
				t.Logf("%s", text())
				return
			}
			if !ok {
				t.Fatalf("apply ended before the chmod: %v\n%s", err, text())
			}
			hostPtyKept(t, text())
			if err := p.finish("go\n"); err != nil || !strings.Contains(text(), "fdchmod=1\n") || !strings.Contains(text(), "read=go\n") {
				t.Errorf("apply: %v, want fdchmod=1 (EROFS) and the line read:\n%s", err, text())
			}
		})
	}
}
