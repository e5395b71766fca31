package executor

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// TestStdioTerminalStdin: environments with no pty of their own (several
// in the foreground) get /dev/null for a terminal on nsup's stdin, not a
// copy of it, which would read the caller's keys for them all and stop
// nsup in the background (SIGTTIN, found by the eighth stop's review);
// a stdout and stderr that are one file (2>&1) go through one pipe, which
// keeps the order of their lines.
func TestStdioTerminalStdin(t *testing.T) {
	m, _, s, err := lifecycle.OpenPty()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	slave := os.NewFile(uintptr(s), "pts")
	defer slave.Close()
	out, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	errw, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(out.Fd())), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer errw.Close()
	p := &planner.Plan{Environments: []planner.Env{{Name: "a"}, {Name: "b"}}}
	std, err := newStdio(p, slave, out, errw)
	if err != nil {
		t.Fatal(err)
	}
	defer std.close()
	var st unix.Stat_t
	if err := unix.Fstat(int(std.Files[0].Fd()), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(uint64(st.Rdev)) != 1 || unix.Minor(uint64(st.Rdev)) != 3 {
		t.Errorf("a terminal on stdin, no pty: the environments' fd 0 is not /dev/null (%v, mode %o, rdev %x)", err, st.Mode, st.Rdev)
	}
	if std.Files[1] != std.Files[2] || std.Files[1] == out {
		t.Errorf("stdout and stderr one file: not one pipe (%v, %v)", std.Files[1].Name(), std.Files[2].Name())
	}
}

// TestCRLFWriter: the other environments' lines get "\r\n" only while a
// pty's relay has the terminal in raw mode; in cooked mode, before and
// after, the terminal's own output processing does it (the review of the
// change saw "\r\r\n" in recordings).
func TestCRLFWriter(t *testing.T) {
	var raw atomic.Bool
	var b strings.Builder
	w := crlfWriter{&b, &raw}
	w.Write([]byte("cooked\n"))
	raw.Store(true)
	w.Write([]byte("raw\nraw\n"))
	raw.Store(false)
	w.Write([]byte("cooked\n"))
	if want := "cooked\nraw\r\nraw\r\ncooked\n"; b.String() != want {
		t.Errorf("%q, want %q", b.String(), want)
	}
}
