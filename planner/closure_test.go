package planner

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsup/nsup/internal/regfile"
	"golang.org/x/sys/unix"
)

// closureNeedLdd skips when the host has no ldd (not glibc), unless CI=true.
func closureNeedLdd(t *testing.T) string {
	t.Helper()
	ldd, err := exec.LookPath("ldd")
	if err != nil {
		skipOrFail(t, "ldd: "+err.Error())
	}
	return ldd
}

// skipOrFail skips a test this host cannot run, unless CI=true, where a
// skip would go unnoticed: it fails then.
func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: %s", why)
	}
	t.Skip(why)
}

// lddPaths runs ldd on bin (test code only: the product never executes
// anything) and returns the paths it reports, interpreter included.
func lddPaths(t *testing.T, ldd, bin string) []string {
	t.Helper()
	cmd := exec.Command(ldd, bin)
	cmd.Env = []string{"PATH=/usr/bin:/bin"} // no LD_LIBRARY_PATH, as in an environment
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ldd %s: %v", bin, err)
	}
	var paths []string
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.Contains(line, "statically linked") {
			continue
		}
		if name, rest, ok := strings.Cut(line, "=>"); ok {
			rest = strings.TrimSpace(rest)
			if strings.HasPrefix(rest, "not found") {
				t.Fatalf("ldd %s: %s not found", bin, strings.TrimSpace(name))
			}
			if p, _, _ := strings.Cut(rest, " ("); strings.HasPrefix(p, "/") {
				paths = append(paths, p)
			}
			continue
		}
		// "/lib64/ld-linux-x86-64.so.2 (0x...)"; "linux-vdso.so.1 (0x...)" is
		// the kernel's and not a file.
		if p, _, _ := strings.Cut(line, " ("); strings.HasPrefix(p, "/") {
			paths = append(paths, p)
		}
	}
	return paths
}

// treeLookup resolves p inside the tree made of files alone, following the
// tree's symlinks, as the environment will see it.
func treeLookup(files map[string]File, p string) (File, bool) {
	rest := closurePathParts(p)
	cur := "/"
	var f File
	for links := 0; len(rest) > 0; {
		name := rest[0]
		rest = rest[1:]
		if name == ".." {
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, name)
		var ok bool
		if f, ok = files[next]; !ok {
			return File{}, false
		}
		if f.Type == "symlink" {
			if links++; links > maxSymlinks {
				return File{}, false
			}
			if filepath.IsAbs(f.Link) {
				cur = "/"
			}
			rest = append(closurePathParts(f.Link), rest...)
			continue
		}
		cur = next
	}
	return f, true
}

func closureByPath(files []File) map[string]File {
	m := map[string]File{}
	for _, f := range files {
		m[f.Path] = f
	}
	return m
}

func isELF(t *testing.T, p string) bool {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [4]byte
	n, _ := f.Read(b[:])
	return n == 4 && string(b[:]) == elf.ELFMAG
}

