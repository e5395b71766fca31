package store

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsup/nsup/planner"
)

// member is one entry of a test archive.
type member struct {
	name, link string
	typ        byte
	mode       int64
	body       string
	size       int64 // the header's size when it is not len(body)
	uid, gid   int
}

// makeTar writes members as a tar stream (gzip'd if gz) and returns it.
// A member with a size beyond its body gets its header only, and the
// archive ends there: a header that lies about what follows.
func makeTar(t *testing.T, gz bool, ms ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	truncated := false
	for _, m := range ms {
		typ := m.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := m.mode
		if mode == 0 {
			mode = 0o644
		}
		h := &tar.Header{Name: m.name, Linkname: m.link, Typeflag: typ, Mode: mode, Uid: m.uid, Gid: m.gid,
			ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		if typ == tar.TypeReg {
			h.Size = int64(len(m.body))
			if m.size > 0 {
				h.Size = m.size
			}
		}
		if typ == tar.TypeChar || typ == tar.TypeBlock {
			h.Devmajor, h.Devminor = 1, 3
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if m.size > int64(len(m.body)) {
			truncated = true
			break
		}
		if _, err := tw.Write([]byte(m.body)); err != nil {
			t.Fatal(err)
		}
	}
	if !truncated {
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if !gz {
		return buf.Bytes()
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(buf.Bytes())
	zw.Close()
	return z.Bytes()
}

// unpackCase is a folder with an archive, the tree it unpacks into, and
// a folder of the "host" beside them, which no archive may touch.
type unpackCase struct {
	dir, tree, outside, archive string
	hostBefore                  string
}

func newUnpackCase(t *testing.T, archive []byte) *unpackCase {
	t.Helper()
	dir := t.TempDir()
	c := &unpackCase{dir: dir, tree: filepath.Join(dir, "tree"), outside: filepath.Join(dir, "outside"),
		archive: filepath.Join(dir, "a.tar")}
	for _, d := range []string{c.tree, c.outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(c.outside, "secret"), []byte("host data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.archive, archive, 0o644); err != nil {
		t.Fatal(err)
	}
	c.hostBefore = snapshot(t, dir, c.tree)
	return c
}

// snapshot lists everything under root except the folder skip: paths,
// types, modes, link counts and contents.
func snapshot(t *testing.T, root, skip string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == skip {
			return filepath.SkipDir
		}
		fi, _ := d.Info()
		st := fi.Sys().(*syscall.Stat_t)
		b.WriteString(p + " " + fi.Mode().String() + " " + strconv.Itoa(int(st.Nlink)))
		if fi.Mode().IsRegular() {
			data, _ := os.ReadFile(p)
			sum := sha256.Sum256(data)
			b.WriteString(" " + hex.EncodeToString(sum[:8]))
		}
		b.WriteString("\n")
		return nil
	})
	return b.String()
}

func (c *unpackCase) unpack(t *testing.T) (int, error) {
	t.Helper()
	data, _ := os.ReadFile(c.archive)
	sum := sha256.Sum256(data)
	n, _, err := extractTar(context.Background(), c.archive, "sha256:"+hex.EncodeToString(sum[:]), c.tree, nil)
	if after := snapshot(t, c.dir, c.tree); after != c.hostBefore {
		t.Errorf("the host changed:\nbefore:\n%safter:\n%s", c.hostBefore, after)
	}
	// The host's own files are untouched whatever the archive named.
	if _, err := os.Lstat("/nsup-rootfs-test-abs"); err == nil {
		t.Errorf("/nsup-rootfs-test-abs exists on the host")
	}
	return n, err
}

func treeList(t *testing.T, root string) []string {
	var out []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		fi, _ := d.Info()
		rel, _ := filepath.Rel(root, p)
		s := rel + " " + fi.Mode().String()
		if fi.Mode()&fs.ModeSymlink != 0 {
			l, _ := os.Readlink(p)
			s += " -> " + l
		}
		out = append(out, s)
		return nil
	})
	sort.Strings(out)
	return out
}

func wantRefused(t *testing.T, err error, why string) {
	t.Helper()
	if !errors.Is(err, errTarRefused) || !strings.Contains(err.Error(), why) {
		t.Fatalf("error %v, want the archive refused: %s", err, why)
	}
}

// TestTarAbsoluteNames: "/x" unpacks to the tree's /x, never to the host's.
func TestTarAbsoluteNames(t *testing.T) {
	dir := t.TempDir()
	abs := filepath.Join(dir, "outside", "planted")
	c := newUnpackCase(t, makeTar(t, false,
		member{name: abs, body: "absolute\n"},
		member{name: "/nsup-rootfs-test-abs", body: "x"},
		member{name: "./etc/hostname", body: "box\n"}))
	if _, err := c.unpack(t); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(c.tree, abs)); err != nil || string(b) != "absolute\n" {
		t.Errorf("%s inside the tree: %q %v", abs, b, err)
	}
	if _, err := os.Lstat(abs); err == nil {
		t.Errorf("%s was written on the host", abs)
	}
	if b, _ := os.ReadFile(filepath.Join(c.tree, "etc", "hostname")); string(b) != "box\n" {
		t.Errorf("etc/hostname: %q", b)
	}
}

