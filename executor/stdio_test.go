package executor_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
)

// TestPassAsIs: only what cannot be opened again the other way reaches
// an environment as it is: a pipe, a socket, /dev/null. A regular file, a
// folder, a terminal, another device and a named FIFO go through a pipe; a stdout and
// stderr that are one file through one (SameFile).
func TestPassAsIs(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o600)
	open := func(p string) *os.File {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	sock := os.NewFile(uintptr(fds[0]), "sock")
	defer sock.Close()
	syscall.Close(fds[1])
	master, slave, err := executor.OpenPty()
	if err != nil {
		t.Fatal(err)
	}
	// A named FIFO is a node of the caller's filesystem: handed over as it
	// is, root inside chmod'ed and chown'ed it through /proc/self/fd/1.
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	named, err := os.OpenFile(fifo, os.O_RDWR, 0) // O_RDWR: no wait for a peer
	if err != nil {
		t.Fatal(err)
	}
	defer named.Close()
	defer master.Close()
	defer slave.Close()
	for _, c := range []struct {
		name string
		f    *os.File
		want bool
	}{
		{"pipe", r, true},
		{"socket", sock, true},
		{"/dev/null", open(os.DevNull), true},
		{"regular file", open(file), false},
		{"folder", open(dir), false},
		{"terminal", slave, false},
		{"/dev/zero", open("/dev/zero"), false},
		{"named FIFO", named, false},
	} {
		if got := lifecycle.PassAsIs(c.f); got != c.want {
			t.Errorf("PassAsIs(%s) = %v, want %v", c.name, got, c.want)
		}
	}
	other := filepath.Join(dir, "g")
	os.WriteFile(other, nil, 0o600)
	for _, c := range []struct {
		name string
		a, b *os.File
		want bool
	}{
		{"one terminal", slave, open(fmt.Sprintf("/proc/self/fd/%d", slave.Fd())), true},
		{"one file opened twice (2>&1 or >f 2>f)", open(file), open(file), true},
		{"two files", open(file), open(other), false},
		{"a terminal and /dev/null", slave, open(os.DevNull), false},
	} {
		if got := lifecycle.SameFile(c.a, c.b); got != c.want {
			t.Errorf("SameFile, %s: %v, want %v", c.name, got, c.want)
		}
	}
	if !lifecycle.IsTerminal(slave) || lifecycle.IsTerminal(open(os.DevNull)) {
		t.Error("IsTerminal: wrong")
	}
}

// TestStdioDetachedRefusesFile: a detached environment's stdin is handed
// over as it is (no relay outlives nsup), so the Stdio step takes only
// what may be: a plan edited to give it a file is refused.
func TestStdioDetachedRefusesFile(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "secret")
	os.WriteFile(in, []byte("x"), 0o600)
	log := filepath.Join(dir, "output.log")
	if _, err := executor.OpenStdio(planner.Stdio{Stdin: in, Stdout: log}); err == nil || !strings.Contains(err.Error(), "not this") {
		t.Errorf("a regular file as a detached stdin: %v, want refused", err)
	}
	files, err := executor.OpenStdio(planner.Stdio{Stdin: os.DevNull, Stdout: log})
	if err != nil {
		t.Fatalf("/dev/null as a detached stdin: %v", err)
	}
	for _, f := range files {
		f.Close()
	}
}
