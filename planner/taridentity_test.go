package planner

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// tarEntry is a member of a test archive, with its bytes.
type tarEntry struct {
	h    tar.Header
	body string
}

func tarDir(name string) tarEntry {
	return tarEntry{h: tar.Header{Name: name + "/", Typeflag: tar.TypeDir, Mode: 0o755}}
}
func tarReg(name, body string) tarEntry {
	return tarEntry{h: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644}, body: body}
}
func tarExe(name string) tarEntry {
	return tarEntry{h: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o755}, body: "#!/bin/sh\n"}
}
func tarSym(name, to string) tarEntry {
	return tarEntry{h: tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: to, Mode: 0o777}}
}
func tarHard(name, to string) tarEntry {
	return tarEntry{h: tar.Header{Name: name, Typeflag: tar.TypeLink, Linkname: to, Mode: 0o644}}
}

// writeTarEntries writes es to dir/name.tar, and the same tree below
// dir/name (as a dir root of the same files), and returns both paths.
func writeTarEntries(t *testing.T, dir, name string, es ...tarEntry) (archive, tree string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tree = filepath.Join(dir, name)
	os.MkdirAll(tree, 0o755)
	for _, e := range es {
		h := e.h
		h.Size = int64(len(e.body))
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
		p := filepath.Join(tree, h.Name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		switch h.Typeflag {
		case tar.TypeDir:
			os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			os.Remove(p)
			os.WriteFile(p, []byte(e.body), os.FileMode(h.Mode))
		case tar.TypeSymlink:
			os.Remove(p)
			os.Symlink(h.Linkname, p)
		case tar.TypeLink:
			os.Remove(p)
			os.Link(filepath.Join(tree, h.Linkname), p)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	archive = tree + ".tar"
	if err := os.WriteFile(archive, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return archive, tree
}

const (
	tarIDPasswd = "root:x:0:0:root:/root:/bin/sh\nalice:x:1001:1001::/home/alice:/bin/sh\n"
	tarIDGroup  = "root:x:0:\n"
)

// tarIDCases are archives with and without the identity files, each
// kind of way to them, and each kind of file that is not read.
var tarIDCases = []struct {
	name string
	es   []tarEntry
	// read: the bytes the record has of /etc/passwd ("-": none);
	// second: a second read of the archive was needed.
	read   string
	second bool
}{
	{"none", []tarEntry{tarDir("bin"), tarExe("bin/sh")}, "-", false},
	{"regular", []tarEntry{tarDir("bin"), tarExe("bin/sh"), tarDir("etc"), tarReg("etc/passwd", tarIDPasswd), tarReg("etc/group", tarIDGroup)}, tarIDPasswd, false},
	{"replaced", []tarEntry{tarDir("etc"), tarReg("etc/passwd", "old:x:5:5::/:/bin/sh\n"), tarReg("etc/group", tarIDGroup), tarReg("etc/passwd", tarIDPasswd)}, tarIDPasswd, false},
	{"link-first", []tarEntry{tarDir("etc"), tarSym("etc/passwd", "/usr/share/base/passwd"), tarReg("etc/group", tarIDGroup), tarDir("usr"), tarDir("usr/share"), tarDir("usr/share/base"), tarReg("usr/share/base/passwd", tarIDPasswd)}, tarIDPasswd, false},
	{"link-after", []tarEntry{tarDir("usr"), tarDir("usr/share"), tarReg("usr/share/passwd", tarIDPasswd), tarDir("etc"), tarSym("etc/passwd", "../usr/share/passwd"), tarReg("etc/group", tarIDGroup)}, tarIDPasswd, true},
	{"linked-etc", []tarEntry{tarDir("private"), tarDir("private/etc"), tarReg("private/etc/passwd", tarIDPasswd), tarReg("private/etc/group", tarIDGroup), tarSym("etc", "private/etc")}, tarIDPasswd, true},
	{"hardlink", []tarEntry{tarDir("usr"), tarReg("usr/passwd", tarIDPasswd), tarDir("etc"), tarHard("etc/passwd", "usr/passwd"), tarReg("etc/group", tarIDGroup)}, tarIDPasswd, true},
	{"dangling", []tarEntry{tarDir("etc"), tarSym("etc/passwd", "../nowhere"), tarReg("etc/group", tarIDGroup)}, "-", false},
	{"folder", []tarEntry{tarDir("etc"), tarDir("etc/passwd"), tarReg("etc/group", tarIDGroup)}, "-", false},
	{"oversized", []tarEntry{tarDir("etc"), tarReg("etc/passwd", strings.Repeat("#", maxIDFile+1)), tarReg("etc/group", tarIDGroup)}, "-", false},
	{"at-bound", []tarEntry{tarDir("etc"), tarReg("etc/passwd", tarIDPasswd+strings.Repeat("#", maxIDFile-len(tarIDPasswd))), tarReg("etc/group", tarIDGroup)}, tarIDPasswd + strings.Repeat("#", maxIDFile-len(tarIDPasswd)), false},
}

// TestTarIDRecord: the walk that hashes a tar archive records what its
// tree has on the way to /etc/passwd, /etc/group and /bin/sh, and the
// bytes of the passwd and group files it ends at (regular, at most
// maxIDFile bytes: a link is followed inside the tree; a dangling one, a
// folder or a file too large has none); an archive holding a link after
// the file it leads to is read a second time for that file alone. The
// record survives its side file, and is served from it while the
// archive is unchanged (shown by a forged one); without it (an index
// written before) the archive is read again.
func TestTarIDRecord(t *testing.T) {
	defer func(w time.Duration) { racyWindow = w }(racyWindow)
	racyWindow = 0
	dir := t.TempDir()
	for _, tc := range tarIDCases {
		archive, _ := writeTarEntries(t, dir, tc.name, tc.es...)
		f, err := os.Open(archive)
		if err != nil {
			t.Fatal(err)
		}
		var etc TarEtc
		if err := WalkTar(f, func(m TarMember, content io.Reader) error { _, err := etc.Add(m, content); return err }); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if second := len(etc.missing()) > 0; second != tc.second {
			t.Errorf("%s: a second read needed: %v, want %v", tc.name, second, tc.second)
		}
		cache := t.TempDir()
		idx := NewIndex(cache)
		key := IndexKey("tar", []string{archive})
		d, _, rec, err := idx.hashTar(key, archive, true)
		if err != nil || rec == nil {
			t.Fatalf("%s: hashTar: %v %v", tc.name, rec, err)
		}
		check := func(how string, rec *tarIDRecord) {
			t.Helper()
			tv := rec.view()
			got := "-"
			if f, ok := resolveIn(tv, "/etc/passwd"); ok && f.Type == TarFile {
				b, err := rec.read(resolvedPath(tv, "/etc/passwd"))
				if err == nil {
					got = b
				} else if tc.name != "oversized" || !strings.Contains(err.Error(), fmt.Sprintf("etc/passwd is larger than %d bytes", maxIDFile)) {
					t.Errorf("%s (%s): %v", tc.name, how, err)
				}
			}
			if got != tc.read {
				t.Errorf("%s (%s): /etc/passwd read %.80q, want %.80q", tc.name, how, got, tc.read)
			}
			if f, ok := resolveIn(tv, "/bin/sh"); (ok && f.Type == TarFile) != (tc.name == "none" || tc.name == "regular") {
				t.Errorf("%s (%s): /bin/sh %+v %v", tc.name, how, f, ok)
			}
		}
		check("walked", rec)
		saveIndex(t, idx, key, []string{archive})
		if !saveTarID(t, idx, d) {
			t.Fatalf("%s: no side file to write", tc.name)
		}
		r2 := decodeTarID(must(os.ReadFile(idx.TarIDFile(d))))
		if r2 == nil {
			t.Fatalf("%s: the side file does not read back", tc.name)
		}
		check("side file", r2)
		if _, _, r3, _ := NewIndex(cache).hashTar(key, archive, true); r3 == nil {
			t.Errorf("%s: not served from the side file", tc.name)
		} else {
			check("served", r3)
		}
	}
	// Served without reading the archive: a forged side file is what the
	// plan gets; without one the archive is read again.
	archive, _ := writeTarEntries(t, dir, "served", tarIDCases[1].es...)
	cache := t.TempDir()
	idx := NewIndex(cache)
	key := IndexKey("tar", []string{archive})
	d, _, _, _ := idx.hashTar(key, archive, true)
	saveIndex(t, idx, key, []string{archive})
	saveTarID(t, idx, d)
	forged := bytes.Replace(must(os.ReadFile(idx.TarIDFile(d))), []byte("alice"), []byte("eve00"), 1)
	if bytes.Contains(forged, []byte("alice")) || !bytes.Contains(forged, []byte("eve00")) {
		// The content is base64: forge the decoded record instead.
		r := decodeTarID(must(os.ReadFile(idx.TarIDFile(d))))
		n := r.nodes["/etc/passwd"]
		n.Content = []byte(strings.Replace(string(n.Content), "alice", "eve00", 1))
		r.nodes["/etc/passwd"] = n
		forged = r.encode()
	}
	os.WriteFile(idx.TarIDFile(d), forged, 0o600)
	if _, _, r, _ := NewIndex(cache).hashTar(key, archive, true); r == nil || !strings.Contains(must(r.read("/etc/passwd")), "eve00") {
		t.Errorf("the side file is not what the plan serves: %+v", r)
	}
	os.Remove(idx.TarIDFile(d))
	if _, _, r, _ := NewIndex(cache).hashTar(key, archive, true); r == nil || !strings.Contains(must(r.read("/etc/passwd")), "alice") {
		t.Errorf("without the side file, the archive is not read again: %+v", r)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestTarIdentityPlan: a tar root gets the identity lines, the steps
// putting them over its files, the notes and HOME that a dir root of the
// same files gets (before, a tar root got none: `user: 1000` ran without
// a name, and HOME unset).
func TestTarIdentityPlan(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range tarIDCases {
		if tc.name == "hardlink" {
			continue // the dir below has the same file, as the archive's tree has
		}
		archive, tree := writeTarEntries(t, dir, tc.name, append(slices.Clone(tc.es), tarDir("opt"), tarExe("opt/tool"))...)
		var seen [2]string
		for i, root := range []string{"{tar: " + archive + "}", "{dir: " + tree + ", readonly: true}"} {
			p, err := compileLimits(t, `version: 1
environments:
  t:
    rootfs: `+root+`
    namespaces: [mnt, pid]
    user: "1000"
    processes:
      - {name: main, command: [/opt/tool]}
      - {name: other, command: [/opt/tool], user: "1001:1001"}
`, rootCaller, "hybrid")
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			var b strings.Builder
			for _, st := range p.Environments[0].Steps {
				switch op := st.Op.(type) {
				case EtcFile:
					fmt.Fprintf(&b, "%s:\n%s", op.Target, op.Content)
				case Execve:
					fmt.Fprintf(&b, "env %q\n", op.Env)
				}
			}
			for _, n := range p.Environments[0].Notes {
				if strings.Contains(n, "/etc/passwd") || strings.Contains(n, "/etc/group") {
					b.WriteString(strings.ReplaceAll(n, tree, "ROOT") + "\n")
				}
			}
			seen[i] = b.String()
		}
		if seen[0] != seen[1] {
			t.Errorf("%s: the tar root's plan:\n%s\nthe dir root's:\n%s", tc.name, seen[0], seen[1])
		}
		if tc.name == "regular" {
			for _, w := range []string{"/etc/passwd:\n" + tarIDPasswd, ":1000:1000:", "HOME=/home/alice", "HOME=/\""} {
				if !strings.Contains(seen[0], w) {
					t.Errorf("%s: no %q in:\n%s", tc.name, w, seen[0])
				}
			}
		}
	}
}

// TestTarIDRecordLongWay: an archive whose way to /etc/passwd is long
// (five links, each to a folder 2,000 deep: 10,000 folders of up to
// 4 KB of name on the way) made a record larger than what is read of its
// side file, so every plan hashed the archive again. The record now
// keeps the file and walks the shape for the way there; a plan with the
// side file reads no archive and finds the same passwd.
func TestTarIDRecordLongWay(t *testing.T) {
	dir := t.TempDir()
	deep := func(c string) string { return strings.TrimSuffix(strings.Repeat(c+"/", 2000), "/") }
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h tar.Header, body string) {
		h.Size, h.Format = int64(len(body)), tar.FormatPAX
		if h.Mode == 0 {
			h.Mode = 0o777
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	add(tar.Header{Name: "etc", Typeflag: tar.TypeSymlink, Linkname: "/" + deep("a")}, "")
	add(tar.Header{Name: deep("a") + "/passwd", Typeflag: tar.TypeSymlink, Linkname: "/" + deep("b") + "/p"}, "")
	for _, c := range []string{"b", "c", "d"} {
		add(tar.Header{Name: deep(c) + "/p", Typeflag: tar.TypeSymlink, Linkname: "/" + deep(string(rune(c[0]+1))) + "/p"}, "")
	}
	add(tar.Header{Name: deep("e") + "/p", Typeflag: tar.TypeReg, Mode: 0o644}, tarIDPasswd)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "long.tar")
	if err := os.WriteFile(archive, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// The walk's lookups: each parent folder handed over walked the way
	// again, about 20 million names asked (84 s of a plan).
	var etc TarEtc
	if err := WalkTar(bytes.NewReader(buf.Bytes()), func(m TarMember, r io.Reader) error {
		_, err := etc.Add(m, r)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	asked := 0
	for _, l := range etc.ids {
		asked += l.spent
	}
	if asked > 1<<16 {
		t.Errorf("the lookups asked for %d names while the archive was walked", asked)
	}
	defer func(w time.Duration) { racyWindow = w }(racyWindow)
	racyWindow = 0
	cache := filepath.Join(dir, "cache")
	os.MkdirAll(filepath.Join(cache, "index"), 0o700)
	os.Chmod(cache, 0o700)
	key := IndexKey("tar", []string{archive})
	passwd := func(r *tarIDRecord) string {
		v := r.view()
		if v == nil {
			return "no view"
		}
		at := resolvedPath(v, "/etc/passwd")
		s, err := r.read(at)
		if err != nil {
			return err.Error()
		}
		return s
	}
	x := NewIndex(cache)
	d, _, rec, err := x.hashTar(key, archive, true)
	if err != nil || rec == nil {
		t.Fatalf("hashTar: %v %v", rec, err)
	}
	if got := passwd(rec); got != tarIDPasswd {
		t.Fatalf("cold: /etc/passwd is %.200q", got)
	}
	if !saveIndex(t, x, key, []string{archive}) || !saveTarID(t, x, d) {
		t.Fatal("no index line or side file to write")
	}
	if fi, err := os.Stat(x.TarIDFile(d)); err != nil || fi.Size() > maxTarIDFile {
		t.Fatalf("the side file: %v, %d bytes, more than the %d read", err, fi.Size(), maxTarIDFile)
	}
	y := NewIndex(cache)
	d2, _, rec2, err := y.hashTar(key, archive, true)
	if err != nil || d2 != d || rec2 == nil {
		t.Fatalf("warm hashTar: %s %v %v", d2, rec2, err)
	}
	if y.fresh[archive].digest != "" {
		t.Error("the warm look read the archive again: the side file was not taken")
	}
	if got := passwd(rec2); got != tarIDPasswd {
		t.Errorf("warm: /etc/passwd is %.200q", got)
	}
}

// TestTarIDPartialWalks: a partial record's way is the shape's, and an
// archive's links may lead each lookup 40 times down one folder 2,000
// deep (80,000 names asked of a walk, five walks a plan: /etc/passwd,
// /etc/group, each resolved and found, and /bin/sh). Each name was
// searched for in the encoding every time, seconds of every plan (4 s
// here; the same record unpartial walked it in 0.3 s). Each is now read
// there once a plan.
func TestTarIDPartialWalks(t *testing.T) {
	defer func(w time.Duration) { racyWindow = w }(racyWindow)
	racyWindow = 0
	dir := t.TempDir()
	deep := strings.TrimSuffix(strings.Repeat("a/", 2000), "/")
	es := []tarEntry{tarSym("etc", "/"+deep), tarSym("bin", "/"+deep)}
	for _, f := range []string{"passwd", "group", "sh"} {
		es = append(es, tarSym(deep+"/"+f, "/"+deep+"/"+f+"1"))
		for i := 1; i < 39; i++ {
			es = append(es, tarSym(fmt.Sprintf("%s/%s%d", deep, f, i), fmt.Sprintf("/%s/%s%d", deep, f, i+1)))
		}
		es = append(es, tarReg(fmt.Sprintf("%s/%s39", deep, f), tarIDPasswd))
	}
	archive, _ := writeTarEntries(t, dir, "x", es...)
	cache := filepath.Join(dir, "cache")
	os.MkdirAll(filepath.Join(cache, "index"), 0o700)
	os.Chmod(cache, 0o700)
	key := IndexKey("tar", []string{archive})
	x := NewIndex(cache)
	d, _, rec, err := x.hashTar(key, archive, true)
	if err != nil || rec == nil || !rec.partial {
		t.Fatalf("hashTar: %v %v", rec, err)
	}
	saveIndex(t, x, key, []string{archive})
	saveTarID(t, x, d)
	for i, r := range []*tarIDRecord{rec, must2(NewIndex(cache).hashTar(key, archive, true))} {
		v := r.view()
		for _, p := range identityFiles {
			if _, ok := resolveIn(v, p); !ok {
				t.Fatalf("%d: %s not found", i, p)
			}
			if got, err := r.read(resolvedPath(v, p)); got != tarIDPasswd {
				t.Errorf("%d: %s is %.40q (%v)", i, p, got, err)
			}
		}
		if f, ok := resolveIn(v, "/bin/sh"); !ok || f.Type != TarFile {
			t.Errorf("%d: /bin/sh %+v %v", i, f, ok)
		}
		// 2,000 folders and 120 links on the way, and the three files.
		if n := r.shape.t.looked.Load(); n > 2200 {
			t.Errorf("%d: %d lookups read the shape's encoding", i, n)
		}
	}
}

// must2 is the record of hashTar's answer.
func must2(_, _ string, r *tarIDRecord, err error) *tarIDRecord {
	if err != nil || r == nil {
		panic(fmt.Sprint("hashTar: ", r, err))
	}
	return r
}