// TestTarDotDot: a ".." in a name refuses the archive.
func TestTarDotDot(t *testing.T) {
	for _, name := range []string{"../outside/secret", "a/../../outside/planted", "../../../../../../tmp/nsup-rootfs-test-dotdot"} {
		c := newUnpackCase(t, makeTar(t, true, member{name: "a/", typ: tar.TypeDir, mode: 0o755}, member{name: name, body: "pwned\n"}))
		_, err := c.unpack(t)
		wantRefused(t, err, `a ".." in a member name`)
	}
	if _, err := os.Lstat("/tmp/nsup-rootfs-test-dotdot"); err == nil {
		t.Error("/tmp/nsup-rootfs-test-dotdot was written")
	}
}

// TestTarSymlinkOut: a symlink that points out of the tree is kept as a
// symlink (inside an environment it resolves in its root), but a member
// through it refuses the archive: nothing is followed while unpacking.
func TestTarSymlinkOut(t *testing.T) {
	for _, link := range []string{"", "../outside", "../../../../../.."} {
		c := newUnpackCase(t, nil)
		target := link
		if target == "" {
			target = c.outside // absolute
		}
		os.WriteFile(c.archive, makeTar(t, false,
			member{name: "evil", typ: tar.TypeSymlink, link: target},
			member{name: "evil/secret", body: "pwned\n"}), 0o644)
		c.hostBefore = snapshot(t, c.dir, c.tree)
		_, err := c.unpack(t)
		wantRefused(t, err, "passes through a symlink")
		if b, _ := os.ReadFile(filepath.Join(c.outside, "secret")); string(b) != "host data\n" {
			t.Errorf("the host's file became %q", b)
		}
	}
	// Deeper: a symlinked folder, then a folder and a file below it.
	c := newUnpackCase(t, nil)
	os.WriteFile(c.archive, makeTar(t, true,
		member{name: "usr/", typ: tar.TypeDir, mode: 0o755},
		member{name: "usr/lib", typ: tar.TypeSymlink, link: c.outside},
		member{name: "usr/lib/sub/", typ: tar.TypeDir, mode: 0o755},
		member{name: "usr/lib/sub/x", body: "pwned\n"}), 0o644)
	c.hostBefore = snapshot(t, c.dir, c.tree)
	_, err := c.unpack(t)
	wantRefused(t, err, "passes through a symlink")
	// A symlink alone is fine, and kept as it is.
	c = newUnpackCase(t, makeTar(t, false, member{name: "etc/", typ: tar.TypeDir, mode: 0o755},
		member{name: "etc/mtab", typ: tar.TypeSymlink, link: "/proc/self/mounts"}))
	if _, err := c.unpack(t); err != nil {
		t.Fatal(err)
	}
	if l, _ := os.Readlink(filepath.Join(c.tree, "etc", "mtab")); l != "/proc/self/mounts" {
		t.Errorf("etc/mtab -> %q", l)
	}
}

