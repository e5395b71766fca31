package main

// Review of nsup export --image / --image-archive (cfba7ac): each test
// states what should hold, and fails on the code reviewed.

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// copyTree (export's copy of a dir root, and of an unpacked tar root)
// reads only files of the tree it copies. It walks by path: Lstat(p),
// then os.Open(p), each resolving every component of p again, so a
// folder of the tree swapped for a symlink while it walks (by root in an
// environment whose dir root or a bind inside it is writable, or by the
// tree's owner) makes it copy a host file into the image. Here a racer
// swaps src/a, a folder holding "key", with a symlink to a folder outside
// holding a secret "key" (renameat2 RENAME_EXCHANGE, in a loop).
func TestCopyTreeRace(t *testing.T) {
	dir := t.TempDir()
	secretDir := filepath.Join(dir, "host")
	os.Mkdir(secretDir, 0o700)
	os.WriteFile(filepath.Join(secretDir, "key"), []byte("host secret\n"), 0o600)
	src := filepath.Join(dir, "src")
	os.MkdirAll(filepath.Join(src, "a"), 0o755)
	os.WriteFile(filepath.Join(src, "a", "key"), []byte("placeholder\n"), 0o644)
	os.Symlink(secretDir, filepath.Join(src, "a.swap"))
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			unix.Renameat2(unix.AT_FDCWD, filepath.Join(src, "a"), unix.AT_FDCWD, filepath.Join(src, "a.swap"), unix.RENAME_EXCHANGE)
		}
	}()
	defer func() { close(stop); <-done }()
	deadline := time.Now().Add(3 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		dst := filepath.Join(dir, "dst", strings.Repeat("x", 1+i%3)+time.Now().Format("150405.000000000"))
		os.MkdirAll(dst, 0o755)
		copyTree(src, dst) // an error is fine: what was copied is checked
		// Read inside the copy only: a symlink copied as a symlink (the
		// tree had one at that instant) is what an image may hold; its
		// target is resolved in the container's root, not the host's.
		r, err := os.OpenRoot(dst)
		if err != nil {
			t.Fatal(err)
		}
		for _, rel := range []string{"a/key", "a.swap/key"} {
			if b, err := r.ReadFile(rel); err == nil && strings.Contains(string(b), "host secret") {
				t.Fatalf("attempt %d: copyTree copied %s (outside the tree) as %s", i, filepath.Join(secretDir, "key"), rel)
			}
		}
		r.Close()
		removeAll(dst)
	}
}

// reviewImageSpec: a closure whose main process runs as uid 1.
const reviewImageSpec = `version: 1
name: reviewimage
environments:
  app:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    processes:
      - {name: main, user: "1:1", command: [/bin/busybox, "true"]}
`

// layerFile is the content of path in the (one) layer of the image
// layout at dir.
func layerFile(t *testing.T, dir, path string) (string, bool) {
	t.Helper()
	var idx struct{ Manifests []struct{ Digest string } }
	b, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	if json.Unmarshal(b, &idx) != nil || len(idx.Manifests) != 1 {
		t.Fatalf("index.json: %s", b)
	}
	blob := func(d string) string { return filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(d, "sha256:")) }
	var m struct{ Layers []struct{ Digest string } }
	b, _ = os.ReadFile(blob(idx.Manifests[0].Digest))
	if json.Unmarshal(b, &m) != nil || len(m.Layers) != 1 {
		t.Fatalf("manifest: %s", b)
	}
	f, err := os.Open(blob(m.Layers[0].Digest))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return "", false
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == path {
			c, _ := io.ReadAll(tr)
			return string(c), true
		}
	}
}

// export --image DIR writes inside DIR only. emptyDir checks DIR is
// empty, then image.Write makes DIR/blobs/sha256 and writes
// DIR/index.json and DIR/oci-layout with os.MkdirAll and os.WriteFile,
// which follow symlinks: whoever may write to DIR (a folder another user
// made, under /tmp say) plants DIR/index.json -> a path of their choice
// after the check, and nsup (root) writes it.
func TestImageOutputSymlink(t *testing.T) {
	requireBusybox(t)
	dir := t.TempDir()
	t.Setenv("NSUP_CACHE_DIR", filepath.Join(dir, "cache"))
	f := filepath.Join(dir, "nsup.yaml")
	os.WriteFile(f, []byte(reviewImageSpec), 0o644)
	out := filepath.Join(dir, "img")
	os.Mkdir(out, 0o777) // someone else's, empty
	victim := filepath.Join(dir, "victim")
	planted := make(chan bool, 1)
	go func() {
		for i := 0; i < 200000; i++ {
			if _, err := os.Lstat(filepath.Join(out, "blobs")); err == nil {
				planted <- os.Symlink(victim, filepath.Join(out, "index.json")) == nil
				return
			}
			time.Sleep(10 * time.Microsecond)
		}
		planted <- false
	}()
	code, _, errs := nsup(t, "export", "--image", out, f)
	if !<-planted {
		t.Skipf("the symlink was not planted in time (export: %d %s)", code, errs)
	}
	if b, err := os.ReadFile(victim); err == nil {
		t.Errorf("export --image %s wrote %s, outside it, through a symlink planted in it (export: %d): %.80s", out, victim, code, b)
	}
}
