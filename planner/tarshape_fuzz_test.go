package planner

import (
	"strings"
	"testing"
)

// FuzzTarShapeDecode: a side file's shape is read from a cache the
// caller may write: whatever its bytes, a lookup neither panics nor
// answers a name that is not "/..." with something.
func FuzzTarShapeDecode(f *testing.F) {
	nodes := map[string]tarEtcNode{
		"bin": {typ: TarDir, mode: 0o755}, "bin/sh": {typ: TarFile, mode: 0o755},
		"lib64": {typ: TarSymlink, link: "usr/lib64"}, "usr": {typ: TarDir, mode: 0o755},
	}
	for i := range 40 {
		nodes["usr/lib64/l"+strings.Repeat("x", i)] = tarEtcNode{typ: TarFile, mode: 0o644}
	}
	f.Add(encodeTarShape(nodes), "/bin/sh")
	f.Add([]byte{tarShapeNone}, "/lib64")
	f.Fuzz(func(t *testing.T, b []byte, name string) {
		s, ok := openTarShape(b)
		if !ok || s == nil {
			return
		}
		for _, p := range []string{name, "/" + name, "/bin/sh", "/lib64", "/usr/lib64/lxxxx", "/zzz", "/"} {
			if fl, found := s.lookup(p); found && (!strings.HasPrefix(p, "/") || fl.Path != p) {
				t.Fatalf("%q: %+v", p, fl)
			}
		}
	})
}

// FuzzTarShapeRoundTrip: any tree's names (an archive's: any bytes but
// "/" and NUL in a component) are each answered as encoded, and no other
// name is found.
func FuzzTarShapeRoundTrip(f *testing.F) {
	f.Add("a\x00a/b\x00a/b/c\x00ab\x00a\nb", "a/")
	f.Add(strings.Repeat("x\x00xx\x00xxx\x00", 10), "xxxx")
	f.Fuzz(func(t *testing.T, list, probe string) {
		nodes := map[string]tarEtcNode{}
		for i, n := range strings.Split(list, "\x00") {
			if n == "" || len(n) > 300 {
				continue
			}
			switch i % 3 {
			case 0:
				nodes[n] = tarEtcNode{typ: TarDir, mode: uint32(i) & 0o7777}
			case 1:
				nodes[n] = tarEtcNode{typ: TarFile, mode: uint32(i*7) & 0o7777}
			default:
				nodes[n] = tarEtcNode{typ: TarSymlink, link: n + "x"}
			}
		}
		s, ok := openTarShape(encodeTarShape(nodes))
		if !ok || s == nil {
			t.Fatalf("%d names: not a shape", len(nodes))
		}
		for name, n := range nodes {
			f, ok := s.lookup("/" + name)
			want := map[string]string{TarDir: "dir", TarFile: "file", TarSymlink: "symlink"}[n.typ]
			if !ok || f.Type != want || f.Link != n.link || n.typ != TarSymlink && f.Mode != n.mode {
				t.Fatalf("%q: %+v %v, want %+v", name, f, ok, n)
			}
		}
		if _, there := nodes[probe]; !there && probe != "" {
			if f, ok := s.lookup("/" + probe); ok {
				t.Fatalf("%q is not a name, found %+v", probe, f)
			}
		}
	})
}