// TestTarHardlinkOut: a hard link can only be another name of an earlier
// file of the archive.
func TestTarHardlinkOut(t *testing.T) {
	for _, tc := range []struct{ link, why string }{
		{"../outside/secret", `a ".." in a member name`},
		{"", "not an earlier file of the archive"}, // the host's file, by its absolute path
		{"/etc/passwd", "not an earlier file of the archive"},
		{"dir", "not an earlier file of the archive"},
		{"sym", "not an earlier file of the archive"},
		{"sym/secret", "passes through a symlink"},
	} {
		c := newUnpackCase(t, nil)
		link := tc.link
		if link == "" {
			link = filepath.Join(c.outside, "secret")
		}
		os.WriteFile(c.archive, makeTar(t, false,
			member{name: "dir/", typ: tar.TypeDir, mode: 0o755},
			member{name: "sym", typ: tar.TypeSymlink, link: c.outside},
			member{name: "stolen", typ: tar.TypeLink, link: link}), 0o644)
		c.hostBefore = snapshot(t, c.dir, c.tree) // counts the secret's links
		_, err := c.unpack(t)
		wantRefused(t, err, tc.why)
	}
	var st syscall.Stat_t
	if syscall.Stat("/etc/passwd", &st) == nil && st.Nlink != 1 {
		t.Logf("/etc/passwd has %d links on this host", st.Nlink)
	}
	// A link to an earlier file is the same file.
	c := newUnpackCase(t, makeTar(t, true, member{name: "bin/busybox", body: "#!bb\n", mode: 0o755},
		member{name: "bin/sh", typ: tar.TypeLink, link: "/bin/busybox"}))
	if _, err := c.unpack(t); err != nil {
		t.Fatal(err)
	}
	a, _ := os.Stat(filepath.Join(c.tree, "bin", "busybox"))
	b, _ := os.Stat(filepath.Join(c.tree, "bin", "sh"))
	if a == nil || b == nil || !os.SameFile(a, b) {
		t.Errorf("bin/sh is not bin/busybox: %v %v", a, b)
	}
}

// TestTarDevices: device nodes are skipped, whatever they name.
func TestTarDevices(t *testing.T) {
	c := newUnpackCase(t, makeTar(t, false,
		member{name: "dev/", typ: tar.TypeDir, mode: 0o755},
		member{name: "dev/null", typ: tar.TypeChar, mode: 0o666},
		member{name: "dev/sda", typ: tar.TypeBlock, mode: 0o660},
		member{name: "ok", body: "ok\n"}))
	n, err := c.unpack(t)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := treeList(t, c.tree), []string{"dev drwxr-xr-x", "ok -rw-r--r--"}; !slices.Equal(got, want) {
		t.Errorf("tree %q, want %q", got, want)
	}
	if n != 1 {
		t.Errorf("%d files counted, want 1", n)
	}
}

// TestTarFifo: FIFOs are skipped too.
func TestTarFifo(t *testing.T) {
	c := newUnpackCase(t, makeTar(t, true, member{name: "run/fifo", typ: tar.TypeFifo, mode: 0o600}))
	if _, err := c.unpack(t); err != nil {
		t.Fatal(err)
	}
	if got := treeList(t, c.tree); len(got) != 0 {
		t.Errorf("tree %q, want nothing", got)
	}
}

// TestTarEnormous: a member claiming more than the bound, a total beyond
// it, a gzip bomb, and too many members are refused, before or while the
// bytes come.
func TestTarEnormous(t *testing.T) {
	old := tarLimits
	defer func() { tarLimits = old }()
	t.Run("header", func(t *testing.T) {
		// 1 TiB claimed, with the default bounds: refused before reading.
		c := newUnpackCase(t, makeTar(t, false, member{name: "huge", size: 1 << 40}))
		_, err := c.unpack(t)
		wantRefused(t, err, "more than nsup unpacks")
		if _, err := os.Lstat(filepath.Join(c.tree, "huge")); err == nil {
			t.Error("huge was created")
		}
	})
	tarLimits.File, tarLimits.Total, tarLimits.Entries = 1<<20, 1<<20+1<<19, 10
	t.Run("total", func(t *testing.T) {
		big := strings.Repeat("x", 800<<10)
		c := newUnpackCase(t, makeTar(t, true, member{name: "a", body: big}, member{name: "b", body: big}))
		_, err := c.unpack(t)
		wantRefused(t, err, "in all")
	})
	t.Run("gzip-bomb", func(t *testing.T) {
		c := newUnpackCase(t, makeTar(t, true, member{name: "zeros", body: string(make([]byte, 32<<20))}))
		if fi, _ := os.Stat(c.archive); fi.Size() > 1<<20 {
			t.Fatalf("the bomb is %d bytes", fi.Size())
		}
		_, err := c.unpack(t)
		wantRefused(t, err, "more than nsup unpacks")
	})
	t.Run("entries", func(t *testing.T) {
		var ms []member
		for i := 0; i < 11; i++ {
			ms = append(ms, member{name: "f" + strconv.Itoa(i)})
		}
		c := newUnpackCase(t, makeTar(t, false, ms...))
		_, err := c.unpack(t)
		wantRefused(t, err, "more than 10 members")
	})
	t.Run("implicit-folders", func(t *testing.T) {
		// One member, twelve names: the folders the archive does not
		// list count (a review: 2,040 of them a member, 25 bytes each
		// compressed, made 408,408 folders from a 5 KB archive).
		c := newUnpackCase(t, makeTar(t, false, member{name: "a/b/c/d/e/f/g/h/i/j/k/f"}))
		_, err := c.unpack(t)
		wantRefused(t, err, "more than 10 names in the tree")
		if got := treeList(t, c.tree); len(got) > 10 {
			t.Errorf("%d names made", len(got))
		}
	})
	tarLimits.Entries, tarLimits.Names = 1000, 200
	t.Run("name-bytes", func(t *testing.T) {
		deep := strings.Repeat("abcdefghi/", 10) // 100 bytes of names, 10 folders
		c := newUnpackCase(t, makeTar(t, false, member{name: deep + "f"}, member{name: deep + "g"}))
		_, err := c.unpack(t)
		wantRefused(t, err, "more than 200 bytes of names")
	})
}

