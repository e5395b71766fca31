package main

// Review of nsup export --image / --image-archive (cfba7ac): each test
// states what should hold, and fails on the code reviewed.

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/user"
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

// An image is the same bytes on every host for the same spec and lock,
// and carries nothing of the host's accounts: the generated /etc/passwd
// and /etc/group name the ids nsup adds user1, group1, not by the host's
// files (uid 1 is "daemon" on Debian), which apply does.
func TestImageHostNames(t *testing.T) {
	requireBusybox(t)
	u, err := user.LookupId("1")
	if err != nil || u.Username == "user1" {
		t.Fatalf("this test needs a host account of uid 1 (Debian's daemon): %v", err)
	}
	dir := t.TempDir()
	t.Setenv("NSUP_CACHE_DIR", filepath.Join(dir, "cache"))
	f := filepath.Join(dir, "nsup.yaml")
	os.WriteFile(f, []byte(reviewImageSpec), 0o644)
	out := filepath.Join(dir, "img")
	if code, _, errs := nsup(t, "export", "--image", out, f); code != 0 {
		t.Fatalf("export --image: %d %s", code, errs)
	}
	want := map[string]string{"etc/passwd": "user1:x:1:1:", "etc/group": "group1:x:1:"}
	for _, p := range []string{"etc/passwd", "etc/group"} {
		c, _ := layerFile(t, out, p)
		if !strings.Contains(c, want[p]) {
			t.Errorf("the layer's %s lacks %q: %q", p, want[p], c)
		}
		for _, l := range strings.Split(c, "\n") {
			if strings.HasPrefix(l, u.Username+":") {
				t.Errorf("the layer's %s holds this host's account name for id 1: %q", p, l)
			}
		}
	}
	// The plan apply makes keeps the host's names (a dev box's user is
	// the host's).
	if _, plan, _ := nsup(t, "plan", f); !strings.Contains(plan, u.Username+":x:1:") {
		t.Errorf("apply's plan lost the host's name for uid 1:\n%s", plan)
	}
}

// A dir root's setuid files and device nodes go into the layer as they
// are (an image is the tree), and export says so: nsup's nodev and
// no_new_privileges do not go with an image.
func TestRootImageRiskyFiles(t *testing.T) {
	requireBusybox(t)
	dir := rootTestDirs(t)
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "bin"), 0o755)
	os.MkdirAll(filepath.Join(tree, "dev"), 0o755)
	bb, _ := os.ReadFile("/bin/busybox")
	os.WriteFile(filepath.Join(tree, "bin", "busybox"), bb, 0o755)
	os.WriteFile(filepath.Join(tree, "bin", "su"), []byte("#!"), 0o755)
	os.Chmod(filepath.Join(tree, "bin", "su"), 0o755|os.ModeSetuid)
	// A file name the layer brings is shown escaped: ESC[8m would hide
	// what follows it on the caller's terminal.
	os.WriteFile(filepath.Join(tree, "bin", "\x1b[8mhid"), []byte("#!"), 0o755)
	os.Chmod(filepath.Join(tree, "bin", "\x1b[8mhid"), 0o755|os.ModeSetuid)
	if err := unix.Mknod(filepath.Join(tree, "dev", "disk"), unix.S_IFBLK|0o600, int(unix.Mkdev(8, 0))); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "nsup.yaml")
	os.WriteFile(f, []byte("version: 1\nname: risky\nenvironments:\n  app:\n    rootfs: {dir: "+tree+"}\n    namespaces: [mnt, pid]\n    processes:\n      - {name: main, command: [/bin/busybox, \"true\"]}\n"), 0o644)
	code, _, errs := nsup(t, "export", "--image", filepath.Join(dir, "img"), f)
	if code != 0 || !strings.Contains(errs, `the layer holds setuid or setgid files /bin/\x1b[8mhid, /bin/su; device nodes /dev/disk`) || strings.Contains(errs, "\x1b") {
		t.Errorf("export --image of a root with a setuid file and a device node: %d %s", code, errs)
	}
}

