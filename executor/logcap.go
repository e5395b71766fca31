package executor

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/nsup/nsup/executor/lifecycle"
	"golang.org/x/sys/unix"
)

// cappedLog is a detached environment's log as init writes it, when the
// plan bounds it (Stdio.Max): init alone writes to it (every process
// writes to pipes of its own, copied here; init's own messages come here
// too). Its first line is init's, always: a line that counts the bytes of
// output cut so far (lifecycle.LogCutLine, 0 at first, which nsup logs
// leaves out), so that no process can put a line there that nsup logs
// would take for it. Once a write would take the log past max bytes, the
// oldest half is cut: the newest max/2 bytes or less, from a line's
// start, move to just after an updated first line, and the file is
// truncated after them. Moving needs writes at an offset, so the file's
// O_APPEND is cleared: nothing else writes to it, since nsup's host side
// closed its copy.
//
// A cut takes an exclusive flock of the log, which nsup logs holds
// shared while it reads a chunk; it never waits for it: with the lock
// held (a reader stopped, ^Z), the log grows on past max, up to half as
// much again, and what comes after that is dropped, and said so once
// the next cut is made.
type cappedLog struct {
	mu  sync.Mutex
	fd  int
	max int64
	// size is the file's size; cut the bytes of output cut so far,
	// header the length of the first line; dropped the bytes dropped
	// while the log was locked.
	size, cut, header, dropped int64
}

// newCappedLog takes over f, the log (fds 1 and 2 of init), and writes
// its first line, before anything else is written to it. What is in it
// already (a message of the child stage) stays, after that line.
func newCappedLog(f *os.File, max int64) (*cappedLog, error) {
	fd := int(f.Fd())
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return nil, err
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl&^unix.O_APPEND); err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	before := make([]byte, min(st.Size, max/2))
	if n, err := unix.Pread(fd, before, st.Size-int64(len(before))); err != nil {
		return nil, err
	} else {
		before = before[:n]
	}
	// As a cut: nsup logs, reading already, sees the log before or after.
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err == nil {
		defer unix.Flock(fd, unix.LOCK_UN)
	}
	line := lifecycle.LogCutLine(0)
	l := &cappedLog{fd: fd, max: max, header: int64(len(line))}
	if _, err := unix.Pwrite(fd, append([]byte(line), before...), 0); err != nil {
		return nil, err
	}
	l.size = l.header + int64(len(before))
	if err := unix.Ftruncate(fd, l.size); err != nil {
		return nil, err
	}
	if _, err := unix.Seek(fd, l.size, io.SeekStart); err != nil {
		return nil, err
	}
	return l, nil
}

// Write writes p whole (one write(2)), cutting the log first if it would
// grow past max.
func (l *cappedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.size+int64(len(p)) > l.max {
		cut, err := l.cutHalf()
		if err != nil {
			return 0, err
		}
		if !cut && l.size+int64(len(p)) > l.max+l.max/2 {
			l.dropped += int64(len(p))
			return len(p), nil
		}
	}
	// At the file's offset (the end), as every write of init's to it.
	n, err := unix.Write(l.fd, p)
	if n > 0 {
		l.size += int64(n)
	}
	return n, err
}

// cutHalf keeps the newest max/2 bytes (or less, from the first line
// that starts in them) after an updated first line, unless the log is
// locked (cut false then).
func (l *cappedLog) cutHalf() (cut bool, err error) {
	// nsup logs reads under a shared lock: it sees the log before the
	// cut or after it, never in between.
	if err := unix.Flock(l.fd, unix.LOCK_EX|unix.LOCK_NB); err == unix.EWOULDBLOCK {
		return false, nil
	} else if err != nil {
		return false, err
	}
	defer unix.Flock(l.fd, unix.LOCK_UN)
	from := max(l.size-l.max/2, l.header)
	buf := make([]byte, 64<<10)
	// From the start of a line, however far on (a labelled piece is
	// maxLine bytes and its label; the log ends with a newline): kept
	// from within one, its rest is the first line after the cut line,
	// and a process that wrote its line's start as another's
	// ("web | ...") had it read as that one's (helper-102's review;
	// the start was looked for in 64 KiB only).
	for pos := from; ; {
		n, _ := unix.Pread(l.fd, buf, pos)
		if n <= 0 {
			from = l.size // no line starts after from: none is kept
			break
		}
		if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
			from = pos + int64(i) + 1
			break
		}
		pos += int64(n)
	}
	total := l.cut + from - l.header
	line := lifecycle.LogCutLine(total)
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
			return false, err
		}
		if _, err := unix.Pwrite(l.fd, buf[:n], to); err != nil {
			return false, err
		}
		src += int64(n)
		to += int64(n)
	}
	if _, err := unix.Pwrite(l.fd, []byte(line), 0); err != nil {
		return false, err
	}
	if err := unix.Ftruncate(l.fd, to); err != nil {
		return false, err
	}
	if _, err := unix.Seek(l.fd, to, io.SeekStart); err != nil {
		return false, err
	}
	l.size, l.cut, l.header = to, total, int64(len(line))
	if l.dropped > 0 {
		note := fmt.Sprintf("nsup: %d bytes of output dropped while the log was locked\n", l.dropped)
		if n, err := unix.Write(l.fd, []byte(note)); n > 0 && err == nil {
			l.size += int64(n)
			l.dropped = 0
		}
	}
	return true, nil
}
