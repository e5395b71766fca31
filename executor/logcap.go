package executor

import (
	"bytes"
	"io"
	"os"
	"sync"

	"github.com/nsup/nsup/executor/lifecycle"
	"golang.org/x/sys/unix"
)

// cappedLog is a detached environment's log as init writes it, when the
// plan bounds it (Stdio.Max): init alone writes to it (every process
// writes to pipes of its own, copied here), and once a write would take
// it past max bytes, the oldest half is cut: the newest max/2 bytes or
// less, from a line's start, move to the file's start, after a line that
// counts the bytes cut so far (lifecycle.LogCutLine), and the file is
// truncated after them, under an exclusive flock of the log (nsup logs
// looks under a shared one). Moving needs writes at an offset, so the file's
// O_APPEND is cleared: nothing else writes to it but init (its own
// messages, at the file's offset as these writes are), since nsup's host
// side closed its copy.
type cappedLog struct {
	mu  sync.Mutex
	f   *os.File
	fd  int
	max int64
	// size is the file's size as last written; cut the bytes of output
	// cut so far, header the length of the cut line at the start.
	size, cut, header int64
}

func newCappedLog(f *os.File, max int64) (*cappedLog, error) {
	fd := int(f.Fd())
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return nil, err
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl&^unix.O_APPEND); err != nil {
		return nil, err
	}
	end, err := unix.Seek(fd, 0, io.SeekEnd)
	if err != nil {
		return nil, err
	}
	l := &cappedLog{f: f, fd: fd, max: max, size: end}
	l.cut, l.header, _ = lifecycle.LogCut(f)
	return l, nil
}

// Write writes p whole (one write(2)), cutting the log first if it would
// grow past max.
func (l *cappedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.size+int64(len(p)) > l.max {
		// What init wrote to its fds 1 and 2 itself counts too.
		var st unix.Stat_t
		if err := unix.Fstat(l.fd, &st); err != nil {
			return 0, err
		}
		l.size = st.Size
		if l.size+int64(len(p)) > l.max {
			if err := l.cutHalf(); err != nil {
				return 0, err
			}
		}
	}
	// At the file's offset, which init's own writes to fds 1 and 2 (one
	// open file) share.
	n, err := unix.Write(l.fd, p)
	if n > 0 {
		l.size += int64(n)
	}
	return n, err
}

// cutHalf keeps the newest max/2 bytes (or less, from the first line
// that starts in them) after an updated cut line.
func (l *cappedLog) cutHalf() error {
	// nsup logs reads under a shared lock: it sees the log before the
	// cut or after it, never in between.
	if err := unix.Flock(l.fd, unix.LOCK_EX); err != nil {
		return err
	}
	defer unix.Flock(l.fd, unix.LOCK_UN)
	from := l.size - l.max/2
	if from < l.header {
		from = l.header
	}
	buf := make([]byte, 64<<10)
	// From the start of a line, if one starts in the first 64 KiB.
	if n, _ := unix.Pread(l.fd, buf, from); n > 0 {
		if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
			from += int64(i) + 1
		}
	}
	cut := l.cut + from - l.header
	line := lifecycle.LogCutLine(cut)
	to := int64(len(line))
	if to > from {
		// Nothing to move over (a max smaller than a cut line): start
		// afresh.
		from = l.size
	}
	// Forward, in pieces: every piece is read before anything is written
	// over it, since to < from.
	for src := from; src < l.size; {
		n, err := unix.Pread(l.fd, buf, src)
		if n <= 0 {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if _, err := unix.Pwrite(l.fd, buf[:n], to); err != nil {
			return err
		}
		src += int64(n)
		to += int64(n)
	}
	if _, err := unix.Pwrite(l.fd, []byte(line), 0); err != nil {
		return err
	}
	if err := unix.Ftruncate(l.fd, to); err != nil {
		return err
	}
	if _, err := unix.Seek(l.fd, to, io.SeekStart); err != nil {
		return err
	}
	l.size, l.cut, l.header = to, cut, int64(len(line))
	return nil
}
