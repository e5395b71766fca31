package planner

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeTar writes the members hs (files empty) to dir/name, gzipped if
// the name ends in .gz, and returns its path.
func writeTar(t *testing.T, dir, name string, hs ...tar.Header) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hs {
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if strings.HasSuffix(name, ".gz") {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(b)
		zw.Close()
		b = z.Bytes()
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	tarEtcDir  = tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755}
	tarRunDir  = tar.Header{Name: "run/", Typeflag: tar.TypeDir, Mode: 0o755}
	tarHosts   = tar.Header{Name: "etc/hosts", Typeflag: tar.TypeReg}
	tarResolv  = tar.Header{Name: "etc/resolv.conf", Typeflag: tar.TypeReg}
	tarRunConf = tar.Header{Name: "run/resolv.conf", Typeflag: tar.TypeReg}
	tarTrue    = tar.Header{Name: "bin/true", Typeflag: tar.TypeReg, Mode: 0o755}
)

// TestTarEtcPlan: an environment with `net` whose root is a tar archive
// gets /etc/resolv.conf and /etc/hosts generated where the archive's tree
// has a regular file there (its symlinks followed inside it), and
// otherwise the note a dir root without them gets, and no step (before,
// the plan assumed an archive had both, and apply failed moving the file
// onto a missing one).
func TestTarEtcPlan(t *testing.T) {
	dir := t.TempDir()
	const both, none = "/etc/hosts /etc/resolv.conf", ""
	for _, tc := range []struct {
		name string
		hs   []tar.Header
		want string // the targets of the EtcFile steps
	}{
		{"bare.tar", []tar.Header{{Name: "bin/", Typeflag: tar.TypeDir}}, none},
		{"empty-etc.tar", []tar.Header{tarEtcDir}, none},
		{"files.tar", []tar.Header{tarEtcDir, tarHosts, tarResolv}, both},
		{"files.tar.gz", []tar.Header{tarEtcDir, tarHosts, tarResolv}, both},
		{"implicit-etc.tar", []tar.Header{tarHosts}, "/etc/hosts"},
		{"relative-link.tar", []tar.Header{tarEtcDir, tarRunDir, tarRunConf, tarHosts,
			{Name: "etc/resolv.conf", Typeflag: tar.TypeSymlink, Linkname: "../run/resolv.conf"}}, both},
		{"absolute-link.tar", []tar.Header{tarEtcDir, tarRunDir, tarRunConf,
			{Name: "etc/resolv.conf", Typeflag: tar.TypeSymlink, Linkname: "/run/resolv.conf"}}, "/etc/resolv.conf"},
		{"dangling-link.tar", []tar.Header{tarEtcDir, tarHosts,
			{Name: "etc/resolv.conf", Typeflag: tar.TypeSymlink, Linkname: "../run/systemd/resolve/stub-resolv.conf"}}, "/etc/hosts"},
		{"linked-etc.tar", []tar.Header{{Name: "private/etc/", Typeflag: tar.TypeDir}, {Name: "private/etc/hosts", Typeflag: tar.TypeReg},
			{Name: "etc", Typeflag: tar.TypeSymlink, Linkname: "private/etc"}}, "/etc/hosts"},
		{"hardlink.tar", []tar.Header{tarEtcDir, tarRunDir, tarRunConf,
			{Name: "etc/resolv.conf", Typeflag: tar.TypeLink, Linkname: "run/resolv.conf"}}, "/etc/resolv.conf"},
		{"folders.tar", []tar.Header{tarEtcDir, {Name: "etc/hosts/", Typeflag: tar.TypeDir}, {Name: "etc/resolv.conf", Typeflag: tar.TypeFifo}}, none},
		{"replaced.tar", []tar.Header{tarEtcDir, tarHosts, {Name: "etc/hosts", Typeflag: tar.TypeSymlink, Linkname: "nowhere"}}, none},
	} {
		// With the command: the plan finds argv[0] in the archive's
		// tree (tarshape.go).
		archive := writeTar(t, dir, tc.name, append(tc.hs, tarTrue)...)
		p, err := compileLimits(t, `version: 1
environments:
  t:
    rootfs: {tar: `+archive+`}
    namespaces: [mnt, pid, net]
    net: {network: none}
    processes: [{name: main, command: [/bin/true]}]
`, rootCaller, "hybrid")
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var targets []string
		for _, st := range p.Environments[0].Steps {
			if f, ok := st.Op.(EtcFile); ok {
				targets = append(targets, f.Target)
			}
		}
		slices.Sort(targets)
		if got := strings.Join(targets, " "); got != tc.want {
			t.Errorf("%s: files generated at %q, want %q", tc.name, got, tc.want)
		}
		notes := strings.Join(p.Environments[0].Notes, "\n")
		for _, f := range tarEtcPaths {
			note := f + " not generated: the rootfs has no file there to put it over (nsup does not write the rootfs): make an empty one"
			if strings.Contains(tc.want, f) == strings.Contains(notes, note) {
				t.Errorf("%s: generated %q, and the notes (want %q said exactly when %s is not):\n%s", tc.name, tc.want, note, f, notes)
			}
		}
	}
	// An archive apply would refuse plans (apply's rootfs step refuses
	// it, naming the member), with its digest: nothing is known of its
	// /etc, nor recorded.
	archive := writeTar(t, dir, "refused.tar", tar.Header{Name: "../x", Typeflag: tar.TypeReg})
	b, _ := os.ReadFile(archive)
	sum := sha256.Sum256(b)
	if d, etc, id, err := NewIndex(t.TempDir()).hashTar("k", archive, false); err != nil || etc != "" || id != nil || d != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Errorf("a refused archive: %s %q %v %v", d, etc, id, err)
	}
}

