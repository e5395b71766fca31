package executor_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// consoleSpec: one environment with a dev, given a terminal (nsup's
// stdin one), whose main process writes to /out/res what /dev/console
// and its fd 0 are (device:inode:major:minor), then tries chmod on
// /dev/console.
const consoleSpec = `version: 1
environments:
  con:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid, ipc]
    mounts:
      - {type: proc, target: /proc}
      - {type: dev, target: /dev}
      - {type: bind, source: ./out, target: /out}
    processes:
      - name: main
        command: [/bin/sh, -c, '{ echo "console=$(stat -L -c %d:%i:%t:%T /dev/console)"; echo "fd0=$(stat -L -c %d:%i:%t:%T /proc/self/fd/0)"; chmod 666 /dev/console; echo "chmod=$?"; chmod 666 /proc/self/fd/0; echo "fdchmod=$?"; } > /out/res 2>&1']
`

// consoleRoot is a busybox root in dir with stat and chmod, and the
// folder out, bound at /out; it returns out/res's host path.
func consoleRoot(t *testing.T, dir string) string {
	t.Helper()
	applets(t, busyboxRoot(t, dir), "stat", "chmod")
	if err := os.Mkdir(filepath.Join(dir, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "out", "res")
}

// compileTerminal plans yaml for a caller whose stdin is a terminal: the
// environment gets a pty of its own, and its dev a console.
func compileTerminal(t *testing.T, dir, yaml string) *planner.Plan {
	t.Helper()
	s, err := spec.ParseBytesVars("test.yaml", dir, []byte(yaml), asWritten)
	if err != nil {
		t.Fatalf("spec:\n%v", err)
	}
	p, err := planner.Compile(s, planner.Options{CacheDir: filepath.Join(dir, "cache"), Terminal: true})
	if err != nil {
		t.Fatalf("plan:\n%v", err)
	}
	return p
}

// consoleStep is the index of p's Console step.
func consoleStep(t *testing.T, p *planner.Plan) int {
	t.Helper()
	for i, st := range p.Environments[0].Steps {
		if _, ok := st.Op.(planner.Console); ok {
			return i
		}
	}
	t.Fatalf("no console step:\n%s", planText(p))
	return -1
}

// probeValue is the value of the line "NAME=VALUE" of out.
func probeValue(out, name string) string {
	for _, l := range strings.Split(strings.ReplaceAll(out, "\r", ""), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), name+"="); ok {
			return v
		}
	}
	return ""
}

// TestRootConsoleIsTerminal: the environment's /dev/console is its fd
// 0, the pty nsup opened (the same inode of the same devpts, a pty's
// major 136..143), bound read-only: root inside's chmod of it, which
// made the host devpts's node 0666 for every host user, fails (EROFS),
// and so does its chmod of its fd 0 (/proc/self/fd/0), which was the
// file nsup opened on the host's devpts mount, writable, and is now
// reopened through the read-only bind.
func TestRootConsoleIsTerminal(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	res := consoleRoot(t, dir)
	p := compileTerminal(t, dir, consoleSpec)
	if text := planText(p); !strings.Contains(text, "move_mount(<the terminal: the /dev/pts/N of /proc/self/fd/0, opened, checked to be fd 0, cloned, read-only>, <mount at /dev>/console), fds 0, 1, 2 that are it reopened there") {
		t.Fatalf("the plan does not show the console's bind:\n%s", text)
	}
	st, out, errOut, err := run(t, p, executor.Options{})
	if err != nil || st != 0 {
		t.Fatalf("apply: %d %v\n%s\n%s", st, err, out, errOut)
	}
	b, _ := os.ReadFile(res)
	out = string(b)
	console, fd0 := probeValue(out, "console"), probeValue(out, "fd0")
	f := strings.Split(console, ":")
	if console == "" || console != fd0 || len(f) != 4 || !strings.HasPrefix(f[2], "8") {
		t.Errorf("/dev/console is %q, fd 0 %q: want the same pty (major 0x88..0x8f):\n%s", console, fd0, out)
	}
	if c := probeValue(out, "chmod"); c != "1" {
		t.Errorf("chmod 666 /dev/console inside: status %q, want 1 (EROFS):\n%s", c, out)
	}
	if c := probeValue(out, "fdchmod"); c != "1" {
		t.Errorf("chmod 666 /proc/self/fd/0 inside: status %q, want 1 (EROFS: fd 0 reopened through the read-only bind):\n%s", c, out)
	}
}

