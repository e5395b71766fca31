package lifecycle

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestTermSafe: what TermSafe keeps and replaces, written whole and cut
// into writes at every byte.
func TestTermSafe(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain text\n", "plain text\n"},
		{"tab\tand crlf\r\n", "tab\tand crlf\r\n"},
		{"\x1b[1;31mred\x1b[0m\n", "\x1b[1;31mred\x1b[0m\n"},
		{"\x1b]52;c;cm0gLXJmIH4K\x07", "?]52;c;cm0gLXJmIH4K?"},
		{"\x1b]0;title\x1b\\", "?]0;title?\\"},
		{"hidden\x1b[1A\x1b[2K\n", "hidden?[1A?[2K\n"},
		{"\x1b[201~", "?[201~"},
		{"over\rwrite", "over\nwrite"},
		{"bell\a del\x7f nul\x00", "bell? del? nul?"},
		{"c1 \u009b31m csi", "c1 ?31m csi"},
		{"bidi \u202eevil", "bidi ?evil"},
		{"utf-8 é ✓ 日本", "utf-8 é ✓ 日本"},
		{"bad \xff\xfe byte", "bad ?? byte"},
		{"cut at the end \x1b[3", "cut at the end ?[3"},
		{"cut rune \xe2\x9c", "cut rune ??"},
		{"cr at the end\r", "cr at the end\n"},
		{"\x1b[" + strings.Repeat("1;", 40) + "m", "?[" + strings.Repeat("1;", 40) + "m"},
		{"shown \x1b[8mconcealed\x1b[0m\n", "shown concealed\x1b[0m\n"},
		{"\x1b[1;08;31mred\x1b[m", "\x1b[1;31mred\x1b[m"},
		{"\x1b[38;5;8mgrey\x1b[48;2;8;8;8;8m", "\x1b[38;5;8mgrey\x1b[48;2;8;8;8m"},
		{"\x1b[38;8m", "\x1b[38m"},
		{"\x1b[;8m", "\x1b[m"},
		{"\x1b[00000000000000000008m", ""},
		{"\x1b[1;4294967304m", "\x1b[1m"},
	} {
		for cut := 0; cut <= len(c.in); cut++ {
			var b strings.Builder
			w := NewTermSafe(&b)
			w.Write([]byte(c.in[:cut]))
			w.Write([]byte(c.in[cut:]))
			w.Close()
			if b.String() != c.want {
				t.Errorf("%q cut at %d: %q, want %q", c.in, cut, b.String(), c.want)
			}
		}
	}
}

// TestJSONSafe: DEL, C1, bidi controls and U+FFFD escaped, the JSON the
// same.
func TestJSONSafe(t *testing.T) {
	in := []byte("{\n  \"a\": \"x\u009b31m\x7f\u202e é ✓\ufffd\"\n}")
	got := JSONSafe(in)
	want := "{\n  \"a\": \"x\\u009b31m\\u007f\\u202e é ✓\\ufffd\"\n}"
	if string(got) != want {
		t.Errorf("JSONSafe: %q, want %q", got, want)
	}
	var a, b map[string]string
	if json.Unmarshal(in, &a) != nil || json.Unmarshal(got, &b) != nil || a["a"] != b["a"] {
		t.Errorf("JSONSafe changed the JSON: %q, %q", a, b)
	}
}
