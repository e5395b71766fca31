package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsup/nsup/executor/lifecycle"
	"golang.org/x/sys/unix"
)

// detachedBusybox brings a project "att" of one environment, e (busybox,
// its own mount and pid namespaces, /proc, main: a shell that runs
// script), up detached with the nsup binary, and takes it down when the
// test ends; it returns a function that runs the binary with the test's
// state directory, given stdio files, in the spec's folder (also
// returned).
func detachedBusybox(t *testing.T, script string, mainExtra ...string) (func(stdin, stdout, stderr *os.File, args ...string) int, string) {
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
`+strings.Join(mainExtra, "")), 0o644); err != nil {
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
	return run, dir
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
	run, _ := detachedBusybox(t, "exec /bin/busybox sleep 1000")
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

// TestRootLogsTerminalSafe: root inside a detached environment writes
// escape sequences to its log (an OSC 52 that sets the clipboard, a
// window title, a cursor move up and a line erase that hide the line
// before, the end of a bracketed paste); nsup logs on a terminal shows
// them as text ("?" for ESC), its colours kept, and into a pipe copies
// the log as it is.
func TestRootLogsTerminalSafe(t *testing.T) {
	const evil = `\033]52;c;cm0gLXJmIH4K\007\033]0;pwned\007secret\033[1A\033[2K\033[200~\033[201~\033[32mgreen\033[0m`
	run, _ := detachedBusybox(t, `printf "`+evil+`\n"; printf "done\n"; exec /bin/busybox sleep 1000`)
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	// Raw into a pipe, once the main process has written it all.
	var raw string
	for i := 0; !strings.Contains(raw, "done\n"); i++ {
		if i == 1000 {
			t.Fatalf("nsup logs never showed the output: %q", raw)
		}
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		c := make(chan []byte, 1)
		go func() { b, _ := io.ReadAll(r); c <- b }()
		if code := run(null, w, null, "logs", "e"); code != 0 {
			t.Fatalf("logs: %d", code)
		}
		w.Close()
		raw = string(<-c)
		r.Close()
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(raw, "\x1b]52;c;") {
		t.Errorf("nsup logs into a pipe: %q, want the log as it is", raw)
	}
	code, shown := onTerminal(t, func(tty *os.File) int { return run(null, tty, null, "logs", "e") })
	if code != 0 {
		t.Fatalf("logs on a terminal: %d %q", code, shown)
	}
	want := "?]52;c;cm0gLXJmIH4K??]0;pwned?secret?[1A?[2K?[200~?[201~\x1b[32mgreen\x1b[0m\r\ndone\r\n"
	if !strings.Contains(shown, want) || strings.Count(shown, "\x1b") != 2 {
		t.Errorf("nsup logs on a terminal showed %q, want %q", shown, want)
	}
}

// onTerminal runs f with a pty's slave of the test's, for the caller's
// terminal, and returns f's status and what reached the terminal.
func onTerminal(t *testing.T, f func(tty *os.File) int) (int, string) {
	t.Helper()
	master, _, slave, err := lifecycle.OpenPty()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	tty := os.NewFile(uintptr(slave), "pts")
	c := make(chan string, 1)
	go func() {
		// Until EIO: no slave is open any more.
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		c <- b.String()
	}()
	code := f(tty)
	tty.Close()
	return code, <-c
}

// TestRootOutputTerminalSafe: what root inside writes reaches the
// caller's terminal made safe through every pipe nsup copies to it: nsup
// exec's without -t, and a foreground environment's (its stdin not a
// terminal, so no pty of its own), prefixed or not; nsup exec -t's
// terminal, the command's own, is raw.
func TestRootOutputTerminalSafe(t *testing.T) {
	const evil = `\033]52;c;cm0gLXJmIH4K\007\033]0;pwned\007\033[1A\033[2K\033[32mgreen\033[0m`
	const safe = "?]52;c;cm0gLXJmIH4K??]0;pwned??[1A?[2K\x1b[32mgreen\x1b[0m"
	run, dir := detachedBusybox(t, "exec /bin/busybox sleep 1000")
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	check := func(what string, code int, shown string) {
		t.Helper()
		if code != 0 || !strings.Contains(shown, safe) || strings.Count(shown, "\x1b]") != 0 {
			t.Errorf("%s: status %d, the terminal showed %q, want %q", what, code, shown, safe)
		}
	}
	code, shown := onTerminal(t, func(tty *os.File) int {
		return run(null, tty, tty, "exec", "e", "--", "/bin/busybox", "printf", evil+`\n`)
	})
	check("nsup exec", code, shown)
	code, shown = onTerminal(t, func(tty *os.File) int {
		return run(null, tty, tty, "exec", "e", "--", "/bin/busybox", "sh", "-c", "printf '"+evil+`\n' >&2`)
	})
	check("nsup exec, stderr", code, shown)
	for _, procs := range []string{
		"      - {name: main, command: [/bin/busybox, printf, '" + evil + "\\n']}\n",
		"      - {name: main, command: [/bin/busybox, printf, '" + evil + "\\n']}\n" +
			"      - {name: other, command: [/bin/busybox, printf, '" + evil + "\\n']}\n",
	} {
		fg := filepath.Join(dir, "fg.yaml")
		if err := os.WriteFile(fg, []byte(`version: 1
name: fg
environments:
  fg:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    processes:
`+procs), 0o644); err != nil {
			t.Fatal(err)
		}
		code, shown = onTerminal(t, func(tty *os.File) int { return run(null, tty, tty, "apply", fg) })
		check("nsup apply", code, shown)
	}
	// The command's own terminal: raw.
	code, shown = onTerminal(t, func(tty *os.File) int {
		return run(tty, tty, tty, "exec", "-t", "e", "--", "/bin/busybox", "printf", evil+`\n`)
	})
	if code != 0 || !strings.Contains(shown, "\x1b]52;c;") {
		t.Errorf("nsup exec -t: status %d, the terminal showed %q, want the command's output as it is", code, shown)
	}
}

// TestRootPsJSONSafe: a healthcheck's output (nsup ps --json shows the
// last one's) with a C1 CSI, DEL and a bidi override reaches the
// caller's terminal escaped (\u009b): encoding/json escapes C0 alone.
func TestRootPsJSONSafe(t *testing.T) {
	run, _ := detachedBusybox(t, "exec /bin/busybox sleep 1000",
		`        healthcheck: {command: [/bin/busybox, printf, '\302\23331m\177\342\200\256evil'], interval: 50ms}`+"\n")
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	for i := 0; ; i++ {
		code, shown := onTerminal(t, func(tty *os.File) int { return run(null, tty, null, "ps", "--json") })
		if code != 0 {
			t.Fatalf("ps --json: %d %q", code, shown)
		}
		if !strings.Contains(shown, "evil") {
			if i == 1000 {
				t.Fatalf("ps --json never showed the healthcheck's output: %q", shown)
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if strings.ContainsAny(shown, "\u009b\u007f\u202e") || !strings.Contains(shown, `\u009b31m\u007f\u202eevil`) {
			t.Errorf("ps --json showed %q, want the controls escaped", shown)
		}
		return
	}
}

// TestRootExecSlowReaderKeepsOutput: nsup exec's output to a pipe of the
// caller's (copied since 682fc27) reaches a reader that takes it only
// after the copy's grace (lifecycle.CopyGrace): `nsup exec e -- cat big
// | slow` lost what the bridge's pipe still held when the command ended
// (End closed it once the grace had passed).
func TestRootExecSlowReaderKeepsOutput(t *testing.T) {
	const size = 114894 // seq 1 21000: more than one pipe holds
	run, _ := detachedBusybox(t, "exec /bin/busybox sleep 1000")
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := make(chan int, 1)
	go func() {
		// Reads only once nsup exec has had the status and its grace
		// has passed: a slow consumer.
		time.Sleep(lifecycle.CopyGrace + 2*time.Second)
		n, _ := io.Copy(io.Discard, r)
		got <- int(n)
	}()
	code := run(null, w, null, "exec", "e", "--", "/bin/busybox", "seq", "1", "21000")
	w.Close()
	if n := <-got; code != 0 || n != size {
		t.Fatalf("exec: status %d, the reader got %d bytes of %d", code, n, size)
	}
}
