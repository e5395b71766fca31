package executor

import (
	"bufio"
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// outputs prefixes the lines of several processes that write to one
// place: each process gets a pipe for its fd 1 and one for its fd 2, and a
// goroutine per pipe writes every line to the same fd of the copier
// (init's, or nsup's for an init: false environment) as
//
//	LABEL | line
//
// one write(2) per line, so that lines of different processes never mix
// (writes up to PIPE_BUF are atomic on a pipe, and every write to an
// O_APPEND file or a terminal is one piece). On a terminal the "LABEL |"
// part is coloured, one colour per label. A process with no label (the
// only one of a detached environment, whose bounded log init writes)
// gets one pipe for both fds instead: its stdout and stderr reach the
// log in the order it wrote them, as when it wrote there itself.
type outputs struct {
	color bool
	next  int // colour index of the next label
	dst   [2]io.Writer
	mu    sync.Mutex // serialises the writes of one copier's lines
	wg    sync.WaitGroup
	pipes []*os.File // the read ends, for the final drain
	// colors are the colour indices given, by label: a restarted
	// process keeps its colour.
	colors map[string]int
	// grace bounds each read of what a pipe still held at drain's
	// deadline (copy).
	grace atomic.Int64
}

// labelColors are ANSI colours for labels, as docker compose picks them.
var labelColors = []string{"36", "33", "32", "35", "34", "96", "93", "92", "95", "94"}

// newOutputs copies to stdout and stderr.
func newOutputs(color bool, base int, stdout, stderr io.Writer) *outputs {
	return &outputs{color: color, next: base, dst: [2]io.Writer{stdout, stderr}}
}

// add makes the pipes of one process and starts copying them; it returns
// the write ends, for the process's fds 1 and 2.
func (o *outputs) add(label string) (stdout, stderr *os.File, err error) {
	prefix := label + " | "
	if label == "" {
		prefix = "" // a bounded log's only process (init.log)
	}
	if o.colors == nil {
		o.colors = map[string]int{}
	}
	c, ok := o.colors[label]
	if !ok {
		c = o.next
		o.colors[label] = c
		o.next++
	}
	if o.color && label != "" {
		prefix = "\x1b[" + labelColors[c%len(labelColors)] + "m" + label + " |\x1b[0m "
	}
	var w [2]*os.File
	n := len(w)
	if label == "" {
		n = 1
	}
	for i := range n {
		r, pw, err := os.Pipe()
		if err != nil {
			if i == 1 {
				w[0].Close()
			}
			return nil, nil, err
		}
		w[i] = pw
		o.pipes = append(o.pipes, r)
		o.wg.Add(1)
		go o.copy(r, o.dst[i], []byte(prefix))
	}
	if label == "" {
		w[1] = w[0]
	}
	return w[0], w[1], nil
}

// maxLine is the longest line copied in one piece; a longer one is split,
// each piece prefixed.
const maxLine = 64 << 10

// copy writes r's lines to dst, each prefixed, until r's end; once
// drain's deadline has passed, until the end of what r held then (the
// last output of processes that have ended, which the copy, stuck writing
// to a slow reader of nsup's output, had not taken by the deadline: a
// read past the deadline fails without looking, and it was lost, as in
// nsup apply | slow: 44,859 of 50,000 lines). A process left behind that
// goes on writing adds at most what the pipe held then.
func (o *outputs) copy(r *os.File, dst io.Writer, prefix []byte) {
	defer o.wg.Done()
	src := &heldReader{f: r, left: -1}
	br := bufio.NewReaderSize(src, maxLine)
	buf := make([]byte, 0, len(prefix)+maxLine+1)
	var carry []byte // a line cut by the deadline, taken up again
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, os.ErrDeadlineExceeded) && src.left < 0 {
			carry = append(carry, line...)
			src.left = 0
			if c, cerr := r.SyscallConn(); cerr == nil {
				c.Control(func(fd uintptr) { src.left, _ = unix.IoctlGetInt(int(fd), unix.TIOCINQ) })
			}
			// Reads of what the pipe holds do not wait: each is bounded
			// on its own (heldReader), not all of them by one deadline,
			// which lost what a pipe made larger than the copy's buffer
			// held past it when the reader of nsup's output took longer
			// (helper-78's review).
			src.wait = time.Duration(o.grace.Load())
			continue
		}
		if len(carry) > 0 {
			line, carry = append(carry, line...), nil
		}
		// A line longer than maxLine (one the deadline cut and carry
		// joined, too) goes in pieces, each prefixed: none is lost.
		for len(line) > 0 {
			piece := line[:min(len(line), maxLine)]
			line = line[len(piece):]
			buf = append(append(buf[:0], prefix...), piece...)
			if buf[len(buf)-1] != '\n' {
				buf = append(buf, '\n')
			}
			o.mu.Lock()
			dst.Write(buf)
			o.mu.Unlock()
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}

// heldReader reads f; once left is set (>= 0), only that many bytes
// more, each read given wait (bytes the pipe holds are read at once; a
// read of none, should something else have taken them, does not wait
// for good).
type heldReader struct {
	f    *os.File
	left int
	wait time.Duration
}

func (h *heldReader) Read(p []byte) (int, error) {
	if h.left == 0 {
		return 0, io.EOF
	}
	if h.left > 0 {
		p = p[:min(len(p), h.left)]
		h.f.SetReadDeadline(time.Now().Add(h.wait))
	}
	n, err := h.f.Read(p)
	if h.left > 0 {
		h.left -= n
	}
	return n, err
}

// drain waits for the copies to reach the end of their pipes, at most d
// once there is nothing more to read: a process's children may hold its
// pipes open after it has exited. What a pipe holds at the deadline is
// copied all the same (copy), as fast as the reader of nsup's output
// takes it: a copy writing to a slow reader is waited for, as the
// process would have waited.
func (o *outputs) drain(d time.Duration) {
	done := make(chan struct{})
	go func() {
		o.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
		// A little more time, not none: a read past its deadline fails
		// without looking (what is in a pipe then is copied: copy).
		o.grace.Store(int64(d))
		for _, r := range o.pipes {
			r.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		}
		<-done
	}
	for _, r := range o.pipes {
		r.Close()
	}
}