// TestTarEtcIndex: what a tar's tree has in /etc is kept in the index with
// its digest and served from it while the archive is unchanged (shown by
// a forged word: the plan follows it, so the archive was not read); an
// entry without the word (written before it was recorded) or with a
// damaged one is read again.
func TestTarEtcIndex(t *testing.T) {
	defer func(w time.Duration) { racyWindow = w }(racyWindow)
	racyWindow = 0
	cache := t.TempDir()
	archive := writeTar(t, t.TempDir(), "root.tar", tarEtcDir, tarHosts, tarResolv)
	key := IndexKey("tar", []string{archive})
	idx := NewIndex(cache)
	d, etc, _, err := idx.hashTar(key, archive, true)
	if err != nil || etc != "etc1=ff" {
		t.Fatalf("hashTar: %s %q %v", d, etc, err)
	}
	if dd, _, _ := idx.hashFile("x", archive, true); dd != d {
		t.Errorf("hashTar's digest %s, hashFile's %s", d, dd)
	}
	if !saveIndex(t, idx, key, []string{archive}) {
		t.Fatal("nothing observed")
	}
	saveTarID(t, idx, d)
	b, _ := os.ReadFile(idx.File(key))
	if !bytes.Contains(b, []byte(" etc1=ff \""+archive+"\"\n")) {
		t.Fatalf("the index:\n%s", b)
	}
	for _, tc := range []struct{ line, want string }{
		{"etc1=-- ", "etc1=--"}, // forged: served as it is
		{"", "etc1=ff"},         // none: read again
		{"etc1=fz ", "etc1=ff"}, // damaged: read again
		{"etc0=-- ", "etc1=ff"}, // another list of paths: read again
	} {
		os.WriteFile(idx.File(key), bytes.Replace(b, []byte("etc1=ff "), []byte(tc.line), 1), 0o600)
		if _, etc, _, err := NewIndex(cache).hashTar(key, archive, true); err != nil || etc != tc.want {
			t.Errorf("index word %q: %q %v, want %q", tc.line, etc, err, tc.want)
		}
	}
	// The line as written is read back whole.
	os.WriteFile(idx.File(key), b, 0o600)
	if e := readIndexFile(idx.File(key))[archive]; e.digest != d || e.etc != "etc1=ff" {
		t.Errorf("the line is not read back: %+v", e)
	}
}
