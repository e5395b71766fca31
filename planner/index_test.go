package planner

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// saveIndex writes what idx learnt about key's paths, as nsup apply does.
func saveIndex(t *testing.T, idx *Index, key string, paths []string) bool {
	t.Helper()
	b, changed := idx.Update(key, paths)
	if changed {
		os.MkdirAll(filepath.Dir(idx.File(key)), 0o700)
		if err := os.WriteFile(idx.File(key), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return changed
}

// saveTarID writes the side file of digest as apply does
// (executor/store's saveTarID), if idx found it.
func saveTarID(t *testing.T, idx *Index, digest string) bool {
	t.Helper()
	b, ok := idx.TarIDUpdate(digest)
	if ok {
		os.MkdirAll(filepath.Dir(idx.TarIDFile(digest)), 0o700)
		if err := os.WriteFile(idx.TarIDFile(digest), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return ok
}

// TestIndexSkipsHashing: with a warm index, an unchanged file's digest is
// the index's (shown here by an index entry forged with the file's own
// fingerprint: the closure reports the forged digest, so the file was not
// read); a written file, or one whose metadata changed, is hashed again.
func TestIndexSkipsHashing(t *testing.T) {
	defer func(w time.Duration) { racyWindow = w }(racyWindow)
	racyWindow = 0
	cache, dir := t.TempDir(), t.TempDir()
	data := filepath.Join(dir, "data")
	os.Mkdir(data, 0o755)
	f := filepath.Join(data, "file with spaces\nand a newline")
	os.WriteFile(f, []byte("one\n"), 0o644)
	paths := []string{data}
	key := IndexKey("closure", paths)
	real := evalSymlinks(t, f)

	idx := NewIndex(cache)
	files, _, err := closure(paths, nil, idx, false)
	if err != nil {
		t.Fatal(err)
	}
	want := closureByPath(files)[real].Digest
	if !saveIndex(t, idx, key, []string{real}) {
		t.Fatal("nothing observed")
	}
	if saveIndex(t, idx, key, []string{real}) {
		t.Error("a second save of the same state changes the index")
	}
	// Forge the entry's digest, keeping its fingerprint.
	b, _ := os.ReadFile(idx.File(key))
	forged := "sha256:" + strings.Repeat("ab", 32)
	os.WriteFile(idx.File(key), bytes.Replace(b, []byte(want), []byte(forged), 1), 0o600)
	lookup := func() string {
		t.Helper()
		files, _, err := closure(paths, nil, NewIndex(cache), false)
		if err != nil {
			t.Fatal(err)
		}
		return closureByPath(files)[real].Digest
	}
	if got := lookup(); got != forged {
		t.Fatalf("digest %s, want the index's %s", got, forged)
	}
	// chmod changes ctime: hashed again, the true digest.
	os.Chmod(f, 0o640)
	if got := lookup(); got != want {
		t.Errorf("after chmod: %s, want %s", got, want)
	}
	// Same size, new content, mtime set back: ctime still tells.
	os.WriteFile(idx.File(key), bytes.Replace(b, []byte(want), []byte(forged), 1), 0o600)
	fi, _ := os.Stat(f)
	os.WriteFile(f, []byte("two\n"), 0o640)
	os.Chtimes(f, fi.ModTime(), fi.ModTime())
	if got := lookup(); got == forged || got == want {
		t.Errorf("after a write: %s, want the new content's digest", got)
	}
}

// TestIndexRacy: a file changed within racyWindow is not recorded (its
// fingerprint could stay the same through a second write in the same
// clock tick).
func TestIndexRacy(t *testing.T) {
	cache, dir := t.TempDir(), t.TempDir()
	f := filepath.Join(dir, "fresh")
	os.WriteFile(f, []byte("x"), 0o644)
	idx := NewIndex(cache)
	if _, _, err := idx.hashFile("k", f, true); err != nil {
		t.Fatal(err)
	}
	if _, changed := idx.Update("k", []string{f}); changed {
		t.Error("a file written just now was recorded")
	}
	if _, ok := idx.fresh[f]; ok {
		t.Error("observed")
	}
}

// TestIndexDamaged: a damaged index file costs a hash, not a wrong digest.
func TestIndexDamaged(t *testing.T) {
	cache, dir := t.TempDir(), t.TempDir()
	f := filepath.Join(dir, "f")
	os.WriteFile(f, []byte("x"), 0o644)
	idx := NewIndex(cache)
	os.MkdirAll(filepath.Dir(idx.File("k")), 0o700)
	os.WriteFile(idx.File("k"), []byte(indexHeader+"sha256:zz 1 2 3 4 5 \"unterminated\nnot a line\n"), 0o600)
	d, _, err := idx.hashFile("k", f, true)
	if err != nil || d != "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881" {
		t.Errorf("digest %s %v", d, err)
	}
}

// An index in a cache that others may write to is not read: its lines
// would choose the digest, so the cache entry, a plan names.
func TestIndexOthersMayWrite(t *testing.T) {
	cache, dir := t.TempDir(), t.TempDir()
	f := filepath.Join(dir, "f")
	os.WriteFile(f, []byte("x"), 0o644)
	var st syscall.Stat_t
	if err := syscall.Stat(f, &st); err != nil {
		t.Fatal(err)
	}
	fp := fingerprintOf(&st)
	planted := fmt.Sprintf("%ssha256:%s %d %d %d %d %d %q\n", indexHeader, strings.Repeat("ab", 32), fp.size, fp.mtime, fp.ctime, fp.dev, fp.ino, f)
	for _, tc := range []struct {
		mode os.FileMode
		want string
	}{
		{0o700, "sha256:" + strings.Repeat("ab", 32)}, // the caller's own: read
		{0o777, "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"},
	} {
		idx := NewIndex(cache)
		os.MkdirAll(filepath.Dir(idx.File("k")), 0o700)
		os.WriteFile(idx.File("k"), []byte(planted), 0o600)
		if err := os.Chmod(cache, tc.mode); err != nil {
			t.Fatal(err)
		}
		if d, _, err := idx.hashFile("k", f, true); err != nil || d != tc.want {
			t.Errorf("cache mode %#o: digest %s %v, want %s", tc.mode, d, err, tc.want)
		}
	}
	os.Chmod(cache, 0o700)
}

// TestClosureFrom: each file of the tree is attributed to the requested
// paths that need it.
func TestClosureFrom(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	os.Mkdir(data, 0o755)
	os.WriteFile(filepath.Join(data, "x"), []byte("x"), 0o644)
	sh := evalSymlinks(t, "/bin/sh")
	files, from, err := ClosureFrom([]string{"/bin/sh", data, sh}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := from[evalSymlinks(t, filepath.Join(data, "x"))]; !slices.Equal(got, []string{data}) {
		t.Errorf("data/x needed by %q", got)
	}
	if got := from[sh]; !slices.Equal(got, []string{"/bin/sh", sh}) {
		t.Errorf("%s needed by %q", sh, got)
	}
	libc := ""
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f.Path), "libc.so") {
			libc = f.Path
		}
	}
	if libc == "" || !slices.Equal(from[libc], []string{"/bin/sh", sh}) {
		t.Errorf("libc %q needed by %q", libc, from[libc])
	}
	plain, err := Closure([]string{"/bin/sh", data, sh})
	if err != nil || !slices.EqualFunc(plain, files, func(a, b File) bool { return a == b }) {
		t.Errorf("ClosureFrom and Closure differ")
	}
}

func TestTarName(t *testing.T) {
	for in, want := range map[string]string{
		"./etc/passwd": "etc/passwd", "/etc/passwd": "etc/passwd", "//a//b/./c/": "a/b/c",
		".": "", "./": "", "/": "", "a/b": "a/b",
	} {
		if got, err := TarName(in); err != nil || got != want {
			t.Errorf("TarName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"..", "../x", "a/../../x", "a/..", "/../etc", strings.Repeat("a", 5000)} {
		if got, err := TarName(in); err == nil {
			t.Errorf("TarName(%q) = %q, want an error", in, got)
		}
	}
}

// TestTarFilesRefuses: TarFiles refuses what extraction refuses.
func TestTarFilesRefuses(t *testing.T) {
	for _, tc := range []struct {
		why string
		hs  []*tar.Header
	}{
		{`".."`, []*tar.Header{{Name: "../x", Typeflag: tar.TypeReg}}},
		{"symlink, not a folder", []*tar.Header{{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "/etc"}, {Name: "l/passwd", Typeflag: tar.TypeReg}}},
		{"not an earlier file", []*tar.Header{{Name: "h", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"}}},
		{"more than nsup unpacks", []*tar.Header{{Name: "big", Typeflag: tar.TypeReg, Size: TarMaxFileSize + 1}}},
		{"replaces a folder", []*tar.Header{{Name: "d/", Typeflag: tar.TypeDir}, {Name: "d", Typeflag: tar.TypeReg}}},
		// 20 members 2,040 folders deep: 40,800 folders the archive does
		// not list, 85 MB of their names, from a 1 KB archive (a review:
		// 400 such members took nsup lock past 3 GiB).
		{"bytes of names", deepMembers(20, 2040)},
	} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, h := range tc.hs {
			h.Mode = 0o644
			tw.WriteHeader(h)
			if h.Size > 1<<20 {
				break
			}
		}
		tw.Flush()
		p := filepath.Join(t.TempDir(), "a.tar")
		os.WriteFile(p, buf.Bytes(), 0o644)
		if _, _, err := TarFiles(p); err == nil || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("%s: error %v", tc.why, err)
		}
	}
}

// deepMembers is n files, each depth folders below a folder of its own,
// none of them listed.
func deepMembers(n, depth int) []*tar.Header {
	var hs []*tar.Header
	for i := range n {
		hs = append(hs, &tar.Header{Name: fmt.Sprintf("d%02d/", i) + strings.Repeat("a/", depth) + "f", Typeflag: tar.TypeReg})
	}
	return hs
}

// TestHashFileReal: a closure's file is read by its real path, refusing
// a symlink in it (a folder swapped for a link since it was listed);
// a tar archive's path, the spec's word, may have one.
func TestHashFileReal(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "real", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	idx := NewIndex(t.TempDir())
	if _, _, err := idx.hashFile("k", filepath.Join(dir, "real", "f"), true); err != nil {
		t.Errorf("the real path: %v", err)
	}
	if _, _, err := idx.hashFile("k", filepath.Join(dir, "link", "f"), true); err == nil || !strings.Contains(err.Error(), "a symlink is in this path now") {
		t.Errorf("through a link, real: %v", err)
	}
	if _, _, err := idx.hashFile("k", filepath.Join(dir, "link", "f"), false); err != nil {
		t.Errorf("through a link, a tar's path: %v", err)
	}
}
