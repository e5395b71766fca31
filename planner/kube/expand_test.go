package kube

import (
	"math/big"
	"testing"
)

// kubelet is the expansion of the kubelet, written again from its
// definition (third_party/forked/golang/expansion: a "$" then "$" is one
// "$"; "$(" up to ")" is a reference, kept as written when undefined;
// "$(" without ")" and any other "$" are themselves), to check expand.
var expandCases = []struct{ in, want string }{
	{"plain", "plain"},
	{"$$", "$"},
	{"$$$", "$$"},
	{"$$(A)", "$(A)"},
	{"$(A)", "a"},
	{"$(A)$(B)", "ab"},
	{"$(UNSET)", "$(UNSET)"},
	{"x$(A", "x$(A"},
	{"$a $1 $", "$a $1 $"},
	{"$(A)$$(B)$(B)", "a$(B)b"},
	{"${A}", "${A}"},
	{"$()", "$()"},
}

func TestExpand(t *testing.T) {
	env := map[string]string{"A": "a", "B": "b"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, c := range expandCases {
		if got, _ := expand(c.in, lookup); got != c.want {
			t.Errorf("expand(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzEscape: what escape writes, the kubelet gives back as it was,
// whatever variables the container has.
func FuzzEscape(f *testing.F) {
	for _, c := range expandCases {
		f.Add(c.in)
	}
	f.Add(`echo "$$(readlink /proc/self/ns/net)" \$line $(id) $$$$`)
	f.Fuzz(func(t *testing.T, s string) {
		all := func(string) (string, bool) { return "X", true }
		none := func(string) (string, bool) { return "", false }
		for _, l := range []func(string) (string, bool){all, none} {
			defined := func(n string) bool { _, ok := l(n); return ok }
			if got, _ := expand(escape(s, defined), l); got != s {
				t.Errorf("expand(escape(%q)) = %q", s, got)
			}
		}
	})
}

// TestEscapeMinimal: escape changes only what the kubelet would: a
// shell's $(command) or $VAR stays as written, so that a runtime that
// does not expand (podman kube play 4.3, Debian 12's) runs the command
// as nsup does; $$ and a defined $(NAME) are doubled.
func TestEscapeMinimal(t *testing.T) {
	defined := func(n string) bool { return n == "GREETING" }
	for in, want := range map[string]string{
		`for i in $(busybox seq 100); do echo "$GREETING $line"; done`: `for i in $(busybox seq 100); do echo "$GREETING $line"; done`,
		`echo $(GREETING) $(OTHER) $$ $`:                               `echo $$(GREETING) $(OTHER) $$$ $`,
		`$(unclosed`:                                                   `$(unclosed`,
	} {
		if got := escape(in, defined); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestQuantities: parseQuantity reads what apimachinery reads, and what
// bytesQuantity and cpuQuantity write, apimachinery reads as meant.
func TestQuantities(t *testing.T) {
	for _, s := range []string{"1", "512Mi", "1Gi", "1G", "1.5", "1500m", "250m", "1e3", "1E3", "2E", "0.5Ki", ".5", "5.", "100k", "1e-3", "+2", "1505m", "3Ti", "1n", "7u"} {
		want, err := quantity(s)
		if err != nil {
			t.Fatalf("apimachinery: %q: %v", s, err)
		}
		got, err := parseQuantity(s)
		if err != nil {
			t.Errorf("parseQuantity(%q): %v", s, err)
			continue
		}
		if b, ok := ceilInt(got); !ok || b != want.Value() {
			t.Errorf("%q: %d bytes, apimachinery %d", s, b, want.Value())
		}
		m, _ := ceilInt(new(big.Rat).Mul(got, big.NewRat(1000, 1)))
		if m != want.MilliValue() {
			t.Errorf("%q: %d thousandths, apimachinery %d", s, m, want.MilliValue())
		}
	}
	for _, s := range []string{"", "1Qi", "1e", "1.2.3", "--1", "1 Mi", "0x10"} {
		if _, err := quantity(s); err == nil {
			t.Fatalf("apimachinery reads %q", s)
		}
		if _, err := parseQuantity(s); err == nil {
			t.Errorf("parseQuantity(%q): no error, apimachinery refuses it", s)
		}
	}
	for _, n := range []int64{1, 1023, 1024, 6 << 20, 512 << 20, 3 << 30, 5<<40 + 1, 7 << 50} {
		q, err := quantity(bytesQuantity(n))
		if err != nil || q.Value() != n {
			t.Errorf("bytesQuantity(%d) = %s: %v, %d", n, bytesQuantity(n), err, q.Value())
		}
	}
	for _, c := range []float64{0.01, 0.5, 1, 1.5, 2.25, 16} {
		q, err := quantity(cpuQuantity(c))
		if err != nil || q.MilliValue() != int64(c*1000+0.5) {
			t.Errorf("cpuQuantity(%v) = %s: %v, %d", c, cpuQuantity(c), err, q.MilliValue())
		}
	}
	for _, c := range []struct {
		n    int64
		want string
	}{{6 << 20, "6M"}, {1 << 30, "1G"}, {1000000000, "1000000000"}, {1536, "1536"}, {3072, "3K"}, {3 << 40, "3T"}} {
		if got := nsupSize(c.n); got != c.want {
			t.Errorf("nsupSize(%d) = %s, want %s", c.n, got, c.want)
		}
	}
}