func evalSymlinks(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestClosureMatchesLdd checks the resolver against the host's own loader:
// every path ldd prints is in the tree, and every ELF file of the tree is
// the program or something ldd printed.
func TestClosureMatchesLdd(t *testing.T) {
	ldd := closureNeedLdd(t)
	var bins []string
	for _, b := range []string{"/bin/bash", "/usr/bin/python3", "/usr/bin/git", "/usr/bin/ssh", "/bin/ls"} {
		if _, err := os.Stat(b); err == nil {
			bins = append(bins, b)
		}
	}
	if len(bins) < 3 {
		t.Fatalf("only %d of the reference binaries exist (%v); need 3", len(bins), bins)
	}
	for _, bin := range bins {
		t.Run(filepath.Base(bin), func(t *testing.T) {
			files, err := Closure([]string{bin})
			if err != nil {
				t.Fatal(err)
			}
			tree := closureByPath(files)
			reported := lddPaths(t, ldd, bin)
			want := map[string]bool{evalSymlinks(t, bin): true}
			for _, p := range append([]string{bin}, reported...) {
				real := evalSymlinks(t, p)
				want[real] = true
				f, ok := treeLookup(tree, p)
				if !ok {
					t.Errorf("%s: not reachable in the tree", p)
					continue
				}
				if f.Type != "file" || f.Path != real {
					t.Errorf("%s: resolves in the tree to %+v, on the host to %s", p, f, real)
				}
			}
			for _, f := range files {
				if f.Type == "file" && isELF(t, f.Source) && !want[evalSymlinks(t, f.Path)] {
					t.Errorf("%s: in the closure, but ldd did not report it", f.Path)
				}
			}
			t.Logf("%s: %d files, ldd: %v", bin, len(files), reported)
		})
	}
}

// TestClosureTree checks the shape of the list: sorted, one entry per
// path, every parent folder present, modes as on the host without setuid
// and setgid, digests and sizes on files.
func TestClosureTree(t *testing.T) {
	bins := []string{"/bin/sh"}
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		bins = append(bins, "/usr/bin/python3")
	}
	files, err := Closure(bins)
	if err != nil {
		t.Fatal(err)
	}
	tree := closureByPath(files)
	for i, f := range files {
		if i > 0 && files[i-1].Path >= f.Path {
			t.Errorf("not sorted or duplicated: %s then %s", files[i-1].Path, f.Path)
		}
		if d := filepath.Dir(f.Path); d != "/" {
			if p, ok := tree[d]; !ok || p.Type != "dir" {
				t.Errorf("%s: parent %s is %+v", f.Path, d, p)
			}
		}
		fi, err := os.Lstat(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		if m := closureMode(fi.Mode()); f.Mode != m {
			t.Errorf("%s: mode %04o, host %04o", f.Path, f.Mode, m)
		}
		switch f.Type {
		case "symlink":
			if link, _ := os.Readlink(f.Path); f.Link != link || fi.Mode()&fs.ModeSymlink == 0 {
				t.Errorf("%s: link %q, host %q", f.Path, f.Link, link)
			}
		case "file":
			if f.Source != f.Path || f.Size != fi.Size() || !strings.HasPrefix(f.Digest, "sha256:") || len(f.Digest) != 71 {
				t.Errorf("%s: %+v", f.Path, f)
			}
		case "dir":
			if !fi.IsDir() {
				t.Errorf("%s: listed as dir", f.Path)
			}
		default:
			t.Errorf("%s: type %q", f.Path, f.Type)
		}
	}
	// A folder that is a symlink on the host (/bin -> usr/bin on merged-/usr
	// systems) is one in the tree too.
	for _, d := range []string{"/bin", "/lib", "/lib64"} {
		if link, err := os.Readlink(d); err == nil {
			if f := tree[d]; f.Type != "symlink" || f.Link != link {
				if _, used := treeLookup(tree, d); used {
					t.Errorf("%s: %+v, host: symlink to %s", d, f, link)
				}
			}
		}
	}
	if link, err := os.Readlink("/usr/bin/python3"); err == nil && slices.Contains(bins, "/usr/bin/python3") {
		if f := tree["/usr/bin/python3"]; f.Type != "symlink" || f.Link != link {
			t.Errorf("/usr/bin/python3: %+v, host: symlink to %s", f, link)
		}
	}
}

func TestClosureDropsSetuid(t *testing.T) {
	var bin string
	for _, b := range []string{"/usr/bin/passwd", "/bin/su", "/usr/bin/su", "/usr/bin/mount", "/usr/bin/sudo"} {
		if fi, err := os.Stat(b); err == nil && fi.Mode()&fs.ModeSetuid != 0 {
			bin = b
			break
		}
	}
	if bin == "" {
		// No setuid binary on this host: make one (a copy of /bin/sh is an
		// ELF with libraries, and anyone may set setuid on their own file).
		bin = filepath.Join(t.TempDir(), "suid-sh")
		data, err := os.ReadFile(evalSymlinks(t, "/bin/sh"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, data, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(bin, 0o755|fs.ModeSetuid); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(bin); err != nil || fi.Mode()&fs.ModeSetuid == 0 {
			t.Fatalf("could not make a setuid file: %v %v", fi, err)
		}
	}
	files, err := Closure([]string{bin})
	if err != nil {
		t.Fatal(err)
	}
	real := evalSymlinks(t, bin)
	f, ok := closureByPath(files)[real]
	if !ok {
		t.Fatalf("%s not in the closure", real)
	}
	fi, _ := os.Stat(real)
	if f.Mode&0o6000 != 0 || f.Mode != uint32(fi.Mode().Perm()) {
		t.Errorf("%s: mode %04o, host %v", real, f.Mode, fi.Mode())
	}
}

func TestClosureDirectory(t *testing.T) {
	tmp := t.TempDir()
	d := filepath.Join(tmp, "d")
	for _, dir := range []string{d, filepath.Join(d, "sub", "deeper")} {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string, mode os.FileMode) {
		if err := os.WriteFile(p, []byte(s), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
	}
	write(filepath.Join(d, "a.txt"), "hello\n", 0o644)
	write(filepath.Join(d, "sub", "deeper", "nested.txt"), "nested\n", 0o600)
	mustSymlink(t, "a.txt", filepath.Join(d, "link"))
	mustSymlink(t, "/nonexistent/target", filepath.Join(d, "dangling")) // kept, not followed
	mustSymlink(t, "d", filepath.Join(tmp, "l"))
	// An ELF program in the folder brings its libraries.
	sh := evalSymlinks(t, "/bin/sh")
	b, err := os.ReadFile(sh)
	if err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(d, "sub", "sh"), string(b), 0o755)

	files, err := Closure([]string{filepath.Join(tmp, "l")})
	if err != nil {
		t.Fatal(err)
	}
	tree := closureByPath(files)
	check := func(p, typ string, mode uint32, link string) {
		t.Helper()
		f, ok := tree[p]
		if !ok {
			t.Errorf("%s: missing", p)
			return
		}
		if f.Type != typ || f.Mode != mode || f.Link != link {
			t.Errorf("%s: %+v, want %s %04o %q", p, f, typ, mode, link)
		}
	}
	check(filepath.Join(tmp, "l"), "symlink", 0o777, "d")
	check(d, "dir", 0o750, "")
	check(filepath.Join(d, "a.txt"), "file", 0o644, "")
	check(filepath.Join(d, "link"), "symlink", 0o777, "a.txt")
	check(filepath.Join(d, "dangling"), "symlink", 0o777, "/nonexistent/target")
	check(filepath.Join(d, "sub", "deeper"), "dir", 0o750, "")
	check(filepath.Join(d, "sub", "deeper", "nested.txt"), "file", 0o600, "")
	// sha256("hello\n")
	if got := tree[filepath.Join(d, "a.txt")].Digest; got != "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03" {
		t.Errorf("a.txt digest %s", got)
	}
	// Parent folders of the temporary folder are there, with the host's
	// modes (the sticky bit of /tmp included).
	for p := tmp; p != "/"; p = filepath.Dir(p) {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if f, ok := tree[p]; !ok || f.Mode != closureMode(fi.Mode()) {
			t.Errorf("%s: %+v, host %v", p, f, fi.Mode())
		}
	}
	libc := false
	for _, f := range files {
		libc = libc || strings.HasPrefix(filepath.Base(f.Path), "libc.so")
	}
	if !libc {
		t.Errorf("the ELF file in the folder did not bring libc")
	}
}

func mustSymlink(t *testing.T, target, p string) {
	t.Helper()
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

func TestClosureErrors(t *testing.T) {
	tmp := t.TempDir()
	mustSymlink(t, "loop2", filepath.Join(tmp, "loop1"))
	mustSymlink(t, "loop1", filepath.Join(tmp, "loop2"))
	for _, tc := range []struct {
		path string
		want string
		is   error
	}{
		{"/nonexistent/nsup-closure-test", "/nonexistent", fs.ErrNotExist},
		{"relative/path", "not an absolute path", nil},
		{"/dev/null", "character device", nil},
		{filepath.Join(tmp, "loop1"), "too many levels of symbolic links", nil},
		{"/etc/passwd/x", "not a directory", nil},
	} {
		_, err := Closure([]string{"/bin/sh", tc.path})
		if err == nil {
			t.Errorf("%s: no error", tc.path)
			continue
		}
		if !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not name the path and %q", tc.path, err, tc.want)
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%s: %v is not %v", tc.path, err, tc.is)
		}
	}
}

func TestClosureDeterministic(t *testing.T) {
	paths := []string{"/bin/sh", "/bin/ls", "/usr/bin/env"}
	a, err := Closure(paths)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(paths)
	b, err := Closure(paths)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("two calls differ")
	}
	if TreeDigest(a) != TreeDigest(b) {
		t.Errorf("tree digests differ")
	}
}

func TestClosureTreeDigest(t *testing.T) {
	files := []File{
		{Path: "/bin", Type: "symlink", Mode: 0o777, Link: "usr/bin"},
		{Path: "/usr", Type: "dir", Mode: 0o755},
		{Path: "/usr/bin", Type: "dir", Mode: 0o755},
		{Path: "/usr/bin/x", Type: "file", Mode: 0o755, Source: "/usr/bin/x", Size: 1, Digest: "sha256:aa"},
	}
	d := TreeDigest(files)
	if !strings.HasPrefix(d, "sha256:") || len(d) != 71 {
		t.Fatalf("digest %q", d)
	}
	shuffled := slices.Clone(files)
	slices.Reverse(shuffled)
	if TreeDigest(shuffled) != d {
		t.Errorf("order of the list changes the digest")
	}
	for name, change := range map[string]func(fs []File){
		"digest": func(fs []File) { fs[3].Digest = "sha256:ab" },
		"mode":   func(fs []File) { fs[3].Mode = 0o700 },
		"link":   func(fs []File) { fs[0].Link = "usr/sbin" },
		"type":   func(fs []File) { fs[2].Type = "symlink" },
		"path":   func(fs []File) { fs[3].Path = "/usr/bin/y" },
	} {
		c := slices.Clone(files)
		change(c)
		if TreeDigest(c) == d {
			t.Errorf("changing the %s keeps the digest", name)
		}
	}
}

// testELF describes a minimal ELF64 little-endian shared object: a
// PT_LOAD over the whole file and a PT_DYNAMIC, no sections.
type testELF struct {
	machine                elf.Machine
	needed                 []string
	rpath, runpath, soname string
	hasRpath, hasRunpath   bool
}

func writeTestELF(t *testing.T, p string, e testELF) {
	t.Helper()
	if e.machine == 0 {
		e.machine = elf.EM_X86_64
	}
	strtab := []byte{0}
	str := func(s string) uint64 {
		off := uint64(len(strtab))
		strtab = append(append(strtab, s...), 0)
		return off
	}
	var dyn [][2]uint64
	for _, n := range e.needed {
		dyn = append(dyn, [2]uint64{uint64(elf.DT_NEEDED), str(n)})
	}
	if e.hasRpath {
		dyn = append(dyn, [2]uint64{uint64(elf.DT_RPATH), str(e.rpath)})
	}
	if e.hasRunpath {
		dyn = append(dyn, [2]uint64{uint64(elf.DT_RUNPATH), str(e.runpath)})
	}
	if e.soname != "" {
		dyn = append(dyn, [2]uint64{uint64(elf.DT_SONAME), str(e.soname)})
	}
	const strOff = 64 + 2*56
	// A non-zero load address, so that addresses and offsets differ.
	const vaddr = 0x10000
	dyn = append(dyn, [2]uint64{uint64(elf.DT_STRTAB), vaddr + strOff}, [2]uint64{uint64(elf.DT_STRSZ), uint64(len(strtab))}, [2]uint64{})
	dynOff := (strOff + len(strtab) + 7) &^ 7
	buf := make([]byte, dynOff+16*len(dyn))
	le := binary.LittleEndian
	copy(buf, elf.ELFMAG)
	buf[elf.EI_CLASS], buf[elf.EI_DATA], buf[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), 1
	le.PutUint16(buf[16:], uint16(elf.ET_DYN))
	le.PutUint16(buf[18:], uint16(e.machine))
	le.PutUint32(buf[20:], 1)
	le.PutUint64(buf[32:], 64) // e_phoff
	le.PutUint16(buf[52:], 64) // e_ehsize
	le.PutUint16(buf[54:], 56) // e_phentsize
	le.PutUint16(buf[56:], 2)  // e_phnum
	le.PutUint16(buf[58:], 64) // e_shentsize
	ph := func(i int, typ elf.ProgType, off, size uint64) {
		h := buf[64+56*i:]
		le.PutUint32(h[0:], uint32(typ))
		le.PutUint32(h[4:], uint32(elf.PF_R))
		le.PutUint64(h[8:], off)
		le.PutUint64(h[16:], vaddr+off)
		le.PutUint64(h[24:], vaddr+off)
		le.PutUint64(h[32:], size)
		le.PutUint64(h[40:], size)
		le.PutUint64(h[48:], 8)
	}
	ph(0, elf.PT_LOAD, 0, uint64(len(buf)))
	ph(1, elf.PT_DYNAMIC, uint64(dynOff), uint64(16*len(dyn)))
	copy(buf[strOff:], strtab)
	for i, d := range dyn {
		le.PutUint64(buf[dynOff+16*i:], d[0])
		le.PutUint64(buf[dynOff+16*i+8:], d[1])
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, buf, 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestClosureSearchOrder checks the loader rules on generated ELF files
// whose library names exist nowhere else (so ld.so.cache and the default
// folders cannot answer).
func TestClosureSearchOrder(t *testing.T) {
	tmp := evalSymlinks(t, t.TempDir())
	p := func(s string) string { return filepath.Join(tmp, s) }
	const a, b, x, y = "libnsuptest-a.so", "libnsuptest-b.so", "libnsuptest-x.so.1", "libnsuptest-y.so"
	// l1 holds a wrong-machine libb first; l2 the right one.
	writeTestELF(t, p("l1/"+a), testELF{needed: []string{b}, soname: a})
	writeTestELF(t, p("l1/"+b), testELF{machine: elf.EM_AARCH64})
	writeTestELF(t, p("l2/"+b), testELF{})
	writeTestELF(t, p("l5/"+a), testELF{needed: []string{b}, hasRunpath: true, runpath: "$ORIGIN"})
	// l3/x is loaded first; l4/y needs x again and has its own copy.
	writeTestELF(t, p("l3/"+x), testELF{soname: x})
	writeTestELF(t, p("l4/"+x), testELF{soname: x})
	writeTestELF(t, p("l4/"+y), testELF{needed: []string{x}, hasRunpath: true, runpath: "$ORIGIN"})

	for _, tc := range []struct {
		name    string
		prog    testELF
		want    []string // libraries in the closure
		notWant []string
		err     string
	}{
		{
			name: "rpath inherited by a library without runpath, wrong machine skipped",
			prog: testELF{needed: []string{a}, hasRpath: true, rpath: "$ORIGIN/../l1:${ORIGIN}/../l2"},
			want: []string{"l1/" + a, "l2/" + b}, notWant: []string{"l1/" + b},
		},
		{
			name: "runpath is not inherited",
			prog: testELF{needed: []string{a}, hasRunpath: true, runpath: "$ORIGIN/../l1:$ORIGIN/../l2"},
			err:  "library " + b + " needed by " + tmp + "/bin/../l1/" + a + ": not found",
		},
		{
			name: "a library with runpath ignores the rpath chain",
			prog: testELF{needed: []string{a}, hasRpath: true, rpath: "$ORIGIN/../l5:$ORIGIN/../l2"},
			err:  "library " + b + " needed by " + tmp + "/bin/../l5/" + a + ": not found",
		},
		{
			name: "rpath ignored when runpath is set",
			prog: testELF{needed: []string{a}, hasRpath: true, rpath: "$ORIGIN/../l1", hasRunpath: true, runpath: "$ORIGIN/../none"},
			err:  "library " + a + " needed by",
		},
		{
			name: "a loaded soname is not searched again",
			prog: testELF{needed: []string{x, y}, hasRpath: true, rpath: "$ORIGIN/../l3:$ORIGIN/../l4"},
			want: []string{"l3/" + x, "l4/" + y}, notWant: []string{"l4/" + x},
		},
		{
			name: "a needed path",
			prog: testELF{needed: []string{"$ORIGIN/../l2/" + b}},
			want: []string{"l2/" + b},
		},
		{
			name: "relative rpath entries are skipped",
			prog: testELF{needed: []string{b}, hasRpath: true, rpath: "l2::../l2"},
			err:  "library " + b,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prog := p("bin/" + strings.ReplaceAll(tc.name, " ", "-"))
			writeTestELF(t, prog, tc.prog)
			files, err := Closure([]string{prog})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tree := closureByPath(files)
			for _, w := range tc.want {
				if _, ok := tree[p(w)]; !ok {
					t.Errorf("%s: missing", w)
				}
			}
			for _, w := range tc.notWant {
				if _, ok := tree[p(w)]; ok {
					t.Errorf("%s: should not be there", w)
				}
			}
		})
	}
}

func TestClosureExpandDST(t *testing.T) {
	c := &closureBuilder{}
	o := &loadedObject{origin: "/opt/app/lib", info: &elfObjectInfo{class: elf.ELFCLASS64, machine: elf.EM_X86_64}}
	lib := closureLIB(o.info)
	for in, want := range map[string]string{
		"$ORIGIN/../lib":         "/opt/app/lib/../lib",
		"${ORIGIN}/x":            "/opt/app/lib/x",
		"/usr/$LIB/a":            "/usr/" + lib + "/a",
		"/p/${PLATFORM}/q":       "/p/x86_64/q",
		"$ORIGINAL/x":            "$ORIGINAL/x", // not a token
		"/plain":                 "/plain",
		"$ORIGIN$ORIGIN":         "/opt/app/lib/opt/app/lib",
		"${ORIGIN}:${PLATFORM}x": "/opt/app/lib:x86_64x",
	} {
		if got, ok := c.expandDST(in, o); !ok || got != want {
			t.Errorf("%s: %q %v, want %q", in, got, ok, want)
		}
	}
	if runtime.GOARCH == "amd64" && lib != "lib64" && lib != "lib/x86_64-linux-gnu" {
		t.Errorf("$LIB = %q", lib)
	}
	unknown := &loadedObject{origin: "/x", info: &elfObjectInfo{class: elf.ELFCLASS64, machine: elf.EM_MIPS}}
	if got, ok := c.expandDST("/a/$PLATFORM", unknown); ok {
		t.Errorf("$PLATFORM for an unknown machine expanded to %q", got)
	}
}

// buildLdsoCache writes a cache in the new format, preceded by the old one
// when compat is set, as ldconfig -c compat did.
func buildLdsoCache(compat bool, entries []ldsoCacheEntry) []byte {
	le := binary.LittleEndian
	// New part: header, entries, then strings; offsets from its start.
	newLen := ldsoCacheNewHeader + ldsoCacheNewEntry*len(entries)
	var strs []byte
	offs := map[string]uint32{}
	str := func(s string) uint32 {
		if o, ok := offs[s]; ok {
			return o
		}
		o := uint32(newLen + len(strs))
		strs = append(append(strs, s...), 0)
		offs[s] = o
		return o
	}
	nw := make([]byte, newLen)
	copy(nw, ldsoCacheNewMagic)
	le.PutUint32(nw[20:], uint32(len(entries)))
	nw[28] = 2 // little endian
	for i, e := range entries {
		h := nw[ldsoCacheNewHeader+ldsoCacheNewEntry*i:]
		le.PutUint32(h[0:], e.flags)
		le.PutUint32(h[4:], str(e.key))
		le.PutUint32(h[8:], str(e.value))
		le.PutUint64(h[16:], e.hwcap)
	}
	le.PutUint32(nw[24:], uint32(len(strs)))
	nw = append(nw, strs...)
	if !compat {
		return nw
	}
	// Old part: header and entries (their strings are not needed here),
	// padded to 8 bytes.
	old := make([]byte, ldsoCacheOldHeader+ldsoCacheOldEntry*len(entries))
	copy(old, ldsoCacheOldMagic)
	binary.NativeEndian.PutUint32(old[12:], uint32(len(entries)))
	for len(old)%8 != 0 {
		old = append(old, 0)
	}
	return append(old, nw...)
}

func TestClosureLdsoCache(t *testing.T) {
	entries := []ldsoCacheEntry{
		{flags: 0x0303, key: "libfoo.so.1", value: "/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libfoo.so.1", hwcap: 1<<62 | 1},
		{flags: 0x0303, key: "libfoo.so.1", value: "/lib/x86_64-linux-gnu/libfoo.so.1"},
		{flags: 0x0003, key: "libfoo.so.1", value: "/lib/i386-linux-gnu/libfoo.so.1"},
		{flags: 0x0a03, key: "libfoo.so.1", value: "/lib/aarch64-linux-gnu/libfoo.so.1"},
		{flags: 0x0303, key: "libbar.so", value: "/usr/lib/x86_64-linux-gnu/libbar.so"},
	}
	for _, compat := range []bool{false, true} {
		c, err := parseLdsoCache(buildLdsoCache(compat, entries))
		if err != nil {
			t.Fatalf("compat=%v: %v", compat, err)
		}
		for _, tc := range []struct {
			name    string
			class   elf.Class
			machine elf.Machine
			want    []string
		}{
			{"libfoo.so.1", elf.ELFCLASS64, elf.EM_X86_64, []string{"/lib/x86_64-linux-gnu/libfoo.so.1"}},
			{"libfoo.so.1", elf.ELFCLASS32, elf.EM_386, []string{"/lib/i386-linux-gnu/libfoo.so.1"}},
			{"libfoo.so.1", elf.ELFCLASS64, elf.EM_AARCH64, []string{"/lib/aarch64-linux-gnu/libfoo.so.1"}},
			{"libbar.so", elf.ELFCLASS64, elf.EM_X86_64, []string{"/usr/lib/x86_64-linux-gnu/libbar.so"}},
			{"libbar.so", elf.ELFCLASS32, elf.EM_386, nil},
			{"libnone.so", elf.ELFCLASS64, elf.EM_X86_64, nil},
		} {
			if got := c.lookup(tc.name, tc.class, tc.machine); !slices.Equal(got, tc.want) {
				t.Errorf("compat=%v: %s for %v %v: %q, want %q", compat, tc.name, tc.class, tc.machine, got, tc.want)
			}
		}
	}
	for _, bad := range [][]byte{nil, []byte("garbage"), []byte(ldsoCacheNewMagic), buildLdsoCache(false, entries)[:60]} {
		if _, err := parseLdsoCache(bad); err == nil {
			t.Errorf("%q: parsed", bad)
		}
	}

	// The host's own cache, if it has one.
	b, err := os.ReadFile("/etc/ld.so.cache")
	if err != nil {
		skipOrFail(t, "host cache: "+err.Error())
	}
	c, err := parseLdsoCache(b)
	if err != nil {
		t.Fatalf("/etc/ld.so.cache: %v", err)
	}
	if runtime.GOARCH == "amd64" && bytes.Contains(b, []byte("libc.so.6")) {
		got := c.lookup("libc.so.6", elf.ELFCLASS64, elf.EM_X86_64)
		if len(got) == 0 {
			t.Fatalf("libc.so.6 not found in /etc/ld.so.cache")
		}
		if _, err := os.Stat(got[0]); err != nil {
			t.Errorf("libc.so.6: %v", err)
		}
	}
}

func BenchmarkClosureBash(b *testing.B) {
	if _, err := os.Stat("/bin/bash"); err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		if _, err := Closure([]string{"/bin/bash"}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestClosureScripts: a script brings its #! interpreter as an ELF
// program does its loader, /usr/bin/env the program it runs (found
// through the default PATH), an interpreter that is a script its own;
// what cannot be followed is an error that says why.
func TestClosureScripts(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	real := func(p string) string {
		r, err := filepath.EvalSymlinks(p)
		if err != nil {
			skipOrFail(t, fmt.Sprintf("%s: %v", p, err))
		}
		return r
	}
	sh, env := real("/bin/sh"), real("/usr/bin/env")
	lister := write("lister", "#!/bin/sh -e\nls\n")
	inner := write("inner", "#!"+lister+"\n")
	for _, tc := range []struct {
		name string
		path string
		want []string
	}{
		{"absolute", lister, []string{lister, sh}},
		{"env", write("viaenv", "#!/usr/bin/env sh\necho\n"), []string{env, sh}},
		{"env -S", write("split", "#!/usr/bin/env -S LC_ALL=C sh -e\necho\n"), []string{env, sh}},
		{"a script's script", inner, []string{inner, lister, sh}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files, err := Closure([]string{tc.path})
			if err != nil {
				t.Fatal(err)
			}
			have := map[string]bool{}
			for _, f := range files {
				have[f.Path] = true
			}
			for _, w := range tc.want {
				if !have[w] {
					t.Errorf("%s not in the closure", w)
				}
			}
			// And the interpreter's own loader, as for an ELF program.
			if info, err := readELFObject(sh); err == nil && info != nil && info.interp != "" && !have[real(info.interp)] {
				t.Errorf("the interpreter's loader %s is not in the closure", info.interp)
			}
		})
	}
	loop := filepath.Join(dir, "loop")
	write("loop", "#!"+loop+"\n")
	for _, tc := range []struct{ name, text, want string }{
		{"relative", "#!sh\n", "not an absolute path"},
		{"missing", "#!/nonexistent/interp\n", "no such file"},
		{"env unknown", "#!/usr/bin/env nsup-no-such-program\n", "in no folder of the default PATH"},
		{"env option", "#!/usr/bin/env -u HOME sh\n", "which program env runs after -u"},
		{"env path", "#!/usr/bin/env ./sh\n", "give it by name"},
		{"empty", "#!  \n", "names no interpreter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Closure([]string{write(strings.ReplaceAll(tc.name, " ", "-"), tc.text)})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	// The interpreter is the script's word, whoever wrote the script:
	// only what the kernel would run is taken, and nothing of a refused
	// one is listed (#!/etc/shadow would copy a file only root may read
	// into the tree, for the environment to read).
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("only root\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	plain := write("plain", "no magic\n")
	cases := []struct{ name, interp, want string }{
		{"not executable", secret, "is not executable"},
		{"no magic", plain, "neither an ELF program nor a #! script"},
		{"a folder", dir, "not a file"},
	}
	if os.Geteuid() == 0 {
		// A program only root may read, named by a script: not copied.
		private := write("private", "#!/bin/sh\n")
		if err := os.Chmod(private, 0o700); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, struct{ name, interp, want string }{"root's own", private, "is not readable by all"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files, err := Closure([]string{write(strings.ReplaceAll(tc.name, " ", "-")+".sh", "#!"+tc.interp+"\n")})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
			for _, f := range files {
				if f.Path == tc.interp {
					t.Errorf("%s is in the closure", tc.interp)
				}
			}
		})
	}
	if _, err := Closure([]string{loop}); err == nil || !strings.Contains(err.Error(), "more than 4 #! interpreters") {
		t.Errorf("a script that is its own interpreter: %v", err)
	}
	// A file that is neither ELF nor a script is data, as before.
	if _, err := Closure([]string{write("data", "hello\n")}); err != nil {
		t.Errorf("plain data: %v", err)
	}
}

func TestEnvProgram(t *testing.T) {
	for arg, want := range map[string]string{
		"":                   "",
		"python3":            "python3",
		"-S python3 -u":      "python3",
		"-Spython3 -u":       "python3",
		"A=1 B=2 bash -e":    "bash",
		"-i PATH=/bin sh":    "sh",
		"--split-string=x y": "--split-string=x",
		"-u HOME sh":         "-u",
	} {
		if got := envProgram(arg); got != want {
			t.Errorf("envProgram(%q) = %q, want %q", arg, got, want)
		}
	}
}

// TestELFInterp: the program interpreter of a dynamically linked program
// (a host's /bin/ls, as distributions build it), none for a static one
// (busybox-static's, and this test binary, built cgo-free as nsup is);
// an error, not "static", for what is not ELF. The executor refuses to
// start nsup's init from a binary with one, or that it cannot read.
func TestELFInterp(t *testing.T) {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		skipOrFail(t, "needs busybox-static")
	}
	for _, p := range []string{"/proc/self/exe", bb} {
		if got, err := ELFInterp(p); got != "" || err != nil {
			t.Errorf("%s, static: %q, %v", p, got, err)
		}
	}
	ls, err := filepath.EvalSymlinks("/bin/ls")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ELFInterp(ls); err != nil || !strings.HasPrefix(got, "/") || !strings.Contains(got, "ld") {
		t.Errorf("%s: %q, %v, want its loader", ls, got, err)
	}
	for _, p := range []string{"/etc/passwd", "/nonexistent"} {
		if got, err := ELFInterp(p); err == nil {
			t.Errorf("%s: %q, no error", p, got)
		}
	}
}

// TestRootClosureLibraryNotReadable (a known limit of the seventh stop):
// an ELF file in a closure names its libraries, by an absolute DT_NEEDED
// or through its RPATH, and whoever wrote it may not read what nsup, as
// root, can: a library only root may read was copied into the tree for
// the environment. It is refused now, unless the spec names it itself.
func TestRootClosureLibraryNotReadable(t *testing.T) {
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root: the rule is root's")
	}
	tmp := evalSymlinks(t, t.TempDir())
	p := func(s string) string { return filepath.Join(tmp, s) }
	const name = "libnsuptest-secret.so"
	secret := p("secret/" + name)
	writeTestELF(t, secret, testELF{soname: name})
	if err := os.Chmod(secret, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		prog testELF
	}{
		{"absolute DT_NEEDED", testELF{needed: []string{secret}}},
		{"RPATH", testELF{needed: []string{name}, hasRpath: true, rpath: p("secret")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prog := p("bin/" + strings.ReplaceAll(tc.name, " ", "-"))
			writeTestELF(t, prog, tc.prog)
			files, err := Closure([]string{prog})
			if err == nil || !strings.Contains(err.Error(), "not readable by all") {
				t.Errorf("a library only root may read, needed by a closure's file: %v, want it refused", err)
			}
			for _, f := range files {
				if f.Path == secret {
					t.Errorf("%s is in the closure", secret)
				}
			}
			// Named by the spec itself, it is taken.
			files, err = Closure([]string{prog, secret})
			if err != nil {
				t.Fatalf("the library named too: %v", err)
			}
			if !slices.ContainsFunc(files, func(f File) bool { return f.Path == secret }) {
				t.Errorf("the library named too is not in the closure")
			}
			// In a folder the spec names (copied whole), it is taken.
			if _, err := Closure([]string{prog, p("secret")}); err != nil {
				t.Errorf("the library's folder named too: %v", err)
			}
		})
	}
}

// A FIFO or a device where a closure's ELF file points (an absolute
// DT_NEEDED, a RUNPATH folder someone else may write) is never opened:
// the open of a FIFO blocked the plan for good, and a device's open is an
// act of its own (a watchdog arms) that root would have done.
func TestClosureSpecialFilesNotOpened(t *testing.T) {
	tmp := evalSymlinks(t, t.TempDir())
	p := func(s string) string { return filepath.Join(tmp, s) }
	const name = "libnsuptest-fifo.so"
	os.MkdirAll(p("evil"), 0o755)
	for _, f := range []string{p("evil/" + name), p("fifo.so")} {
		if err := unix.Mkfifo(f, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		prog testELF
	}{
		{"RUNPATH", testELF{needed: []string{name}, hasRpath: true, rpath: p("evil")}},
		{"absolute DT_NEEDED", testELF{needed: []string{p("fifo.so")}}},
		{"absolute DT_NEEDED, a device", testELF{needed: []string{"/dev/null"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prog := p("bin/" + strings.ReplaceAll(tc.name, " ", "-"))
			writeTestELF(t, prog, tc.prog)
			done := make(chan error, 1)
			go func() {
				_, err := Closure([]string{prog})
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil {
					t.Errorf("a closure whose library is a FIFO or a device: no error")
				}
			case <-time.After(5 * time.Second):
				for _, f := range []string{p("evil/" + name), p("fifo.so")} {
					if w, err := os.OpenFile(f, os.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
						w.Close()
					}
				}
				<-done
				t.Fatalf("the plan blocked in open(2) of a FIFO its ELF file names")
			}
		})
	}
}

// OpenFile and OpenReal open regular files only, and refuse anything
// else before opening it for reading.
func TestOpenFileRegularOnly(t *testing.T) {
	tmp := evalSymlinks(t, t.TempDir())
	reg := filepath.Join(tmp, "file")
	os.WriteFile(reg, []byte("x"), 0o644)
	os.Symlink(reg, filepath.Join(tmp, "link"))
	unix.Mkfifo(filepath.Join(tmp, "fifo"), 0o644)
	for _, ok := range []string{reg, filepath.Join(tmp, "link")} {
		f, err := OpenFile(ok)
		if err != nil {
			t.Fatalf("OpenFile(%s): %v", ok, err)
		}
		b, _ := io.ReadAll(f)
		f.Close()
		if string(b) != "x" {
			t.Errorf("OpenFile(%s) read %q", ok, b)
		}
	}
	for _, bad := range []string{filepath.Join(tmp, "fifo"), "/dev/null", tmp} {
		for _, open := range []func(string) (*os.File, error){OpenFile, OpenReal} {
			if f, err := open(bad); err == nil || !errors.Is(err, regfile.ErrNotRegular) {
				if f != nil {
					f.Close()
				}
				t.Errorf("%s opened: %v", bad, err)
			}
		}
	}
	if _, err := OpenReal(filepath.Join(tmp, "link")); err == nil || !strings.Contains(err.Error(), "a symlink is in this path") {
		t.Errorf("OpenReal of a symlink: %v", err)
	}
}

// TestClosureBounded: a closure's folder holding a file larger than a
// tar root's member may be is refused before the file is read (a review:
// a sparse file of 10 TB, no bytes on disk, was hashed and then copied
// into the cache until the host's disk was full).
func TestClosureBounded(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "small"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.dat")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: no byte on disk; read whole, 1 TiB of zeros.
	if err := f.Truncate(1 << 40); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = Closure([]string{dir})
	if err == nil || !strings.Contains(err.Error(), "more than nsup copies into a closure") {
		t.Fatalf("Closure: %v, want it refused", err)
	}
}