// Export writes into a folder by path, as root too: a folder another
// user may write to, or rename in, is refused before anything is
// written (helper-82's review: root's export into another user's empty
// folder went ahead, where that user could swap the bundle's rootfs for
// a link to /etc between its steps and have nsup's /etc/hosts and
// /etc/passwd written there). Every way: --oci into such a folder or
// one made in such a folder, --image, and --image-archive, whose work
// folder goes beside the archive.
func TestRootExportOthersFolder(t *testing.T) {
	requireBusybox(t)
	dir := rootTestDirs(t)
	f := filepath.Join(dir, "nsup.yaml")
	os.WriteFile(f, []byte(reviewImageSpec), 0o644)
	theirs := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		if err := os.Chown(p, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		return p
	}
	empty := theirs("empty", 0o755)
	shared := theirs("shared", 0o777)
	for _, args := range [][]string{
		{"--oci", empty},
		{"--oci", filepath.Join(shared, "bundle")},
		{"--image", empty},
		{"--image", filepath.Join(shared, "img")},
		{"--image-archive", filepath.Join(shared, "img.tar")},
	} {
		code, _, errs := nsup(t, append(append([]string{"export"}, args...), f)...)
		if code == 0 || !strings.Contains(errs, "export into a folder of your own") {
			t.Errorf("export %q: exit %d, want it refused: %s", args, code, errs)
		}
	}
	for _, d := range []string{empty, shared} {
		if ents, _ := os.ReadDir(d); len(ents) != 0 {
			t.Errorf("%s now holds %d entries", d, len(ents))
		}
	}
	// The caller's own folder is fine.
	if code, _, errs := nsup(t, "export", "--oci", filepath.Join(dir, "mine"), f); code != 0 {
		t.Errorf("export --oci into a folder of root's: %d %s", code, errs)
	}
}

// TestImageLeavesOutEnvFile (helper-142's review): an image's config
// leaves out the variables the .env beside the spec gave (f39fbc1), but a
// dir root that holds that .env (the project folder as the root) put
// the file itself, 0600 token and all, into the image's layer, for
// whoever gets it. It is left out of the layer now, with a note; a
// bundle (--oci, the caller's alone) keeps it.
func TestImageLeavesOutEnvFile(t *testing.T) {
	requireBusybox(t)
	dir := t.TempDir()
	t.Setenv("NSUP_CACHE_DIR", filepath.Join(dir, "cache"))
	os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
	bb, _ := os.ReadFile("/bin/busybox")
	os.WriteFile(filepath.Join(dir, "bin", "busybox"), bb, 0o755)
	os.WriteFile(filepath.Join(dir, ".env"), []byte("API_TOKEN=s3cr3t\n"), 0o600)
	f := filepath.Join(dir, "nsup.yaml")
	os.WriteFile(f, []byte(`version: 1
name: envfile
environments:
  app:
    rootfs: {dir: ., readonly: true}
    namespaces: [mnt, pid]
    env: {TOKEN: "${API_TOKEN}"}
    processes:
      - {name: main, command: [/bin/busybox, "true"]}
`), 0o644)
	out := filepath.Join(t.TempDir(), "img")
	code, _, errs := nsup(t, "export", "--image", out, f)
	if code != 0 {
		t.Fatalf("export --image: %d %s", code, errs)
	}
	if c, ok := layerFile(t, out, ".env"); ok {
		t.Errorf("the layer holds the .env the spec's variables came from: %q", c)
	}
	if _, ok := layerFile(t, out, "bin/busybox"); !ok {
		t.Errorf("the layer lacks bin/busybox: the test reads no layer")
	}
	if want := "nsup.yaml:5:13: environments.app.rootfs: " + filepath.Join(dir, ".env") + " left out of the layer"; !strings.Contains(errs, want) {
		t.Errorf("stderr lacks\n  %s\nin\n  %s", want, errs)
	}
}
