package executor

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nsup/nsup/executor/lifecycle"
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
// log in the order it wrote them, as when it wrote there itself. Its lines
// are copied as they are, but one that could be read as init's own
// ("nsup: ...": initLike) gets its label all the same, as a labelled
// process's line: root inside wrote "nsup: web/main exited with status
// 0" lines that nsup logs showed as init's (the twenty-second stop's
// closing note).
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
// the write ends, for the process's fds 1 and 2. With no label (a bounded
// log's only process), name (ENV/PROCESS) labels its lines that could be
// read as init's.
func (o *outputs) add(label, name string) (stdout, stderr *os.File, err error) {
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
		go o.copy(r, o.dst[i], []byte(prefix), []byte(name+" | "))
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
// drain's deadline has passed, until the end of what r held then
// (lifecycle.HeldReader). Unprefixed, a line that could be read as
// init's is prefixed with alias.
func (o *outputs) copy(r *os.File, dst io.Writer, prefix, alias []byte) {
	defer o.wg.Done()
	br := bufio.NewReaderSize(lifecycle.NewHeldReader(r, &o.grace), maxLine)
	buf := make([]byte, 0, len(prefix)+maxLine+1)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			buf = append(buf[:0], prefix...)
			switch {
			case len(prefix) > 0:
				buf = appendLabelled(buf, line, prefix)
			case initLike(line):
				buf = appendLabelled(append(buf, alias...), line, alias)
			default:
				buf = append(buf, line...)
			}
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

// appendLabelled appends line to buf with each carriage return inside it
// (not a CRLF ending) made a newline and the label again: a terminal
// (through TermSafe, which writes a lone one as a newline, or the log
// read raw, the return going back over the label) would show what
// follows it as a line of its own, with no label or another process's
// (helper-102's review: "progress\rweb | forged").
func appendLabelled(buf, line, prefix []byte) []byte {
	// line ends at its first newline (bufio's ReadSlice): a carriage
	// return before it, or last, is the line's own ending.
	for {
		i := bytes.IndexByte(line, '\r')
		if i < 0 || i+1 == len(line) || line[i+1] == '\n' {
			return append(buf, line...)
		}
		buf = append(append(append(buf, line[:i]...), '\n'), prefix...)
		line = line[i+1:]
	}
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
		// What each pipe holds now is still copied (copy).
		o.grace.Store(int64(d))
		for _, r := range o.pipes {
			r.SetReadDeadline(time.Now())
		}
		<-done
	}
	for _, r := range o.pipes {
		r.Close()
	}
}

// initLike says whether a line (or a piece of one: each starts a line of
// the log) of an unlabelled process could be read as one of init's
// messages, "nsup: ...", once shown (lifecycle.TermSafe): it, or what
// follows a carriage return in it (shown as a new line), starts, after
// blanks, with "nsup:" in any case, or with something that might look
// like it: a control character or escape sequence (a colour), or a
// character that is not ASCII unless of a script with no letter like a
// Latin one ("nѕup:" with a Cyrillic s). Other lines, most of them,
// are copied as they are.
func initLike(line []byte) bool {
	for {
		if startsInitLike(line) {
			return true
		}
		i := bytes.IndexByte(line, '\r')
		if i < 0 {
			return false
		}
		line = line[i+1:]
	}
}

// startsInitLike says whether s starts as initLike says.
func startsInitLike(s []byte) bool {
	s = bytes.TrimLeft(s, " \t")
	const nsup = "nsup:"
	for k := range len(nsup) {
		if len(s) == 0 {
			return false
		}
		b := s[0]
		switch {
		case b == '\n' || b == '\r' && len(s) > 1 && s[1] == '\n':
			return false // the line ends
		case b < 0x20 || b == 0x7f:
			return true
		case b < 0x7f:
			if b|0x20 != nsup[k] {
				return false
			}
			s = s[1:]
			continue
		}
		r, _ := utf8.DecodeRune(s)
		return !unicode.In(r, unlikeLatin...)
	}
	return true // "nsup:"
}

// unlikeLatin are scripts none of whose characters passes for a Latin
// letter: a line that starts with one is not read as init's.
var unlikeLatin = []*unicode.RangeTable{unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul,
	unicode.Arabic, unicode.Hebrew, unicode.Thai, unicode.Devanagari, unicode.Bengali, unicode.Tamil}
