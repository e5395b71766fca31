package planner

import "testing"

// TestShownNames: a plan's notes and errors, and its listing's file
// names, escape each rune of textsafe.Hidden, so that two names that show
// alike are alike: before, a no-break space and a U+FFFD of the text
// showed as they were (a name with either looked like another name).
func TestShownNames(t *testing.T) {
	for _, c := range []struct{ in, shown, file string }{
		{"/etc/passwd", "/etc/passwd", "/etc/passwd"},
		{"a\tb", "a\tb", `"a\tb"`},
		{"a b", "a b", `"a b"`},
		{"a\x1b[8mb", `a\x1b[8mb`, `"a\x1b[8mb"`},
		{"a\u200bb", `a\u200bb`, `"a\u200bb"`},
		{"a\u00a0b", `a\u00a0b`, `"a\u00a0b"`},
		{"a\u3000b", `a\u3000b`, `"a\u3000b"`},
		{"a\u202eb", `a\u202eb`, `"a\u202eb"`},
		{"a\ufffdb", `a\ufffdb`, "\"a\ufffdb\""},
		{"a\xffb", `a\xffb`, `"a\xffb"`},
		{"é✓", "é✓", "é✓"},
	} {
		if got := Shown(c.in); got != c.shown {
			t.Errorf("Shown(%q) = %q, want %q", c.in, got, c.shown)
		}
		if got := fileName(c.in); got != c.file {
			t.Errorf("fileName(%q) = %q, want %q", c.in, got, c.file)
		}
	}
}
