package lifecycle

import (
	"bytes"
	"io"
	"unicode/utf8"
)

// TermSafe is a writer for a terminal of what an environment wrote (nsup
// logs): it keeps text, newlines, tabs, a carriage return before a
// newline and colours (SGR, ESC [ digits m; but conceal, SGR 8, which
// would hide the text that follows: appendSGR), writes a carriage return
// alone as a newline (a progress line's updates each on a line of its
// own: nothing is written over), and writes each other
// control character (C0, DEL, C1), bidirectional control and byte that
// is not UTF-8 as "?" (Printable's rule). Raw, root inside wrote escape
// sequences that reached the caller's terminal as they were: an OSC 52
// that set the caller's clipboard, a title, cursor moves and line erases
// that hid lines of the log, the end of a bracketed paste. A sequence or
// character cut between two writes is held until the next (Close writes
// what is left, made safe).
type TermSafe struct {
	w    io.Writer
	pend []byte
	out  []byte
}

// NewTermSafe writes to w.
func NewTermSafe(w io.Writer) *TermSafe { return &TermSafe{w: w} }

// maxSGR bounds a colour sequence: a longer one is not kept whole.
const maxSGR = 32

func (t *TermSafe) Write(p []byte) (int, error) {
	data := append(t.pend, p...)
	t.pend = nil
	rest := t.filter(data, false)
	t.pend = append([]byte(nil), rest...)
	if len(t.out) == 0 {
		return len(p), nil
	}
	_, err := t.w.Write(t.out)
	return len(p), err
}

// Close writes what a last write left cut (made safe).
func (t *TermSafe) Close() error {
	t.filter(t.pend, true)
	t.pend = nil
	if len(t.out) == 0 {
		return nil
	}
	_, err := t.w.Write(t.out)
	return err
}

// filter makes data safe into t.out and returns the cut tail it holds
// back (none when final).
func (t *TermSafe) filter(data []byte, final bool) []byte {
	out := t.out[:0]
	for i := 0; i < len(data); {
		b := data[i]
		switch {
		case b == '\n' || b == '\t' || b >= 0x20 && b < 0x7f:
			out = append(out, b)
			i++
		case b == '\r':
			if i+1 == len(data) && !final {
				t.out = out
				return data[i:]
			}
			if i+1 < len(data) && data[i+1] == '\n' {
				out = append(out, '\r')
			} else {
				out = append(out, '\n')
			}
			i++
		case b == 0x1b:
			j := i + 1
			if j < len(data) && data[j] == '[' {
				j++
				for j < len(data) && j-i < maxSGR && (data[j] >= '0' && data[j] <= '9' || data[j] == ';') {
					j++
				}
			}
			if j == len(data) && !final && j-i < maxSGR {
				t.out = out
				return data[i:]
			}
			if j < len(data) && j > i+1 && data[j] == 'm' {
				out = appendSGR(out, data[i+2:j])
				i = j + 1
				continue
			}
			out = append(out, '?')
			i++
		case b < 0x80:
			out = append(out, '?') // C0 and DEL
			i++
		default:
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n <= 1 && !utf8.FullRune(data[i:]) && !final {
				t.out = out
				return data[i:]
			}
			if printable(r) {
				out = append(out, data[i:i+n]...)
			} else {
				out = append(out, '?')
			}
			i += n
		}
	}
	t.out = out
	return nil
}

// appendSGR appends the colour sequence of params (what is between
// "ESC [" and "m": digits and ';') without conceal (8), which would make
// the text after it invisible on the caller's terminal, nor a number
// over 1000 (no attribute; a terminal may wrap it to one); the colours
// of 38, 48 and 58 (";5;N", ";2;R;G;B") are kept whole, an 8 among them
// too. A sequence left with no parameter is dropped.
func appendSGR(out, params []byte) []byte {
	ps := bytes.Split(params, []byte{';'})
	kept := make([][]byte, 0, len(ps))
	for k := 0; k < len(ps); k++ {
		switch n := sgrNumber(ps[k]); {
		case n == 8 || n < 0:
			continue
		case (n == 38 || n == 48 || n == 58) && k+1 < len(ps):
			take := 1
			switch sgrNumber(ps[k+1]) {
			case 5:
				take = 3
			case 2:
				take = 5
			}
			end := min(k+take, len(ps))
			kept = append(kept, ps[k:end]...)
			k = end - 1
			continue
		}
		kept = append(kept, ps[k])
	}
	if len(kept) == 0 && len(ps) > 0 {
		return out
	}
	out = append(out, 0x1b, '[')
	out = append(out, bytes.Join(kept, []byte{';'})...)
	return append(out, 'm')
}

// sgrNumber is a parameter's value (digits only; empty is 0), or -1
// over 1000.
func sgrNumber(p []byte) int {
	n := 0
	for _, c := range p {
		n = n*10 + int(c-'0')
		if n > 1000 {
			return -1
		}
	}
	return n
}
