package lifecycle

import (
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Bridge is what a child gets as its fds 0, 1 and 2 (Files) from nsup's
// stdin, stdout and stderr: each as it is where PassAsIs says so, else
// through a pipe whose other end nsup copies; a stdout and stderr that
// are one writer or one file share one pipe, which keeps the order of
// their lines. nsup apply makes one for every environment of a plan (two
// environments must not race on one reader or writer), nsup exec one for
// a command without -t.
type Bridge struct {
	Files [3]*os.File
	// AsIs, when set, says which files are handed over as they are in
	// place of PassAsIs: nsup exec -t gives the command's relay the
	// caller's terminal itself, to set it raw.
	AsIs func(*os.File) bool
	// Terminal, when set, is what a bridged output that is a terminal is
	// copied to (nsup apply's crlfWriter, made safe by TermSafe; nsup
	// exec's TermSafe); an io.Closer is closed once the copy has ended.
	Terminal func(*os.File) io.Writer
	// given are the ends the child gets, closed by Started; ends are
	// nsup's (the input's write end, the outputs' read ends), closed by
	// End; outs are the read ends being copied.
	given, ends, outs []*os.File
	copies            sync.WaitGroup
	// own are the read ends the bridge copies itself (out), after the
	// copies Track counts, which may write into them (nsup apply's
	// prefixed outputs): End ends those first.
	own       []*os.File
	ownCopies sync.WaitGroup
	// grace is End's d, which bounds each of a copy's reads of what its pipe
	// still held at the deadline (copyOut).
	grace atomic.Int64
}

// CopyGrace bounds the wait for the last output once the commands have
// ended (End): a process that escaped them (one left in a session of its
// own, or without a pid namespace) could hold a pipe open forever.
const CopyGrace = 2 * time.Second

// Stdio makes all three (In, Outs); on an error, what it made is closed.
func (b *Bridge) Stdio(in io.Reader, out, errw io.Writer) error {
	err := b.In(in)
	if err == nil {
		err = b.Outs(out, errw)
	}
	if err != nil {
		b.End(0)
	}
	return err
}

// In makes Files[0] read from src.
func (b *Bridge) In(src io.Reader) error {
	if f, ok := src.(*os.File); ok && b.asIs(f) {
		b.Files[0] = f
		return nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	b.Hand(0, r)
	b.ends = append(b.ends, w)
	go func() {
		// Ends at EOF of src (the child reads the end of its input), or
		// when every reader is gone (EPIPE) or End closed w.
		io.Copy(w, src)
		w.Close()
	}()
	return nil
}

func (b *Bridge) asIs(f *os.File) bool {
	if b.AsIs != nil {
		return b.AsIs(f)
	}
	return PassAsIs(f)
}

// Hand makes Files[i] f, which nsup opened for the child: Started
// closes nsup's copy.
func (b *Bridge) Hand(i int, f *os.File) {
	b.Files[i] = f
	b.given = append(b.given, f)
}

// Outs makes Files[1] and Files[2] write to out and errw.
func (b *Bridge) Outs(out, errw io.Writer) error {
	var err error
	if b.Files[1], err = b.out(out); err != nil {
		return err
	}
	if sameWriter(out, errw) || b.Files[1] != out && sameFileWriter(out, errw) {
		b.Files[2] = b.Files[1]
		return nil
	}
	b.Files[2], err = b.out(errw)
	return err
}

func (b *Bridge) out(w io.Writer) (*os.File, error) {
	f, isFile := w.(*os.File)
	if isFile && b.asIs(f) {
		return f, nil
	}
	r, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	b.given = append(b.given, pw)
	var closer io.Closer
	if isFile && b.Terminal != nil && IsTerminal(f) {
		w = b.Terminal(f)
		closer, _ = w.(io.Closer)
	}
	b.own = append(b.own, r)
	b.ends = append(b.ends, r)
	b.ownCopies.Add(1)
	go func() {
		defer b.ownCopies.Done()
		b.copyOut(w, r)
		if closer != nil {
			closer.Close() // what a TermSafe holds of a cut sequence
		}
	}()
	return pw, nil
}

// copyOut copies r to w until r's end, or until End's read deadline has
// passed and then what r held at that moment (HeldReader).
func (b *Bridge) copyOut(w io.Writer, r *os.File) {
	io.CopyBuffer(w, NewHeldReader(r, &b.grace), make([]byte, 32<<10))
}

// ReadOnlyNull hands, in place of each of Files that is the null device
// (nsup exec's caller's /dev/null), the null device opened through a
// read-only clone (OpenNull), so that root inside cannot chmod or chown
// the host's node through the command's fd. Root only.
func (b *Bridge) ReadOnlyNull() error {
	return SwapNull(b.Files[:], func() (*os.File, error) {
		null, err := OpenNull()
		if err == nil {
			b.given = append(b.given, null)
		}
		return null, err
	})
}

// Track counts the read ends of pipes copied elsewhere (nsup apply's
// prefixed outputs, which write into the bridge's own pipes): End waits
// for them, before its own copies, and closes them. done says the copy
// ended.
func (b *Bridge) Track(reads ...*os.File) (done func()) {
	b.outs = append(b.outs, reads...)
	b.ends = append(b.ends, reads...)
	b.copies.Add(1)
	return b.copies.Done
}

// Started closes nsup's copies of the ends the child holds (once every
// child is started): a reader sees EOF only when no writer is left.
func (b *Bridge) Started() {
	for _, f := range b.given {
		f.Close()
	}
	b.given = nil
}

// End ends the relays: the output copied until its end, or for at most d
// (a process left behind may hold a pipe open forever) and then what its
// pipe still holds (copyOut), the input no more; then nsup's ends are
// closed. A copy stuck writing is waited for, as a command writing to
// nsup's stdout would wait for its reader: given up after d, the last
// output of a command copied to a slow reader (a pipe of nsup exec's
// caller) was lost.
func (b *Bridge) End(d time.Duration) {
	b.Started()
	if d > 0 && len(b.outs)+len(b.own) > 0 {
		b.grace.Store(int64(d))
		deadline := time.Now().Add(d)
		for _, r := range b.outs {
			r.SetReadDeadline(deadline)
		}
		// The copies into the bridge's own pipes first: the bridge's
		// copies read on meanwhile, so none is stuck writing into a full
		// pipe that nobody reads any more.
		b.copies.Wait()
		for _, r := range b.own {
			r.SetReadDeadline(deadline)
		}
		b.ownCopies.Wait()
	}
	for _, f := range b.ends {
		f.Close()
	}
	b.ends, b.outs, b.own = nil, nil, nil
}

// sameFileWriter reports whether out and errw are one file.
func sameFileWriter(out, errw io.Writer) bool {
	a, ok := out.(*os.File)
	c, ok2 := errw.(*os.File)
	return ok && ok2 && SameFile(a, c)
}

// sameWriter reports whether two writers are one, without panicking on
// writers of types that cannot be compared.
func sameWriter(a, b io.Writer) (eq bool) {
	defer func() {
		if recover() != nil {
			eq = false
		}
	}()
	return a == b
}
