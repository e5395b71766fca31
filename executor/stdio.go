package executor

import (
	"bytes"
	"io"
	"os"
	"sync/atomic"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// stdio is the environments' fds 0, 1 and 2, shared by every environment
// of a plan. A reader or writer that is not a file, or a file that is not
// to be passed as it is (lifecycle.PassAsIs: a regular file, a folder, a
// terminal, a device), is bridged once, by one pipe and one copying
// goroutine for all environments (lifecycle.Bridge, which nsup exec uses
// too, for one command): exec.Cmd would bridge it once per
// child, and two environments would then race on the same reader or
// writer. When no environment of the plan takes nsup's stdio (each is
// detached, with its Stdio step, or has a pty of its own, Openpty), the
// files stay nsup's own, as they are: a pty's relay reads and writes
// them, and no copy reads the caller's terminal for nobody.
type stdio struct {
	lifecycle.Bridge
	// own are nsup's own stdin and stdout, when files: a pty's relay
	// (Openpty) reads and writes them, whatever the other environments
	// of the plan get.
	own [2]*os.File
	// raw: a pty's relay has nsup's terminal in raw mode; what the other
	// environments write to it is copied with "\r\n" for "\n" meanwhile
	// (crlfWriter).
	raw atomic.Bool
}

func newStdio(p *planner.Plan, in io.Reader, out, errw io.Writer) (*stdio, error) {
	s := &stdio{}
	s.own[0], _ = in.(*os.File)
	s.own[1], _ = out.(*os.File)
	if !takesStdio(p) {
		if files, ok := asFiles(in, out, errw); ok {
			s.Files = files
			return s, nil
		}
	}
	// What the environments write reaches the caller's terminal made
	// safe (lifecycle.TermSafe): only a pty of their own is raw.
	s.Terminal = func(f *os.File) io.Writer { return lifecycle.NewTermSafe(crlfWriter{f, &s.raw}) }
	switch f, ok := in.(*os.File); {
	case ok && lifecycle.PassAsIs(f):
		s.Files[0] = f
	case ok && lifecycle.IsTerminal(f):
		// No environment has a pty of its own (several run): as compose
		// up, none reads the caller's terminal. A copy would read it for
		// them all, stop nsup in the background (SIGTTIN), and take the
		// keys typed ahead for the caller's shell.
		null, err := os.Open(os.DevNull)
		if err != nil {
			return nil, err
		}
		s.Hand(0, null)
	default:
		if err := s.In(in); err != nil {
			return nil, err
		}
	}
	if err := s.Outs(out, errw); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// crlfWriter writes "\r\n" for each "\n" while raw is set: to a terminal
// in raw mode (no output processing), while a pty's relay runs, lines of
// the plan's other environments start at the left margin. Before and
// after, in cooked mode, it writes them as they are.
type crlfWriter struct {
	w   io.Writer
	raw *atomic.Bool
}

func (c crlfWriter) Write(p []byte) (int, error) {
	if !c.raw.Load() {
		return c.w.Write(p)
	}
	if _, err := c.w.Write(bytes.ReplaceAll(p, []byte("\n"), []byte("\r\n"))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// prefixed returns the write ends of pipes whose lines are copied to fds
// 1 and 2, each prefixed with "LABEL | " (see outputs). The copies write
// to copies of fds 1 and 2 of their own, closed once they end: a bridge's
// pipe (nsup's stdout a pipe or a writer, or stdout and stderr one file)
// is closed in nsup once every environment is started (Started), and an
// init: false environment's lines written after that were lost (found
// by helper-101's stop: nsup apply > log 2>&1 of two such environments
// wrote none of their lines; TestRootBarePrefixedLateLines).
func (s *stdio) prefixed(label string, color bool, base int) (*os.File, *os.File, error) {
	dst, err := dupFiles(s.Files[1], s.Files[2])
	if err != nil {
		return nil, nil, err
	}
	o := newOutputs(color, base, dst[0], dst[1])
	w1, w2, err := o.add(label, label)
	if err != nil {
		closeFiles(dst)
		return nil, nil, err
	}
	done := s.Track(o.pipes...)
	go func() {
		defer done()
		o.wg.Wait()
		closeFiles(dst)
	}()
	return w1, w2, nil
}

// dupFiles returns a copy of each of out and errw (one for both when
// they are one), close-on-exec; the caller closes them (closeFiles).
func dupFiles(out, errw *os.File) ([2]*os.File, error) {
	var d [2]*os.File
	for i, f := range []*os.File{out, errw} {
		if i == 1 && errw == out {
			d[1] = d[0]
			break
		}
		rc, err := f.SyscallConn()
		if err != nil {
			closeFiles(d)
			return d, err
		}
		nfd := -1
		if cerr := rc.Control(func(fd uintptr) {
			nfd, err = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 3)
		}); cerr != nil {
			err = cerr
		}
		if err != nil {
			closeFiles(d)
			return d, err
		}
		d[i] = os.NewFile(uintptr(nfd), f.Name())
	}
	return d, nil
}

func closeFiles(d [2]*os.File) {
	for i, f := range d {
		if f != nil && (i == 0 || f != d[0]) {
			f.Close()
		}
	}
}

// terminal is what a pty's relay reads and writes: nsup's own stdin and
// stdout when they are files, else what the environments get.
func (s *stdio) terminal() (in, out *os.File) {
	in, out = s.own[0], s.own[1]
	if in == nil {
		in = s.Files[0]
	}
	if out == nil {
		out = s.Files[1]
	}
	return in, out
}

// takesStdio says whether an environment of p is given nsup's stdio:
// one that is neither detached (Stdio) nor given a pty of its own
// (Openpty).
func takesStdio(p *planner.Plan) bool {
	for _, e := range p.Environments {
		own := false
		for _, st := range e.Steps {
			switch st.Op.(type) {
			case planner.Stdio, planner.Openpty:
				own = true
			}
		}
		if !own {
			return true
		}
	}
	return false
}

// asFiles returns the three as files, when each is one.
func asFiles(in io.Reader, out, errw io.Writer) (files [3]*os.File, ok bool) {
	if files[0], ok = in.(*os.File); !ok {
		return files, false
	}
	if files[1], ok = out.(*os.File); !ok {
		return files, false
	}
	files[2], ok = errw.(*os.File)
	return files, ok
}

// close waits (boundedly) for the output of the ended environments to be
// copied, then releases the pipes.
func (s *stdio) close() { s.End(lifecycle.CopyGrace) }
