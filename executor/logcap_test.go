package executor

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/nsup/nsup/executor/lifecycle"
	"golang.org/x/sys/unix"
)

// TestCappedLog: written line by line far past its bound, the log never
// holds more than the bound, and holds exactly the newest output after a
// line counting the bytes cut; lifecycle.LogCut reads that line back.
func TestCappedLog(t *testing.T) {
	for _, max := range []int64{4 << 10, 64 << 10} {
		path := filepath.Join(t.TempDir(), "output.log")
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		l, err := newCappedLog(f, max)
		if err != nil {
			t.Fatal(err)
		}
		var all bytes.Buffer
		for i := 0; i < 50000; i++ {
			line := []byte(fmt.Sprintf("line %d\n", i))
			all.Write(line)
			if _, err := l.Write(line); err != nil {
				t.Fatal(err)
			}
			if i%997 == 0 {
				var st unix.Stat_t
				unix.Fstat(int(f.Fd()), &st)
				if st.Size > max {
					t.Fatalf("max %d: the log holds %d bytes", max, st.Size)
				}
			}
		}
		f.Close()
		b, _ := os.ReadFile(path)
		r, _ := os.Open(path)
		cut, header, _ := lifecycle.LogCut(r)
		r.Close()
		if header == 0 || !bytes.Equal(b[header:], all.Bytes()[cut:]) {
			t.Errorf("max %d: cut %d, header %d; the log is not the newest output: %q", max, cut, header, b[:min(len(b), 80)])
		}
		if b[header-1] != '\n' || !bytes.HasPrefix(b, []byte("nsup: ")) {
			t.Errorf("max %d: the cut line: %q", max, b[:header])
		}
		if int64(len(b)) < max/4 {
			t.Errorf("max %d: only %d bytes kept", max, len(b))
		}
	}
}

// TestCappedLogLocked: a cut never waits for the log's lock (nsup logs
// stopped while it held it shared would stall every process of the
// environment): the log grows on past its bound, up to half as much
// again, then drops what comes, and the first cut once the lock is free
// says how much was dropped.
func TestCappedLogLocked(t *testing.T) {
	const max = 4 << 10
	path := filepath.Join(t.TempDir(), "output.log")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l, err := newCappedLog(f, max)
	if err != nil {
		t.Fatal(err)
	}
	reader, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if err := unix.Flock(int(reader.Fd()), unix.LOCK_SH); err != nil {
		t.Fatal(err)
	}
	line := []byte("0123456789abcdef0123456789abcde\n") // 32 bytes
	for i := 0; i < 400; i++ {                          // 12,800 bytes
		if n, err := l.Write(line); err != nil || n != len(line) {
			t.Fatalf("write %d while locked: %d %v", i, n, err)
		}
	}
	var st unix.Stat_t
	unix.Fstat(int(f.Fd()), &st)
	if st.Size > max+max/2 || st.Size < max {
		t.Errorf("locked: the log holds %d bytes, want between %d and %d", st.Size, max, max+max/2)
	}
	unix.Flock(int(reader.Fd()), unix.LOCK_UN)
	l.Write(line)
	b, _ := os.ReadFile(path)
	if int64(len(b)) > max || !bytes.Contains(b, []byte(" bytes of output dropped while the log was locked\n")) {
		t.Errorf("once unlocked: %d bytes, no word of what was dropped: %q", len(b), b[:min(len(b), 120)])
	}
}

// TestLogsFirstLineInit: a process cannot pass for init's first line of
// the log (its count of bytes cut), which nsup logs reads to follow
// across cuts: that line is init's from the start, and a process's line
// that looks like it is output like any other.
func TestLogsFirstLineInit(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	dir := filepath.Join(state, "proj", "env")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chmod(state, 0o700)
	f, err := os.OpenFile(filepath.Join(dir, "output.log"), os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l, err := newCappedLog(f, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	out := "nsup: -999999999999 bytes of older output cut here\nnsup: 999999999999 bytes of older output cut here\n1\n2\n"
	l.Write([]byte(out))
	var got bytes.Buffer
	if err := lifecycle.Logs(context.Background(), filepath.Join(state, "proj"), "env", false, &got); err != nil {
		t.Fatal(err)
	}
	if got.String() != out {
		t.Errorf("nsup logs: %q, want the process's lines as written, %q", got.String(), out)
	}
}

// TestCappedLogCutAtLineStart: a cut keeps whole lines, however long
// the line it falls in (a labelled piece is up to maxLine bytes and its
// label). Before helper-102's review the cut looked for the next line's
// start in 64 KiB only: falling on the label of a longer line, it kept
// that line from there, and a process that wrote its line's start as
// another's ("x/side | forged") had it as the first line after the cut
// line, another process's to nsup logs.
func TestCappedLogCutAtLineStart(t *testing.T) {
	const bound = 512 << 10
	path := filepath.Join(t.TempDir(), "output.log")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l, err := newCappedLog(f, bound)
	if err != nil {
		t.Fatal(err)
	}
	size := int64(len(lifecycle.LogCutLine(0)))
	fill := func(to int64) { // lines of "f" up to offset to
		for size < to {
			n := min(to-size, 100)
			l.Write(append(bytes.Repeat([]byte("f"), int(n-1)), '\n'))
			size += n
		}
	}
	prefix := "x/main | "
	forged := "x/side | forged "
	long := prefix + forged + string(bytes.Repeat([]byte("y"), maxLine-len(forged))) + "\n"
	// The cut falls where the log then holds bound bytes, less half of
	// them: at the end of long's label.
	fill(bound/2 - int64(len(prefix)))
	l.Write([]byte(long))
	size += int64(len(long))
	fill(bound)
	l.Write([]byte("last\n"))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := os.Open(path)
	cut, header, _ := lifecycle.LogCut(r)
	r.Close()
	if cut == 0 {
		t.Fatalf("no cut: %d bytes", len(b))
	}
	if rest := b[header:]; !bytes.HasPrefix(rest, []byte("f")) || !bytes.HasSuffix(rest, []byte("\nlast\n")) {
		t.Errorf("after the cut line: %.40q ... %.40q, want the filler after the long line first", rest, rest[max(0, len(rest)-40):])
	}
}
