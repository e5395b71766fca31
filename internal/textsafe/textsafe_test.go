package textsafe

import (
	"testing"
	"unicode/utf8"
)

// Hidden is Unsafe and more: a name is shown escaped wherever free text
// would be, and where it would look like another name.
func TestHiddenHoldsUnsafe(t *testing.T) {
	for r := rune(0); r <= 0x10ffff+1; r++ {
		if Unsafe(r) && !Hidden(r) {
			t.Errorf("U+%04X is Unsafe but not Hidden", r)
		}
	}
}

func TestSets(t *testing.T) {
	for _, c := range []struct {
		r              rune
		unsafe, hidden bool
	}{
		{'a', false, false},
		{' ', false, false},
		{'é', false, false},
		{'\t', true, true},
		{'\n', true, true},
		{0x1b, true, true},   // ESC
		{0x7f, true, true},   // DEL
		{0x9b, true, true},   // CSI (C1)
		{0x202e, true, true}, // right-to-left override
		{0x2067, true, true}, // right-to-left isolate
		{utf8.RuneError, true, true},
		{0x200b, false, true}, // zero-width space: two names alike
		{0x2028, false, true}, // line separator
		{0x200d, false, true}, // zero-width joiner: kept in text (emoji)
		{0xe000, false, true}, // private use
		{0x00a0, false, true}, // no-break space: shows as a space
		{0x3000, false, true}, // ideographic space
	} {
		if got := Unsafe(c.r); got != c.unsafe {
			t.Errorf("Unsafe(U+%04X) = %v, want %v", c.r, got, c.unsafe)
		}
		if got := Hidden(c.r); got != c.hidden {
			t.Errorf("Hidden(U+%04X) = %v, want %v", c.r, got, c.hidden)
		}
	}
}
