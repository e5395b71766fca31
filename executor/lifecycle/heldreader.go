package lifecycle

import (
	"errors"
	"io"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// HeldReader reads the read end of a pipe of processes that may have
// ended: until its read deadline passes (set by whoever gives up waiting
// for the pipe's end: Bridge.End, nsup's prefixed outputs), then only
// what the pipe held at that moment (TIOCINQ), each read given the grace
// *Grace (bytes the pipe holds are read at once), then io.EOF. That is
// the last output of commands that have ended, which a copy stuck
// writing to a slow reader of nsup's output had not taken by the
// deadline; a read past the deadline fails without looking, and it was
// lost (helper-74's and helper-78's reviews: nsup exec ... | slow got
// 65,536 of 114,894 bytes, nsup apply | slow 44,859 of 50,000 lines). A
// process left behind that goes on writing adds at most what the pipe
// held then. The deadline never reaches the caller: a line it cut is
// read on whole.
type HeldReader struct {
	f     *os.File
	grace *atomic.Int64 // nanoseconds
	left  int           // what is left to read; -1 until the deadline
}

// NewHeldReader reads f; grace is read once the deadline has passed.
func NewHeldReader(f *os.File, grace *atomic.Int64) *HeldReader {
	return &HeldReader{f: f, grace: grace, left: -1}
}

func (h *HeldReader) Read(p []byte) (int, error) {
	for {
		if h.left == 0 {
			return 0, io.EOF
		}
		if h.left > 0 {
			p = p[:min(len(p), h.left)]
			h.f.SetReadDeadline(time.Now().Add(time.Duration(h.grace.Load())))
		}
		n, err := h.f.Read(p)
		if h.left > 0 {
			h.left -= n
			return n, err
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		h.left = 0
		if c, cerr := h.f.SyscallConn(); cerr == nil {
			c.Control(func(fd uintptr) { h.left, _ = unix.IoctlGetInt(int(fd), unix.TIOCINQ) })
		}
		if n > 0 {
			return n, nil
		}
	}
}
