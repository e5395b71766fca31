package executor

import (
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pacedWriter is a reader of nsup's output that takes nothing until open
// is closed, then, once it has taken more than pauseAfter bytes, pauses
// once (pause): slower than the drain's grace.
type pacedWriter struct {
	open       chan struct{}
	pauseAfter int
	pause      time.Duration
	mu         sync.Mutex
	b          strings.Builder
	paused     bool
}

func (g *pacedWriter) Write(p []byte) (int, error) {
	<-g.open
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.paused && g.b.Len() > g.pauseAfter {
		g.paused = true
		time.Sleep(g.pause)
	}
	return g.b.Write(p)
}

// drainLeftBehind writes text to a process's pipe (made size bytes
// large first when size > 0), which stays open as a process left behind
// holds it, drains with deadline d, and opens the reader only after it:
// what the reader got, prefixes taken out.
func drainLeftBehind(t *testing.T, g *pacedWriter, size int, parts ...string) string {
	t.Helper()
	o := newOutputs(false, 0, g, io.Discard)
	w, werr, err := o.add("a", "a")
	if err != nil {
		t.Fatal(err)
	}
	defer werr.Close()
	if size > 0 {
		if n, err := unix.FcntlInt(w.Fd(), unix.F_SETPIPE_SZ, size); err != nil || n < size {
			t.Fatalf("a pipe of %d bytes: %d, %v", size, n, err)
		}
	}
	for _, p := range parts {
		if _, err := io.WriteString(w, p); err != nil {
			t.Fatal(err)
		}
	}
	drained := make(chan struct{})
	go func() {
		o.drain(20 * time.Millisecond)
		close(drained)
	}()
	// The reader opens well after the deadline (20 ms, then 20 ms more).
	time.Sleep(300 * time.Millisecond)
	close(g.open)
	<-drained
	w.Close()
	g.mu.Lock()
	defer g.mu.Unlock()
	return strings.ReplaceAll(strings.ReplaceAll(g.b.String(), "a | ", ""), "\n", "")
}

// TestOutputsDrainLargePipeSlowReader: a process left behind that made
// its pipe larger than the copy's buffer (F_SETPIPE_SZ) had the last of
// what it held lost when the reader of nsup's output took longer than
// the drain's grace to take the first buffer's worth: the reads of what
// the pipe held were bounded in time (helper-78's review). Now they are
// bounded by what the pipe held only.
func TestOutputsDrainLargePipeSlowReader(t *testing.T) {
	var text strings.Builder
	for i := 0; text.Len() < 200000; i++ {
		text.WriteString(strings.Repeat("z", 9) + "\n")
	}
	// The copy's first buffer holds at most maxLine bytes of input (1.4
	// times as many of output, prefixed); its second is read after the
	// deadline, and the pause (more than the grace) comes before its third.
	g := &pacedWriter{open: make(chan struct{}), pauseAfter: 2 * maxLine, pause: 200 * time.Millisecond}
	got := drainLeftBehind(t, g, 256<<10, text.String())
	if want := strings.ReplaceAll(text.String(), "\n", ""); got != want {
		t.Errorf("the reader got %d of %d bytes", len(got), len(want))
	}
}

// TestOutputsDrainCutLongLine: a line the drain's deadline cut (the copy
// held its start) whose whole is longer than maxLine is copied in
// pieces, as any long line: it was cut to maxLine, the rest lost
// (helper-78's review).
func TestOutputsDrainCutLongLine(t *testing.T) {
	g := &pacedWriter{open: make(chan struct{}), pauseAfter: 1 << 30}
	b1, b2 := strings.Repeat("x", 40000), strings.Repeat("y", 40000)
	// One write: the copy reads it all, writes "first" (held by the
	// reader) and keeps b1, its line not ended; b2 waits in the pipe.
	o := "first\n" + b1
	got := drainLeftBehind(t, g, 0, o, b2+"\n")
	if want := "first" + b1 + b2; got != want {
		t.Errorf("the reader got %d x and %d y of 40000 each", strings.Count(got, "x"), strings.Count(got, "y"))
	}
}
