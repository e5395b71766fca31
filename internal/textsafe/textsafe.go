// Package textsafe says which runes would mislead the reader of text nsup
// shows or writes from strings it did not choose, in two sets, one the
// other's subset:
//
//   - Unsafe, for free text (an environment's output, a healthcheck's, a
//     manifest's or a spec's strings): lifecycle.Printable, TermSafe,
//     JSONSafe and the YAML nsup writes (yamlnode.Encode). It keeps what
//     text needs (a zero-width joiner of an emoji, a soft hyphen).
//   - Hidden, for names the reader compares (a path, a file of a root's
//     listing, a value a note or an error quotes): planner.Shown and the
//     plan's file names. Unsafe and every other rune that is not graphic
//     (a zero-width space, a line separator, a format character, a
//     private-use or unassigned code point) and every space but U+0020,
//     so that two names that show alike are alike.
//
// It imports nothing of nsup's.
package textsafe

import (
	"unicode"
	"unicode/utf8"
)

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

// Hidden says whether r, in a name, would show as something else or as
// nothing: an Unsafe rune, one that is not graphic (unicode.IsGraphic:
// letters, marks, numbers, punctuation, symbols and spaces), or a space
// other than U+0020 (a no-break or ideographic space shows as one). A
// tab is Hidden; callers that keep it say so.
func Hidden(r rune) bool {
	return r != ' ' && (Unsafe(r) || !unicode.IsGraphic(r) || unicode.Is(unicode.Zs, r))
}
