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

// detachedBusybox brings a project "att" of one environment, e (busybox,
// its own mount and pid namespaces, /proc, main: a shell that runs
// script), up detached with the nsup binary, and takes it down when the
// test ends; it returns a function that runs the binary with the test's
// state directory, given stdio files.
func detachedBusybox(t *testing.T, script string) func(stdin, stdout, stderr *os.File, args ...string) int {
	t.Helper()
	requireRoot(t)
	checkHost(t)
	bin := buildNsup(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	f := filepath.Join(dir, "nsup.yaml")
	if err := os.WriteFile(f, []byte(`version: 1
name: att
environments:
  e:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    mounts:
      - {type: proc, target: /proc}
    processes:
      - name: main
        command: [/bin/busybox, sh, -c, '`+script+`']
`), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(stdin, stdout, stderr *os.File, args ...string) int {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "NSUP_STATE_DIR="+state, "NSUP_CACHE_DIR="+filepath.Join(dir, "cache"), "NO_COLOR=1")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
		cmd.Run()
		return cmd.ProcessState.ExitCode()
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		run(null, null, null, "down", f)
		null.Close()
	})
	if code := run(null, null, null, "apply", "-d", f); code != 0 {
		t.Fatalf("apply -d: %d", code)
	}
	return run
}

// pipeIno is the inode of a pipe (pipefs: one for both ends).
func pipeIno(t *testing.T, f *os.File) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// TestRootExecHostPipesNotHanded: nsup exec with pipes of the host's for
// its stdin, stdout and stderr gives the command pipes of its own, which
// nsup copies, not the host's: with the host's, any process inside (root
// there, or the command, which a process left behind in a session of its
// own outlives) could open /proc/PID/fd/N again the other way round,
// read what other host processes write to the caller's stdout pipe, or
// write into the caller's stdin pipe what a host script reads next, and
// keep them after nsup exec has returned.
func TestRootExecHostPipesNotHanded(t *testing.T) {
	run := detachedBusybox(t, "exec /bin/busybox sleep 1000")
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer inR.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer outR.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer errR.Close()
	inW.WriteString("some input\n")
	inW.Close()
	host := map[uint64]string{pipeIno(t, inR): "stdin", pipeIno(t, outR): "stdout", pipeIno(t, errR): "stderr"}
	read := func(f *os.File) chan string {
		c := make(chan string, 1)
		go func() {
			var b strings.Builder
			buf := make([]byte, 4096)
			for {
				n, err := f.Read(buf)
				b.Write(buf[:n])
				if err != nil {
					break
				}
			}
			c <- b.String()
		}()
		return c
	}
	outc, errc := read(outR), read(errR)
	code := run(inR, outW, errW, "exec", "e", "--", "/bin/busybox", "sh", "-c",
		"read line; /bin/busybox stat -L -c %i /proc/self/fd/0 /proc/self/fd/1; /bin/busybox stat -L -c %i /proc/self/fd/2 >&2")
	outW.Close()
	errW.Close()
	out, errs := <-outc, <-errc
	if code != 0 {
		t.Fatalf("exec: %d\n%s%s", code, out, errs)
	}
	inside := strings.Fields(out + errs)
	if len(inside) != 3 {
		t.Fatalf("exec printed %q %q", out, errs)
	}
	for i, s := range inside {
		var ino uint64
		fmt.Sscan(s, &ino)
		if which, ok := host[ino]; ok {
			t.Errorf("the command's fd %d is the host's %s pipe itself (inode %d)", i, which, ino)
		}
	}
}
