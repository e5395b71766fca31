package executor

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// TestOwnArgs: the areas a Monitor blanks are fields 48 to 51 of this
// process's /proc/self/stat as proc(5) numbers them, read here the plain
// way, and hold this process's arguments.
func TestOwnArgs(t *testing.T) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	var want [4]uintptr
	for i := range want {
		n, err := strconv.ParseUint(f[45+i], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = uintptr(n)
	}
	got := readOwnArgs()
	for k := range got {
		if uintptr(got[k].at) != want[2*k] || uintptr(got[k].at)+got[k].len != want[2*k+1] {
			t.Errorf("area %d: [%#x, +%d), want [%#x, %#x)", k, got[k].at, got[k].len, want[2*k], want[2*k+1])
		}
	}
	args := unsafe.String((*byte)(got[0].at), got[0].len)
	if w := strings.Join(os.Args, "\x00") + "\x00"; args != w {
		t.Errorf("the command line area holds %q, want %q", args, w)
	}
}

func TestParseOwnArgs(t *testing.T) {
	// Fields 3 to 47 as a line has them; 48 to 51 the areas; 52 the exit
	// code.
	mid := "S 1 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 5 1000 100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 4096 8192 12288"
	areas := [4]uintptr{100, 200, 200, 300}
	for _, c := range []struct {
		line string
		want [4]uintptr
		ok   bool
	}{
		{"7 (nsup) " + mid + " 100 200 200 300 0\n", areas, true},
		// A name with spaces and parentheses: only the last ')' ends it.
		{"7 (a) b (c) d) " + mid + " 100 200 200 300 0\n", areas, true},
		// The last field may end the line.
		{"7 (nsup) " + mid + " 100 200 200 300", areas, true},
		// Too short, not a number, a zero, too large, no name: nothing.
		{"7 (nsup) " + mid + " 100 200\n", [4]uintptr{}, false},
		{"7 (nsup) " + mid + " 100 2x0 200 300 0\n", [4]uintptr{}, false},
		{"7 (nsup) " + mid + " 0 200 200 300 0\n", [4]uintptr{}, false},
		{"7 (nsup) " + mid + " 100 200 200 99999999999999999999999 0\n", [4]uintptr{}, false},
		{"7 nsup " + mid + " 100 200 200 300 0\n", [4]uintptr{}, false},
	} {
		v, ok := parseOwnArgs([]byte(c.line))
		if ok != c.ok || (ok && v != c.want) {
			t.Errorf("%q: %v, %v, want %v, %v", c.line, v, ok, c.want, c.ok)
		}
	}
}
