package lifecycle

// Logs: a detached environment's log, copied or followed (nsup logs).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// Logs copies a detached environment's log to w; with follow, it goes on
// copying what is written until the environment has ended (or ctx is
// done). A bounded log (planner.LogMax) starts with init's line counting
// the bytes of output cut so far (LogCutLine): left out while it says 0,
// copied once something was cut. When init cuts the log's oldest half
// meanwhile, copying goes on where it was in what is kept: init cuts only
// under an exclusive flock of the log, which each look here holds shared,
// so a look sees the log whole, before a cut or after it. Output written
// and cut between two looks is missed; the cut line, copied again, says
// so. A look reads at most logChunk bytes under the lock, and writes them
// to w after: a slow w never holds the lock.
func Logs(ctx context.Context, dir, name string, follow bool, w io.Writer) error {
	if err := CheckProjectDir(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	d := filepath.Join(dir, name)
	f, err := os.Open(filepath.Join(d, planner.LogFile))
	if errors.Is(err, os.ErrNotExist) {
		if st, serr := readState(d); serr == nil && st.NotStarted != "" {
			// One nsup apply -d did not start, which ps lists so
			// (helper-151's trial: logs said "no such environment").
			return fmt.Errorf("%s was not started (%s): it has no output", name, Printable(st.NotStarted))
		}
		return fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fd := int(f.Fd())
	buf := make([]byte, logChunk)
	// pos is where the next look reads; cut and header are the log's
	// first line as pos counts them (-1: not read yet).
	var pos int64
	cut, header := int64(-1), int64(0)
	look := func() (int, error) {
		if err := sharedLock(ctx, fd, name); err != nil {
			return 0, err
		}
		defer unix.Flock(fd, unix.LOCK_UN)
		c, h, ok := LogCut(f)
		switch {
		case !ok:
		case cut < 0:
			// The first look: init's line, unless nothing was cut yet;
			// a log with no such line (init not started yet, or not
			// bounded) from its start.
			cut, header = c, h
			if h > 0 && c == 0 {
				pos = h
			}
		case c > cut || c == cut && h != header:
			// Cut, or init's line written first over what was there.
			read := cut + pos - header
			cut, header = c, h
			if pos = read - cut + header; pos < header {
				pos = 0 // more was cut than was read: from the cut line on
			}
		}
		n, err := f.ReadAt(buf, pos)
		pos += int64(n)
		if err == io.EOF {
			err = nil
		}
		return n, err
	}
	for {
		// Whether it still runs is read before the copy, so that what it
		// wrote last is copied before following stops.
		running := follow && lockHeld(filepath.Join(d, planner.LockFile))
		for {
			n, err := look()
			if err != nil {
				if ctx.Err() != nil {
					return nil // given up while waiting for the lock
				}
				return err
			}
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
			if n < len(buf) {
				break
			}
		}
		if !running {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// logLockWait bounds the wait for the log's shared lock. Init holds it
// exclusive only while it cuts the log, a moment, and never waits for
// it; an init that is stopped, or taken over by root inside (with
// SYS_PTRACE), could hold it for good, and nsup logs would wait with it.
var logLockWait = 5 * time.Second

// sharedLock takes the log's shared flock, trying again every few
// milliseconds until logLockWait has passed (or ctx is done).
func sharedLock(ctx context.Context, fd int, name string) error {
	deadline := time.Now().Add(logLockWait)
	for {
		err := unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB)
		if err != unix.EWOULDBLOCK && err != unix.EINTR {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: its log has been locked for %v: only its init locks it, for a moment at a time (is it stopped?)", name, logLockWait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// logChunk is the most Logs reads under the log's lock at a time.
const logChunk = 256 << 10

// logCutFormat is the first line of a log whose oldest output init cut.
const logCutFormat = "nsup: %d bytes of older output cut here\n"

// LogCutLine is the first line of a log once init has cut cut bytes of
// its oldest output in all.
func LogCutLine(cut int64) string { return fmt.Sprintf(logCutFormat, cut) }

// LogCut reads init's first line of a bounded log: the bytes of output
// cut so far and the length of that line; 0, 0 for a log without one
// (init has not started, or the log is not bounded). ok is false when
// the log cannot be read.
func LogCut(f *os.File) (cut, header int64, ok bool) {
	var b [64]byte
	n, err := f.ReadAt(b[:], 0)
	if err != nil && err != io.EOF {
		return 0, 0, false
	}
	line, _, found := bytes.Cut(b[:n], []byte("\n"))
	if !found || !bytes.HasPrefix(line, []byte("nsup: ")) {
		return 0, 0, true
	}
	if _, err := fmt.Sscanf(string(line)+"\n", logCutFormat, &cut); err != nil || cut < 0 {
		return 0, 0, true
	}
	return cut, int64(len(line)) + 1, true
}