// TestTarModes: setuid and setgid are dropped, the sticky bit and the
// permission bits kept, on files and folders; owners restored as root.
func TestTarModes(t *testing.T) {
	c := newUnpackCase(t, makeTar(t, false,
		member{name: "bin/su", body: "x", mode: 0o4755, uid: 1234, gid: 2345},
		member{name: "bin/wall", body: "x", mode: 0o2755},
		member{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
		member{name: "shared/", typ: tar.TypeDir, mode: 0o2775},
		member{name: "ro/", typ: tar.TypeDir, mode: 0o555},
		member{name: "ro/inside", body: "written before ro/ became read-only"}))
	if _, err := c.unpack(t); err != nil {
		t.Fatal(err)
	}
	want := []string{"bin drwxr-xr-x", "bin/su -rwxr-xr-x", "bin/wall -rwxr-xr-x", "ro dr-xr-xr-x",
		"ro/inside -rw-r--r--", "shared drwxrwxr-x", "tmp dtrwxrwxrwx"}
	if got := treeList(t, c.tree); !slices.Equal(got, want) {
		t.Errorf("tree %q, want %q", got, want)
	}
	if os.Geteuid() == 0 {
		var st syscall.Stat_t
		syscall.Stat(filepath.Join(c.tree, "bin", "su"), &st)
		if st.Uid != 1234 || st.Gid != 2345 {
			t.Errorf("bin/su owned by %d:%d, want 1234:2345", st.Uid, st.Gid)
		}
	}
	removeTree(c.tree)
}

// TestTarReplace: a later member of the same name replaces an earlier one,
// except a folder; a member below a file is refused.
func TestTarReplace(t *testing.T) {
	c := newUnpackCase(t, makeTar(t, false, member{name: "f", body: "one"}, member{name: "f", body: "two"}))
	if _, err := c.unpack(t); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(c.tree, "f")); string(b) != "two" {
		t.Errorf("f: %q", b)
	}
	c = newUnpackCase(t, makeTar(t, false, member{name: "d/", typ: tar.TypeDir, mode: 0o755}, member{name: "d/x", body: "x"}, member{name: "d", body: "file"}))
	_, err := c.unpack(t)
	wantRefused(t, err, "replaces a folder")
	c = newUnpackCase(t, makeTar(t, false, member{name: "f", body: "x"}, member{name: "f/x", body: "x"}))
	_, err = c.unpack(t)
	wantRefused(t, err, "not a folder")
}

// TestTarDigest: an archive that is not the plan's is refused, and other
// compressions by name.
func TestTarDigest(t *testing.T) {
	c := newUnpackCase(t, makeTar(t, true, member{name: "f", body: "x"}))
	_, _, err := extractTar(context.Background(), c.archive, "sha256:"+strings.Repeat("0", 64), c.tree, nil)
	if !errors.Is(err, errRootfsChanged) {
		t.Errorf("error %v, want rootfs input changed", err)
	}
	os.WriteFile(c.archive, []byte("\xfd7zXZ\x00rest"), 0o644)
	c.hostBefore = snapshot(t, c.dir, c.tree)
	_, err = c.unpack(t)
	wantRefused(t, err, "compressed with xz")
}

