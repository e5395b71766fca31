package image

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestWriteReproducible: the same tree, made twice at different times,
// gives the same layout bytes; the layer is sorted, every time is Created,
// no names, owners through Owners, hard links as links.
func TestWriteReproducible(t *testing.T) {
	var layouts [2]string
	for i := range layouts {
		tree := t.TempDir()
		os.MkdirAll(filepath.Join(tree, "usr", "bin"), 0o755)
		os.WriteFile(filepath.Join(tree, "usr", "bin", "tool"), []byte("#!/bin/sh\n"), 0o755)
		os.Link(filepath.Join(tree, "usr", "bin", "tool"), filepath.Join(tree, "usr", "bin", "alias"))
		os.Symlink("usr/bin", filepath.Join(tree, "bin"))
		os.WriteFile(filepath.Join(tree, "a"), []byte("a"), 0o600)
		when := time.Now().Add(time.Duration(i) * time.Hour)
		os.Chtimes(filepath.Join(tree, "a"), when, when)
		layouts[i] = t.TempDir()
		img := Image{Ref: "localhost/x:latest", Tree: tree, Owners: func(int, int) (int, int) { return 7, 8 },
			Config: ImageConfig{Entrypoint: []string{"/bin/tool"}}, Created: time.Unix(1700000000, 0).UTC(), Architecture: "amd64"}
		if _, err := Write(layouts[i], img); err != nil {
			t.Fatal(err)
		}
		if err := Check(layouts[i]); err != nil {
			t.Fatal(err)
		}
	}
	var archives [2]bytes.Buffer
	for i, l := range layouts {
		if err := Archive(&archives[i], l, time.Unix(1700000000, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(archives[0].Bytes(), archives[1].Bytes()) {
		t.Fatal("two archives of the same tree differ")
	}
	// The layer: the largest blob.
	blobs, _ := filepath.Glob(filepath.Join(layouts[0], "blobs", "sha256", "*"))
	var layer string
	var size int64
	for _, b := range blobs {
		if st, _ := os.Stat(b); st.Size() > size {
			layer, size = b, st.Size()
		}
	}
	f, _ := os.Open(layer)
	defer f.Close()
	tr := tar.NewReader(f)
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(time.Unix(1700000000, 0)) || h.Uname != "" || h.Gname != "" || h.Uid != 7 || h.Gid != 8 {
			t.Errorf("%s: time %v, owner %d:%d (%q %q)", h.Name, h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		got = append(got, string(h.Typeflag)+" "+h.Name+" "+h.Linkname)
	}
	want := []string{"0 a ", "2 bin usr/bin", "5 usr/ ", "5 usr/bin/ ", "0 usr/bin/alias ", "1 usr/bin/tool usr/bin/alias"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("layer (-want +got):\n%s", d)
	}
}

// TestCheckCorrupt: a blob changed after writing is found.
func TestCheckCorrupt(t *testing.T) {
	tree := t.TempDir()
	os.WriteFile(filepath.Join(tree, "f"), []byte("content"), 0o644)
	l := t.TempDir()
	if _, err := Write(l, Image{Ref: "x", Tree: tree, Created: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	blobs, _ := filepath.Glob(filepath.Join(l, "blobs", "sha256", "*"))
	for _, b := range blobs {
		if st, _ := os.Stat(b); st.Size() > 1024 { // the layer
			data, _ := os.ReadFile(b)
			data[600] ^= 1
			os.WriteFile(b, data, 0o644)
		}
	}
	if err := Check(l); err == nil {
		t.Error("a changed layer passed Check")
	}
}

// TestWriteNoFollow: Write writes inside dir only, never through a
// symlink planted there (by whoever may write to dir, between export's
// emptiness check and the writes): the write fails, the target stays
// untouched. (The same symlinks planted at that moment, which a test
// of the command could only race for.)
func TestWriteNoFollow(t *testing.T) {
	tree := t.TempDir()
	os.WriteFile(filepath.Join(tree, "f"), []byte("content"), 0o644)
	for _, planted := range []string{"index.json", "oci-layout", "blobs"} {
		t.Run(planted, func(t *testing.T) {
			outside := t.TempDir()
			victim := filepath.Join(outside, "victim")
			l := t.TempDir()
			target := victim
			if planted == "blobs" {
				target = outside
			}
			os.Symlink(target, filepath.Join(l, planted))
			_, err := Write(l, Image{Ref: "x", Tree: tree, Created: time.Unix(0, 0)})
			if err == nil {
				t.Errorf("Write with %s planted as a symlink out of the layout succeeded", planted)
			}
			if ents, _ := os.ReadDir(outside); len(ents) != 0 {
				t.Errorf("Write wrote outside the layout, through %s: %v", planted, ents)
			}
		})
	}
}
