package planner

import (
	"archive/tar"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTarShapeLookup: the encoded shape answers every name of the tree,
// the names written whole (every shapeRestart-th) and those between, and
// nothing else (a prefix of a name, a name before the first or after the
// last, one between two).
func TestTarShapeLookup(t *testing.T) {
	for _, size := range []int{0, 1, 3, shapeRestart - 1, shapeRestart, shapeRestart + 1, 1000} {
		nodes := map[string]tarEtcNode{}
		for i := range size {
			switch i % 3 {
			case 0:
				nodes[fmt.Sprintf("d%04d", i)] = tarEtcNode{typ: TarDir, mode: 0o1777}
			case 1:
				nodes[fmt.Sprintf("d%04d/file", i-1)] = tarEtcNode{typ: TarFile, mode: 0o755}
			case 2:
				nodes[fmt.Sprintf("d%04d/link", i-2)] = tarEtcNode{typ: TarSymlink, link: fmt.Sprintf("../d%04d", i)}
			}
		}
		s, ok := openTarShape(encodeTarShape(nodes))
		if !ok || s == nil {
			t.Fatalf("%d names: not a shape", size)
		}
		for name, n := range nodes {
			f, ok := s.lookup("/" + name)
			want := map[string]string{TarDir: "dir", TarFile: "file", TarSymlink: "symlink"}[n.typ]
			if !ok || f.Type != want || f.Link != n.link || f.Path != "/"+name || n.typ != TarSymlink && f.Mode != n.mode {
				t.Errorf("%d names: %s: %+v %v, want %+v", size, name, f, ok, n)
			}
		}
		for _, p := range []string{"/", "/a", "/d", "/d000", "/d0000/fil", "/d0000/filez", "/d0000x", "/zzzz", "/d9999", "d0000", ""} {
			f, ok := s.lookup(p)
			if p == "/" {
				if !ok || f.Type != "dir" {
					t.Errorf("/: %+v %v", f, ok)
				}
			} else if _, there := nodes[strings.TrimPrefix(p, "/")]; ok != (there && strings.HasPrefix(p, "/")) {
				t.Errorf("%d names: %q: %+v %v", size, p, f, ok)
			}
		}
	}
	if s, ok := openTarShape([]byte{tarShapeNone}); !ok || s != nil {
		t.Errorf("the shape of none: %v %v", s, ok)
	}
	for _, b := range []string{"", "s", "x" + strings.Repeat("\x00", 8), "s\x00\x00\x00\x00\x05\x00\x00\x00"} {
		if s, ok := openTarShape([]byte(b)); ok || s != nil {
			t.Errorf("%q: %v %v, want no shape", b, s, ok)
		}
	}
}

// TestTarShapeHostileNames: an archive's names are the attacker's: one
// with a newline, a space, quotes, a binary byte, or the side
// file's own header in it, is one name of the shape, read back from the
// side file as it was; the index's line for the archive still parses
// (it holds no name of the archive); and a damaged side file is no
// shape, never another.
func TestTarShapeHostileNames(t *testing.T) {
	dir := t.TempDir()
	weird := []string{
		"etc/a\nb", "etc/ c", `etc/"q"`, "etc/\\", "etc/\xff\x01", "etc/" + strings.TrimSuffix(tarIDHeader, "\n") + "\n[{}]\n",
		"etc/-", "etc/" + strings.Repeat("n", 255),
	}
	hs := []tar.Header{tarEtcDir, tarTrue}
	for _, w := range weird {
		hs = append(hs, tar.Header{Name: w, Typeflag: tar.TypeReg})
	}
	hs = append(hs, tar.Header{Name: "etc/l\nk", Typeflag: tar.TypeSymlink, Linkname: "\n/etc/passwd \"x\""})
	archive := writeTar(t, dir, "weird\n.tar", hs...)
	defer func(w time.Duration) { racyWindow = w }(racyWindow)
	racyWindow = 0
	cache := filepath.Join(dir, "cache")
	os.MkdirAll(filepath.Join(cache, "index"), 0o700)
	os.Chmod(cache, 0o700)
	key := IndexKey("tar", []string{archive})
	x := NewIndex(cache)
	d, etc, rec, err := x.hashTar(key, archive, true)
	if err != nil || rec == nil {
		t.Fatalf("hashTar: %v %v", rec, err)
	}
	// What apply writes: the index's line, the side file.
	b, ok := x.Update(key, []string{archive})
	if !ok {
		t.Fatal("no index line")
	}
	os.WriteFile(x.File(key), b, 0o600)
	side, ok := x.TarIDUpdate(d)
	if !ok {
		t.Fatal("no side file")
	}
	os.WriteFile(x.TarIDFile(d), side, 0o600)
	if e := readIndexFile(x.File(key))[archive]; e.digest != d || e.etc != etc {
		t.Fatalf("the index's line read back: %+v, want %s %s", e, d, etc)
	}
	y := NewIndex(cache)
	d2, _, rec2, err := y.hashTar(key, archive, true)
	if err != nil || d2 != d || rec2 == nil || rec2 == rec {
		t.Fatalf("warm hashTar: %s %v %v", d2, rec2, err)
	}
	if y.fresh[archive].digest != "" {
		t.Fatal("the warm look read the archive again")
	}
	v := rec2.shape.view()
	if v == nil {
		t.Fatal("no shape read back")
	}
	for _, w := range weird {
		if f, ok := v("/" + w); !ok || f.Type != "file" {
			t.Errorf("%q: %+v %v", w, f, ok)
		}
	}
	if f, ok := v("/etc/l\nk"); !ok || f.Type != "symlink" || f.Link != "\n/etc/passwd \"x\"" {
		t.Errorf("the link: %+v %v", f, ok)
	}
	for _, p := range []string{"/etc/a", "/b", "/etc/passwd", "/etc/" + strings.TrimSuffix(tarIDHeader, "\n")} {
		if f, ok := v(p); ok {
			t.Errorf("%q found: %+v", p, f)
		}
	}
	// Damaged: the shape cut short, or a byte of its table changed.
	for _, cut := range []int{1, 5, 9, len(rec2.shape.enc) / 2} {
		enc := rec2.shape.enc[:len(rec2.shape.enc)-cut]
		if s, ok := openTarShape(enc); ok {
			for _, w := range weird {
				if f, found := s.lookup("/" + w); found && f.Type != "file" {
					t.Errorf("cut %d: %q is %+v", cut, w, f)
				}
			}
		}
	}
}

// TestTarShapeOldSideFile: a side file an older nsup wrote (v1: no shape)
// is not taken: the archive is read again, and apply's side file is the
// new one.
func TestTarShapeOldSideFile(t *testing.T) {
	dir := t.TempDir()
	archive := writeTar(t, dir, "r.tar", tarEtcDir, tarHosts, tarTrue)
	defer func(w time.Duration) { racyWindow = w }(racyWindow)
	racyWindow = 0
	cache := filepath.Join(dir, "cache")
	os.MkdirAll(filepath.Join(cache, "index"), 0o700)
	os.Chmod(cache, 0o700)
	key := IndexKey("tar", []string{archive})
	x := NewIndex(cache)
	d, _, _, err := x.hashTar(key, archive, true)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := x.Update(key, []string{archive})
	os.WriteFile(x.File(key), b, 0o600)
	os.WriteFile(x.TarIDFile(d), []byte("nsup-tarid-v1\n[]"), 0o600)
	y := NewIndex(cache)
	_, _, rec, err := y.hashTar(key, archive, true)
	if err != nil || rec == nil || rec.shape.view() == nil {
		t.Fatalf("hashTar over a v1 side file: %v %v", rec, err)
	}
	if y.fresh[archive].digest != d {
		t.Error("a v1 side file was taken: the archive was not read again")
	}
	if b, ok := y.TarIDUpdate(d); !ok || !strings.HasPrefix(string(b), tarIDHeader) {
		t.Errorf("the side file to write: %v %.20q", ok, b)
	}
}