// TestRootConsoleSwapped: something mounted over the terminal's
// /dev/pts/N in the child's mount namespace between the openpty and the
// console's bind (paused there) is not bound as /dev/console: the name is
// opened and checked to be fd 0's terminal, and the step fails. Before,
// the name went to mount(2), which bound whatever it led to then (the
// host's /dev/null here; in runc, CVE-2025-52565). A writer of the host's
// /dev that renamed its pts folder (a mount point in no namespace of its
// own) would have led the name elsewhere too; a mount in the child's
// namespace is the swap a test can make at a chosen moment.
func TestRootConsoleSwapped(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	if _, err := exec.LookPath("nsenter"); err != nil {
		skipOrFail(t, "needs nsenter (util-linux)")
	}
	dir := t.TempDir()
	res := consoleRoot(t, dir)
	p := compileTerminal(t, dir, consoleSpec)
	step := consoleStep(t, p)
	fifo := filepath.Join(t.TempDir(), "resume")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	ourNS, _ := os.Readlink("/proc/self/ns/mnt")
	swapped := ""
	opts := executor.PauseAt(executor.Options{}, "con", step, func(env string, at int) {
		// The child, paused before the console step: the test's child in
		// a mount namespace of its own, its fd 0 the pty.
		for _, pid := range children(os.Getpid()) {
			ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid))
			pts, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/0", pid))
			if ns == ourNS || !strings.HasPrefix(pts, "/dev/pts/") {
				continue
			}
			if out, err := exec.Command("nsenter", "-t", fmt.Sprint(pid), "-m", "--", "mount", "--bind", "/dev/null", pts).CombinedOutput(); err != nil {
				t.Errorf("mount over %s in the child's namespace: %v\n%s", pts, err, out)
			}
			swapped = pts
		}
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		w.Write([]byte{1})
		w.Close()
	})
	opts = executor.ResumeFrom(opts, fifo)
	st, _, errOut, err := run(t, p, opts)
	b, _ := os.ReadFile(res)
	out := string(b)
	if swapped == "" {
		t.Fatalf("no child paused with a pty on fd 0 (apply: %d %v)\n%s", st, err, errOut)
	}
	if err == nil || !strings.Contains(err.Error(), "is not fd 0's terminal") || !strings.Contains(err.Error(), "ENOTTY") && !strings.Contains(err.Error(), unix.ENOTTY.Error()) {
		t.Errorf("apply with %s swapped for /dev/null before the console's bind: %d %v, want the console step refused (ENOTTY); /dev/console inside: %q\n%s\n%s",
			swapped, st, err, probeValue(out, "console"), out, errOut)
	}
	t.Logf("%s swapped: %v", swapped, err)
}

// TestRootTerminalNoDevReadOnly: an environment given a terminal but no
// dev has no console to reopen its fds through (TestRootConsoleIsTerminal),
// and got the file nsup opened on the host's devpts mount, writable: root
// inside ran chmod 666 /proc/self/fd/0, and the host's /dev/pts/N was
// every host user's (found in the twenty-first stop). The child's
// ReadOnlyTerminal step now opens it again through a read-only clone of
// it alone, in its new mount namespace (rootless too:
// TestRootRootlessTerminalNoDev): the chmod fails (EROFS); the terminal
// is the same.
func TestRootTerminalNoDevReadOnly(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	res := consoleRoot(t, dir)
	p := compileTerminal(t, dir, strings.Replace(strings.Replace(consoleSpec, "      - {type: dev, target: /dev}\n", "", 1),
		`echo "console=$(stat -L -c %d:%i:%t:%T /dev/console)"; `, "", 1))
	if text := planText(p); !strings.Contains(text, `open_tree(<the terminal: the /dev/pts/N of /proc/self/fd/0`) || strings.Contains(text, "its peer opened again") {
		t.Fatalf("the plan does not show the terminal's read-only reopen:\n%s", text)
	}
	st, out, errOut, err := run(t, p, executor.Options{})
	if err != nil || st != 0 {
		t.Fatalf("apply: %d %v\n%s\n%s", st, err, out, errOut)
	}
	b, _ := os.ReadFile(res)
	out = string(b)
	if f := strings.Split(probeValue(out, "fd0"), ":"); len(f) != 4 || !strings.HasPrefix(f[2], "8") {
		t.Errorf("fd 0 is %q: want a pty (major 0x88..0x8f):\n%s", probeValue(out, "fd0"), out)
	}
	if c := probeValue(out, "fdchmod"); c != "1" {
		t.Errorf("chmod 666 /proc/self/fd/0 inside: status %q, want 1 (EROFS: the terminal reopened read-only):\n%s", c, out)
	}
}

// TestRootTerminalJoinedMntReadOnly: with a mount namespace joined (here
// the host's own, by path), the child cannot clone the terminal's node
// (its mount is in none of the child's namespaces), and no
// ReadOnlyTerminal step is planned; root's Openpty step reopens the
// peer through a read-only clone instead (ReadOnly): chmod 666 of fd 0
// inside fails (EROFS), and the host's /dev/pts/N keeps its mode.
func TestRootTerminalJoinedMntReadOnly(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	res := consoleRoot(t, dir) // the commands, found there when planned; the host's run
	p := compileTerminal(t, dir, `version: 1
environments:
  con:
    rootfs: {dir: ./rootfs}
    namespaces: [pid, ipc]
    join: {mnt: /proc/self/ns/mnt}
    processes:
      - name: main
        command: [/bin/sh, -c, '{ echo "before=$(stat -L -c %a /proc/self/fd/0)"; chmod 666 /proc/self/fd/0; echo "fdchmod=$?"; echo "after=$(stat -L -c %a /proc/self/fd/0)"; } > `+res+` 2>&1']
`)
	text := planText(p)
	if !strings.Contains(text, `openpty("/dev/ptmx"), its peer opened again through a read-only clone`) || strings.Contains(text, "open_tree(<the terminal") {
		t.Fatalf("the plan does not reopen the terminal on the host:\n%s", text)
	}
	st, out, errOut, err := run(t, p, executor.Options{})
	if err != nil || st != 0 {
		t.Fatalf("apply: %d %v\n%s\n%s", st, err, out, errOut)
	}
	b, _ := os.ReadFile(res)
	out = string(b)
	if c := probeValue(out, "fdchmod"); c != "1" {
		t.Errorf("chmod 666 /proc/self/fd/0 inside: status %q, want 1 (EROFS):\n%s", c, out)
	}
	if a, b := probeValue(out, "before"), probeValue(out, "after"); a == "" || a != b {
		t.Errorf("the terminal's mode %q before the chmod, %q after:\n%s", a, b, out)
	}
}
