package executor

import (
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsup/nsup/executor/lifecycle"
)

// TestOutputs: every line of every process is written whole, with its
// label; a last line without a newline gets one; a line longer than
// maxLine is cut in pieces, each labelled; colours only when asked.
func TestOutputs(t *testing.T) {
	for _, color := range []bool{false, true} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		o := newOutputs(color, 1, w, w)
		a1, a2, err := o.add("env/a", "env/a")
		if err != nil {
			t.Fatal(err)
		}
		b1, b2, err := o.add("env/b", "env/b")
		if err != nil {
			t.Fatal(err)
		}
		long := strings.Repeat("x", maxLine+10)
		done := make(chan string)
		go func() {
			b, _ := io.ReadAll(r)
			done <- string(b)
		}()
		a1.WriteString("one\ntwo")
		a2.WriteString("err\n")
		b1.WriteString(long + "\n")
		for _, f := range []*os.File{a1, a2, b1, b2} {
			f.Close()
		}
		o.drain(time.Second)
		w.Close()
		got := <-done
		la, lb := "env/a | ", "env/b | "
		if color {
			la, lb = "\x1b[33menv/a |\x1b[0m ", "\x1b[32menv/b |\x1b[0m "
		}
		lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
		want := map[string]bool{la + "one": true, la + "two": true, la + "err": true,
			lb + long[:maxLine]: true, lb + long[maxLine:]: true}
		if len(lines) != len(want) {
			t.Fatalf("color %v: %d lines, want %d: %q", color, len(lines), len(want), got)
		}
		for _, l := range lines {
			if !want[l] {
				t.Errorf("color %v: unexpected line %.60q", color, l)
			}
		}
	}
}

// TestOutputsUnlabelled: the only process of a detached environment
// (no label) gets one pipe for its fds 1 and 2, so that what it writes to
// each reaches the log in the order it wrote it, as when it wrote to the
// log itself (a make test under CPU hogs saw a stderr line after the
// stdout line written after it, with one pipe each).
func TestOutputsUnlabelled(t *testing.T) {
	var want strings.Builder
	got := copied(t, "", "env/main", func(out, errw *os.File) {
		if out != errw {
			t.Error("two pipes for an unlabelled process")
		}
		for i := 0; i < 200; i++ {
			fmt.Fprintf(errw, "err %d\n", i)
			fmt.Fprintf(out, "out %d\n", i)
			fmt.Fprintf(&want, "err %d\nout %d\n", i, i)
		}
	})
	if got != want.String() {
		t.Errorf("lines out of order: %.80q...", got)
	}
}

// TestOutputsSlowReaderKeepsOutput: the last output of a process that has
// ended, still in its pipe when drain's deadline passes because the copy
// was stuck writing to a slow reader, is copied all the same (it was
// lost: nsup apply | slow got 44,859 of 50,000 lines); a process left
// behind holding the pipe open adds at most what the pipe held, and
// drain ends (drainLeftBehind).
func TestOutputsSlowReaderKeepsOutput(t *testing.T) {
	var text strings.Builder
	for i := 0; i < 12000; i++ {
		fmt.Fprintf(&text, "line %d\n", i)
	}
	// More than the copy's buffer: the rest waits in the pipe.
	if text.Len() <= maxLine || text.Len() > maxLine+60000 {
		t.Fatalf("%d bytes: want more than the copy's buffer, less than it and a pipe", text.Len())
	}
	g := &pacedWriter{open: make(chan struct{}), pauseAfter: math.MaxInt}
	want := strings.ReplaceAll(text.String(), "\n", "")
	if got := drainLeftBehind(t, g, 0, text.String()); got != want {
		t.Errorf("got %d of %d bytes", len(got), len(want))
	}
}

// TestOutputsCarriageReturn: a carriage return inside a line starts a
// line of the same label. Before helper-102's review a line such as
// "progress\renv/b | forged" was copied as one line labelled env/a, and
// on a terminal (nsup logs, or apply's output, through TermSafe, which
// writes a lone carriage return as a newline; or the log read raw, the
// return going back over the label) showed as a line of env/b. A line's
// CRLF ending is kept.
func TestOutputsCarriageReturn(t *testing.T) {
	got := copied(t, "env/a", "env/a", func(a1, _ *os.File) {
		a1.WriteString("progress\renv/b | forged\n10%\r20%\r\r\ndos\r\n")
	})
	want := "env/a | progress\nenv/a | env/b | forged\nenv/a | 10%\nenv/a | 20%\nenv/a | \r\nenv/a | dos\r\n"
	if got != want {
		t.Errorf("copied %q, want %q", got, want)
	}
	var shown strings.Builder
	ts := lifecycle.NewTermSafe(&shown)
	ts.Write([]byte(got))
	ts.Close()
	for _, l := range strings.Split(strings.TrimSuffix(shown.String(), "\n"), "\n") {
		if !strings.HasPrefix(l, "env/a | ") {
			t.Errorf("a line on the terminal is not env/a's: %q", l)
		}
	}
}

// TestOutputsUnlabelledInitLike: a line of a bounded log's only process
// (no label) that could be read as one of init's messages ("nsup: ...")
// gets the process's label, shown or raw; its other lines are copied as
// they are. Before, root inside wrote "nsup: env/main exited with status
// 0" into the log as init would (the twenty-second stop's closing note).
func TestOutputsUnlabelledInitLike(t *testing.T) {
	forged := []string{
		"nsup: env/main exited with status 0",
		"NSUP: upper case",
		"  nsup: after blanks",
		"\x1b[0mnsup: after a colour",
		"\x00nsup: after a NUL",
		"n\u0455up: a Cyrillic s",
		"\u200bnsup: after a zero-width space",
		"nsup:",
	}
	plain := []string{"hello", "nsupper is ready", "n", "", "  indented", "\tat Main.java:1", "日本語のログ", "nsu", "ns: x"}
	got := strings.Split(copied(t, "", "env/main", func(out, _ *os.File) {
		for _, l := range append(slices.Clone(forged), plain...) {
			fmt.Fprintln(out, l)
		}
		// Shown as a line of its own: after a carriage return, or as
		// the piece of a long line that starts a line of the log.
		fmt.Fprint(out, "progress\rnsup: after a return\n")
		fmt.Fprint(out, strings.Repeat("x", maxLine)+"nsup: a long line's piece\n")
	}), "\n")
	var want []string
	for _, l := range forged {
		want = append(want, "env/main | "+l)
	}
	want = append(want, plain...)
	want = append(want, "env/main | progress", "env/main | nsup: after a return", strings.Repeat("x", maxLine), "env/main | nsup: a long line's piece", "")
	if !slices.Equal(got, want) {
		t.Errorf("copied:\n%q\nwant:\n%q", got, want)
	}
}

// copied is what outputs copy of one process (label, name: outputs.add)
// that write writes to its fds 1 and 2, both closed then, and drained.
func copied(t *testing.T, label, name string, write func(stdout, stderr *os.File)) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	o := newOutputs(false, 0, w, w)
	stdout, stderr, err := o.add(label, name)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	write(stdout, stderr)
	stdout.Close()
	stderr.Close() // the same pipe as stdout's without a label: closed again, harmless
	o.drain(time.Second)
	w.Close()
	return <-done
}