// TestTarListingMatches: planner.TarFiles lists exactly what is unpacked.
func TestTarListingMatches(t *testing.T) {
	c := newUnpackCase(t, makeTar(t, true,
		member{name: "./", typ: tar.TypeDir, mode: 0o755},
		member{name: "./bin/busybox", body: "#!bb\n", mode: 0o755},
		member{name: "./bin/sh", typ: tar.TypeSymlink, link: "busybox"},
		member{name: "./bin/ash", typ: tar.TypeLink, link: "./bin/busybox"},
		member{name: "./dev/null", typ: tar.TypeChar},
		member{name: "./etc/passwd", body: "root:x:0:0::/root:/bin/sh\n"},
		member{name: "./tmp/", typ: tar.TypeDir, mode: 0o1777}))
	if _, err := c.unpack(t); err != nil {
		t.Fatal(err)
	}
	files, d, err := planner.TarFiles(c.archive)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(c.archive)
	if sum := sha256.Sum256(data); d != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Errorf("digest %s", d)
	}
	var listed []string
	for _, f := range files {
		listed = append(listed, f.Path+" "+f.Type)
	}
	var got []string
	for _, l := range treeList(t, c.tree) {
		p, mode, _ := strings.Cut(l, " ")
		typ := "file"
		switch mode[0] {
		case 'd':
			typ = "dir"
		case 'L':
			typ = "symlink"
		}
		got = append(got, "/"+p+" "+typ)
	}
	if !slices.Equal(listed, got) {
		t.Errorf("TarFiles %q, unpacked %q", listed, got)
	}
}

// TestTarDuplicateFolder: a folder listed twice gets the later member's
// mode, as planner.TarFiles (and so the plan and the lock) say.
func TestTarDuplicateFolder(t *testing.T) {
	c := newUnpackCase(t, makeTar(t, false,
		member{name: "./", typ: tar.TypeDir, mode: 0o700},
		member{name: "d/", typ: tar.TypeDir, mode: 0o700},
		member{name: "d/x", body: "x"},
		member{name: "d/", typ: tar.TypeDir, mode: 0o755},
		member{name: "./", typ: tar.TypeDir, mode: 0o755}))
	if _, err := c.unpack(t); err != nil {
		t.Fatal(err)
	}
	files, _, err := planner.TarFiles(c.archive)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Path == "/d" && f.Mode != 0o755 {
			t.Fatalf("TarFiles: /d mode %04o", f.Mode)
		}
	}
	for _, p := range []string{"d", "."} {
		fi, err := os.Lstat(filepath.Join(c.tree, p))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o755 {
			t.Errorf("%s: mode %04o unpacked, the later member says 0755", p, got)
		}
	}
}

// TestTarHardlinkToItself: a hard link naming itself (planner.TarFiles
// accepts it: the file stays as it is) does not remove the file.
func TestTarHardlinkToItself(t *testing.T) {
	c := newUnpackCase(t, makeTar(t, false,
		member{name: "f", body: "x"},
		member{name: "./f", typ: tar.TypeLink, link: "f"}))
	if _, _, err := planner.TarFiles(c.archive); err != nil {
		t.Fatalf("TarFiles: %v", err)
	}
	if _, err := c.unpack(t); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(c.tree, "f")); err != nil || string(b) != "x" {
		t.Errorf("f: %q, %v", b, err)
	}
}

// TestTarImplicitFolderUmask: a folder the archive does not list (made for
// a member below it) is 0755 whatever nsup's umask, as planner.TarFiles
// says.
func TestTarImplicitFolderUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	c := newUnpackCase(t, makeTar(t, false, member{name: "a/b/f", body: "x"}))
	if _, err := c.unpack(t); err != nil {
		t.Fatal(err)
	}
	files, _, err := planner.TarFiles(c.archive)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Type != "dir" {
			continue
		}
		fi, err := os.Lstat(filepath.Join(c.tree, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		if got := uint32(fi.Mode().Perm()); got != f.Mode {
			t.Errorf("%s: mode %04o unpacked, TarFiles says %04o", f.Path, got, f.Mode)
		}
	}
}

// TestTarNameLineBreak: a refusal quotes the archive's names: a name
// with a line break ("a\nnsup: ...") made the error print a line that
// reads as nsup's own.
func TestTarNameLineBreak(t *testing.T) {
	c := newUnpackCase(t, makeTar(t, false,
		member{name: "a\nnsup: all good", typ: tar.TypeSymlink, link: "x"},
		member{name: "a\nnsup: all good/f", body: "x"}))
	_, err := c.unpack(t)
	wantRefused(t, err, "passes through a symlink")
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("the error holds a line break of the archive's: %q", err)
	}
}
