package executor_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// TestRootNoHostFolderBeforeExec: paused just before its execve, the
// main process (the Monitor's child; with init: false, the child stage
// itself) holds no fd of a folder. A folder of the host's open there, as
// the environment's unified group was (CLONE_INTO_CGROUP's fd), is a way
// out: a working folder of /proc/self/fd/N stays through the execve (the
// CVE-2024-21626 class). Found by this stop's attacker review.
func TestRootNoHostFolderBeforeExec(t *testing.T) {
	requireRoot(t)
	for _, init := range []string{"true", "false"} {
		t.Run("init: "+init, func(t *testing.T) {
			checkHost(t)
			dir := t.TempDir()
			busyboxRoot(t, dir)
			p := compile(t, dir, `version: 1
environments:
  leak:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid, uts, ipc, net]
    init: `+init+`
    processes:
      - {name: main, command: [/bin/true]}
`)
			exec := -1
			for i, st := range p.Environments[0].Steps {
				if _, ok := st.Op.(planner.Execve); ok {
					exec = i
				}
			}
			h := startHelper(t, p, fmt.Sprintf("leak %d", exec))
			defer func() {
				h.cmd.Process.Kill()
				h.wait(t)
			}()
			h.waitPaused(t, "leak", exec)
			// The paused process: the helper's descendant farthest down.
			pid := h.cmd.Process.Pid
			for {
				kids := children(pid)
				if len(kids) == 0 {
					break
				}
				pid = kids[0]
			}
			if pid == h.cmd.Process.Pid {
				t.Fatal("no child stage")
			}
			fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
			if err != nil {
				t.Fatal(err)
			}
			for _, fd := range fds {
				n, _ := strconv.Atoi(fd.Name())
				p := fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())
				var st syscall.Stat_t
				if n < 3 || syscall.Stat(p, &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
					continue
				}
				to, _ := os.Readlink(p)
				t.Errorf("the main process holds fd %d, the folder %s, until its execve", n, to)
			}
		})
	}
}

// TestRootCwdNoMagicLink: a working folder is not reached through a
// magic link (/proc/self/fd/N, /proc/self/root), named as the cwd or by a
// symlink of the tree: such a link leads wherever an fd or a root still
// open leads, out of the tree. The apply fails at the chdir.
func TestRootCwdNoMagicLink(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	for _, d := range []string{"proc", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/proc/self/root/tmp", filepath.Join(root, "app")); err != nil {
		t.Fatal(err)
	}
	for _, cwd := range []string{"/proc/self/root/tmp", "/app"} {
		p := compile(t, dir, `version: 1
environments:
  cwd:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: proc, target: /proc}
    processes:
      - {name: main, command: [/bin/true], cwd: `+cwd+`}
`)
		st, _, errOut, err := run(t, p, executor.Options{})
		if err == nil || !strings.Contains(err.Error(), "chdir") || !strings.Contains(err.Error(), syscall.ELOOP.Error()) {
			t.Errorf("cwd %s: status %d, error %v, want chdir failing with ELOOP\n%s", cwd, st, err, errOut)
		}
	}
}

// TestRootOverlayRootSwapped: a symlink put in an overlaid root's path
// after planning is refused, as a bound root's is (TestRootBindSourceSwapped),
// not followed to what it names: every layer was opened or mounted by
// that path, and the upper folder's tmpfs could land on the folder the
// symlink named (found by this stop's attacker review).
func TestRootOverlayRootSwapped(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir, other := t.TempDir(), t.TempDir()
	root := busyboxRoot(t, dir)
	// A tree of its own elsewhere, so that the swapped root would run:
	// only the symlink can refuse it.
	elsewhere := busyboxRoot(t, other)
	p := compile(t, dir, `version: 1
environments:
  swapped:
    rootfs: {dir: ./rootfs, overlay: true}
    namespaces: [mnt, pid]
    processes:
      - {name: main, command: [/bin/true]}
`)
	if err := os.Rename(root, root+".real"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, root); err != nil {
		t.Fatal(err)
	}
	st, _, errOut, err := run(t, p, executor.Options{})
	if err == nil || !errors.Is(err, unix.ELOOP) || !strings.Contains(err.Error(), "a symlink is in this path now") {
		t.Errorf("status %d, error %v, want the symlink in %s refused (ELOOP)\n%s", st, err, root, errOut)
	}
}

// TestRootStdioFileBridged: a regular file given as nsup's stdin or
// stdout reaches the environment through a pipe, not as it is: root
// inside could open it again through /proc/self/fd/N, for writing too,
// and rewrite a host file nsup's caller gave it to read (found by this
// stop's last review).
func TestRootStdioFileBridged(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	in := filepath.Join(dir, "input.txt")
	if err := os.WriteFile(in, []byte("the caller's\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	outFile := filepath.Join(dir, "output.txt")
	p := compile(t, dir, `version: 1
environments:
  stdio:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: proc, target: /proc}
    processes:
      - {name: main, command: [/bin/sh, -c, 'read line; echo "read: $line"; test -f /proc/self/fd/0 && echo "fd 0 is a file"; test -f /proc/self/fd/1 && echo "fd 1 is a file"; echo rewritten > /proc/self/fd/0; true']}
`)
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	o, err := os.Create(outFile)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := executor.Apply(ctx, p, executor.Options{Stdin: f, Stdout: o, Stderr: o})
	if err != nil || st != 0 {
		t.Fatalf("apply: %d %v", st, err)
	}
	out, _ := os.ReadFile(outFile)
	if !strings.Contains(string(out), "read: the caller's") {
		t.Errorf("the environment did not read its stdin: %q", out)
	}
	if strings.Contains(string(out), "is a file") {
		t.Errorf("a file passed as it is: %q", out)
	}
	if b, _ := os.ReadFile(in); string(b) != "the caller's\n" {
		t.Errorf("the caller's file was rewritten from inside: %q", b)
	}
}
