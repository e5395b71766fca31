package lifecycle

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A regular file is copied through a pipe, never handed over; one writer
// given as stdout and stderr gets one pipe; a pipe is handed over as it
// is; End waits for the copy of the last output.
func TestBridge(t *testing.T) {
	in := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(in, []byte("the input\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	var b Bridge
	if err := b.In(f); err != nil {
		t.Fatal(err)
	}
	if err := b.Outs(&out, &out); err != nil {
		t.Fatal(err)
	}
	if b.Files[0] == f || !PassAsIs(b.Files[0]) {
		t.Fatalf("a regular file handed over: %v", b.Files[0])
	}
	if b.Files[1] != b.Files[2] || !PassAsIs(b.Files[1]) {
		t.Fatalf("one writer, not one pipe: %v %v", b.Files[1], b.Files[2])
	}
	got, err := io.ReadAll(b.Files[0])
	if err != nil || string(got) != "the input\n" {
		t.Fatalf("input: %q %v", got, err)
	}
	b.Files[1].Write([]byte("out\n"))
	b.Files[2].Write([]byte("err\n"))
	b.End(time.Second)
	if out.String() != "out\nerr\n" {
		t.Fatalf("output: %q", out.String())
	}

	// A pipe goes as it is; AsIs hands over a file as it is too (nsup
	// exec -t's relay, given the terminal).
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	var p Bridge
	if err := p.In(r); err != nil {
		t.Fatal(err)
	}
	if err := p.Outs(w, w); err != nil {
		t.Fatal(err)
	}
	if p.Files != [3]*os.File{r, w, w} {
		t.Fatalf("pipes bridged: %v", p.Files)
	}
	p.End(0)
	a := Bridge{AsIs: func(*os.File) bool { return true }}
	if err := a.In(f); err != nil || a.Files[0] != f {
		t.Fatalf("AsIs: %v %v", a.Files[0], err)
	}
	a.End(0)
}

// TestBridgeSlowReaderKeepsOutput: a command's last output, still in the
// bridge's pipe when it ended, reaches a reader of nsup's stdout that
// takes it only after End's grace (a slow consumer of a pipe that nsup
// exec copies: `nsup exec e -- cat big | slow`); before, End closed the
// pipe after the grace and that output was lost.
func TestBridgeSlowReaderKeepsOutput(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b := Bridge{AsIs: IsNull}
	if err := b.Outs(w, w); err != nil {
		t.Fatal(err)
	}
	if b.Files[1] == w {
		t.Fatal("the pipe handed over, not copied")
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 7<<10) // 112 KiB: more than one pipe holds
	wrote := make(chan error, 1)
	go func() {
		_, err := b.Files[1].Write(data)
		wrote <- err
	}()
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	go func() {
		time.Sleep(time.Second) // a reader slower than the grace below
		all, _ := io.ReadAll(r)
		got <- all
	}()
	b.End(100 * time.Millisecond)
	w.Close()
	if all := <-got; !bytes.Equal(all, data) {
		t.Fatalf("the reader got %d bytes of %d", len(all), len(data))
	}
}
