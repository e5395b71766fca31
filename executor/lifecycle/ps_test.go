package lifecycle

import "testing"

// What an environment chose is shown without its control characters.
func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"sleep":                 "sleep",
		"\x1b]0;PWNED\a\x1b[2K": "?]0;PWNED??[2K",
		"a\nb\tc\x7f\u009b":     "a?b?c??",
		"caf\xe9 ok":            "caf? ok",
		"é, 日本":                 "é, 日本",
		"name\u202egpj.exe":     "name?gpj.exe",
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}

// PrintableText keeps the lines of a text, and nothing else.
func TestPrintableText(t *testing.T) {
	if got, want := PrintableText("a:\n\tb \x1b[2J"), "a:\n\tb ?[2J"; got != want {
		t.Errorf("PrintableText = %q, want %q", got, want)
	}
}
