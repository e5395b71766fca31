// Package textsafe says which runes would mislead the reader of text nsup
// shows or writes from strings it did not choose (an environment's
// output, a manifest's or a spec's strings, a repository's file names):
// one set for the terminal (lifecycle.Printable, TermSafe, JSONSafe) and
// the YAML nsup writes (yamlnode.Encode). It imports nothing of nsup's.
package textsafe

import "unicode/utf8"

// Unsafe says whether r would mislead a reader of the text it is in: a
// control character (C0, DEL, C1), a bidirectional embedding, override,
// isolate or mark (which show the text after it reordered: the Trojan
// Source class), or the rune of bytes that are not UTF-8.
func Unsafe(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0, r == utf8.RuneError:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	}
	return false
}
