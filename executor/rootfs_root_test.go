package executor_test

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/executor/store"
	"github.com/nsup/nsup/planner"
)

// tarOf packs the folder root into the archive out (gzip'd when out ends
// in "gz") as "./"-relative members, modes and owners as they are.
func tarOf(t *testing.T, root, out string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var w io.Writer = f
	if strings.HasSuffix(out, "gz") {
		z := gzip.NewWriter(f)
		defer z.Close()
		w = z
	}
	tw := tar.NewWriter(w)
	defer tw.Close()
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			link, _ = os.Readlink(p)
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		h.Name = "./" + rel
		if fi.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			src, err := os.Open(p)
			if err != nil {
				return err
			}
			defer src.Close()
			_, err = io.Copy(tw, src)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// treeHash describes everything under root: each path with its type,
// mode, owner, size, mtime, ctime, link target and content digest. Two
// equal hashes mean nothing was written, not even metadata.
func treeHash(t *testing.T, root string) string {
	t.Helper()
	h := sha256.New()
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return err
		}
		fmt.Fprintf(h, "%q %o %d:%d %d %d.%d %d.%d", p, st.Mode, st.Uid, st.Gid, st.Size, st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec)
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFLNK:
			l, _ := os.Readlink(p)
			fmt.Fprintf(h, " -> %q", l)
		case syscall.S_IFREG:
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			io.Copy(h, f)
			f.Close()
		}
		h.Write([]byte{'\n'})
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 2 {
		t.Fatalf("%s: %d entries", root, n)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func rootfsOp(t *testing.T, p *planner.Plan) planner.Rootfs {
	t.Helper()
	r, ok := p.Environments[0].Steps[0].Op.(planner.Rootfs)
	if !ok {
		t.Fatalf("step 0 is %T", p.Environments[0].Steps[0].Op)
	}
	return r
}

// TestRootTarRootfs: a tar root is unpacked once into the cache, its
// commands found at plan time in its archive's shape (as a dir root's;
// before, they were looked up when they started), its entry held while
// an environment runs on it (a prune leaves it) and pruned once unused.
func TestRootTarRootfs(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	os.Mkdir(filepath.Join(root, "proc"), 0o555)
	tarOf(t, root, filepath.Join(dir, "root.tar.gz"))
	os.Mkdir(filepath.Join(dir, "data"), 0o755)
	p := compile(t, dir, `version: 1
environments:
  tarred:
    rootfs: {tar: ./root.tar.gz}
    namespaces: [mnt, pid]
    mounts:
      - {type: proc, target: /proc}
      - {type: tmpfs, target: /srv}
      - {type: bind, source: ./data, target: /data}
    processes:
      - name: main
        command: [sh, -c, "cat /nsup-marker; ls /srv; echo ready; while [ ! -e /data/stop ]; do sleep 0.02; done; exit 4"]
`)
	op := rootfsOp(t, p)
	if op.Type != "tar" || len(op.Files) != 0 {
		t.Fatalf("rootfs step %+v", op)
	}
	for _, st := range p.Environments[0].Steps {
		if s, ok := st.Op.(planner.Execve); ok && st.Stage == planner.Proc && s.Path != "/bin/sh" {
			t.Errorf("execve of %q: path %q at plan time, want /bin/sh, found in the archive", s.Argv, s.Path)
		}
	}
	cache := filepath.Join(dir, "cache")
	for i := 0; i < 2; i++ { // unpacked, then reused
		os.Remove(filepath.Join(dir, "data", "stop"))
		var out syncBuffer
		done := make(chan struct{})
		var st int
		var err error
		go func() {
			defer close(done)
			st, _, _, err = runTo(t, p, &out)
		}()
		waitFor(t, &out, "ready")
		ents, lerr := store.ListCache(cache)
		if lerr != nil || len(ents) != 1 || !ents[0].InUse || ents[0].Kind != "tar" || ents[0].Path != op.Path {
			t.Errorf("cache while running: %+v %v", ents, lerr)
		}
		// Held: even "remove everything unused" leaves it.
		if gone, err := store.PruneCache(cache, store.PruneOptions{}); err != nil || len(gone) != 0 {
			t.Errorf("prune while in use removed %v (%v)", gone, err)
		}
		os.WriteFile(filepath.Join(dir, "data", "stop"), nil, 0o644)
		<-done
		if err != nil || st != 4 {
			t.Fatalf("apply %d: status %d, %v\n%s", i, st, err, out.String())
		}
		if got := out.String(); got != "inside\nready\n" {
			t.Errorf("output %q", got)
		}
	}
	ents, _ := store.ListCache(cache)
	if len(ents) != 1 || ents[0].InUse || ents[0].Files < 3 || len(ents[0].Sources) != 1 {
		t.Fatalf("cache after: %+v", ents)
	}
	gone, err := store.PruneCache(cache, store.PruneOptions{})
	if err != nil || len(gone) != 1 {
		t.Fatalf("prune removed %v (%v)", gone, err)
	}
	left, _ := filepath.Glob(filepath.Join(cache, "tar", "*"))
	if len(left) != 0 {
		t.Errorf("left in the cache: %q", left)
	}
}

// runTo applies p with out as stdout and stderr.
func runTo(t *testing.T, p *planner.Plan, out *syncBuffer) (int, string, string, error) {
	st, err := executor.Apply(t.Context(), p, executor.Options{Stdin: strings.NewReader(""), Stdout: out, Stderr: out})
	return st, "", "", err
}

// TestRootTarHostile: an archive that would write outside its tree is
// refused by the rootfs step, and nothing of it stays: no entry, no
// temporary folder, nothing outside.
func TestRootTarHostile(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	outside := filepath.Join(dir, "outside")
	os.Mkdir(outside, 0o755)
	bb := requireBusybox(t)
	bin, _ := os.ReadFile(bb)
	f, _ := os.Create(filepath.Join(dir, "evil.tar"))
	tw := tar.NewWriter(f)
	for _, h := range []*tar.Header{
		{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bin))},
		{Name: "lib", Typeflag: tar.TypeSymlink, Linkname: outside},
		{Name: "lib/planted", Typeflag: tar.TypeReg, Mode: 0o644, Size: 2},
	} {
		tw.WriteHeader(h)
		switch h.Name {
		case "bin/busybox":
			tw.Write(bin)
		case "lib/planted":
			tw.Write([]byte("x\n"))
		}
	}
	tw.Close()
	f.Close()
	p := compile(t, dir, `version: 1
environments:
  evil:
    rootfs: {tar: ./evil.tar}
    namespaces: [mnt, pid]
    processes:
      - {name: main, command: [/bin/busybox, "true"]}
`)
	_, _, _, err := run(t, p, executor.Options{})
	if err == nil || !strings.Contains(err.Error(), "passes through a symlink") ||
		!strings.HasPrefix(err.Error(), p.Environments[0].Steps[0].Origin+": step 0: rootfs(tar, ") {
		t.Fatalf("apply: %v, want step 0 refused", err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("written outside: %v", ents)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "cache", "tar", "*"))
	if len(left) != 0 {
		t.Errorf("left in the cache: %q", left)
	}
}

// TestRootOverlaySourceUnchanged: with overlay: true the environment
// writes, changes, removes anywhere in its root; the source tree (a dir,
// a closure entry, a tar entry) is the same bit for bit afterwards, and a
// second run sees none of the first one's changes.
func TestRootOverlaySourceUnchanged(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	tarOf(t, root, filepath.Join(dir, "root.tar"))
	const write = `B=/bin/busybox
echo new > /new-file
$B mkdir -p /etc /usr/new/dir && echo x > /usr/new/dir/f
echo appended >> /etc/passwd
$B chmod 700 /bin
$B touch /bin/busybox
$B ln -s /new-file /link
$B rm -f /nsup-marker
$B rm -f /bin/busybox && echo written`
	const look = `B=/bin/busybox
for f in /new-file /usr/new /link; do $B test -e $f && echo "LEAK $f"; done
$B grep -q appended /etc/passwd 2>/dev/null && echo "LEAK passwd"
$B stat -L -c "%a" /bin
echo looked`
	for _, src := range []string{"{dir: ./rootfs", "{tar: ./root.tar", "{closure: [/bin/busybox]"} {
		t.Run(strings.Fields(src)[0][1:], func(t *testing.T) {
			checkHost(t)
			spec := func(script string) string {
				return `version: 1
environments:
  over:
    rootfs: ` + src + `, overlay: true}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command:
          - /bin/busybox
          - sh
          - -c
          - |
` + indent(script, "            ") + "\n"
			}
			p := compile(t, dir, spec(write))
			source := rootfsOp(t, p).Path
			if _, err := os.Stat(source); err != nil { // build the entry first
				if st, _, errOut, err := run(t, compile(t, dir, spec("true")), executor.Options{}); err != nil || st != 0 {
					t.Fatalf("build: %d %v %s", st, err, errOut)
				}
			}
			before := treeHash(t, source)
			binMode, _ := os.Stat(filepath.Join(source, "bin"))
			st, out, errOut, err := run(t, p, executor.Options{})
			if err != nil || st != 0 || !strings.HasSuffix(out, "written\n") {
				t.Fatalf("apply: %d %v\n%s%s", st, err, out, errOut)
			}
			if after := treeHash(t, source); after != before {
				t.Errorf("the source %s changed under the overlay", source)
			}
			st, out, errOut, err = run(t, compile(t, dir, spec(look)), executor.Options{})
			if err != nil || st != 0 {
				t.Fatalf("second apply: %d %v\n%s", st, err, errOut)
			}
			if want := fmt.Sprintf("%o\nlooked\n", binMode.Mode().Perm()); out != want {
				t.Errorf("second run saw %q, want %q (the first run's changes gone)", out, want)
			}
		})
	}
}

// TestRootOverlayUserNamespace: an overlay root in a new user namespace is
// mounted with userxattr (the plan says so) and works.
func TestRootOverlayUserNamespace(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	p := compile(t, dir, `version: 1
environments:
  userover:
    rootfs: {dir: ./rootfs, overlay: true}
    namespaces: [user, mnt, pid]
    mounts:
      - {type: proc, target: /proc}
    processes:
      - name: main
        command: [/bin/sh, -c, "echo hi > /written && cat /written && grep -o userxattr /proc/self/mountinfo | head -1"]
`)
	found := false
	for _, st := range p.Environments[0].Steps {
		if o, ok := st.Op.(planner.Overlay); ok {
			found = o.UserXattr
		}
	}
	if !found {
		t.Fatalf("no overlay step with userxattr:\n%s", planText(p))
	}
	before := treeHash(t, root)
	out := runOK(t, p)
	if out != "hi\nuserxattr\n" {
		t.Errorf("output %q", out)
	}
	if treeHash(t, root) != before {
		t.Error("the source changed")
	}
}

// TestRootClosureDirectory: a folder in closure is copied whole, modes
// kept, setuid and setgid dropped; an ELF program in it brings its
// libraries and runs.
func TestRootClosureDirectory(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	app := filepath.Join(dir, "app")
	for _, d := range []string{"bin", "share/doc"} {
		os.MkdirAll(filepath.Join(app, d), 0o750)
	}
	prog := filepath.Join(app, "bin", "prog")
	copyFile(t, evalLink(t, "/bin/true"), prog, 0o755)
	copyFile(t, evalLink(t, "/bin/true"), filepath.Join(app, "bin", "suid"), 0o755)
	os.Chmod(filepath.Join(app, "bin", "suid"), 0o4755|os.ModeSetuid)
	os.WriteFile(filepath.Join(app, "share", "doc", "README"), []byte("app docs\n"), 0o640)
	p := compile(t, dir, `version: 1
environments:
  app:
    rootfs: {closure: [`+app+`, /bin/sh, /usr/bin/stat, /bin/cat]}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command: [/bin/sh, -c, "`+prog+` && cat `+app+`/share/doc/README && stat -c '%a %n' `+app+`/bin/suid `+app+`/share/doc/README `+app+`/bin"]
`)
	out := runOK(t, p)
	want := fmt.Sprintf("app docs\n755 %s/bin/suid\n640 %s/share/doc/README\n750 %s/bin\n", app, app, app)
	if out != want {
		t.Errorf("output %q, want %q", out, want)
	}
}

func evalLink(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRootReadonlyRootBelow: a host mount below a read-only dir root is
// read-only inside too. Before, the root's mount_setattr was not
// recursive: root inside wrote a host tmpfs mounted below the root, and
// with MKNOD left a 0666 node there that a host user opened (found by a
// review). The spec's own mounts stay writable.
func TestRootReadonlyRootBelow(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	below := filepath.Join(root, "below")
	if err := os.Mkdir(below, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("nsup-test", below, "tmpfs", 0, "mode=755"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(below, syscall.MNT_DETACH) })
	p := compile(t, dir, `version: 1
environments:
  ro:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    security: {capabilities: {add: [MKNOD]}}
    mounts:
      - {type: tmpfs, target: /scratch}
    processes:
      - name: main
        command: [/bin/sh, -c, "echo x > /scratch/f && echo scratch written; echo x > /below/f && echo below written; /bin/busybox mknod /below/null c 1 3 && echo node made; true"]
`)
	out := runOK(t, p)
	if !strings.Contains(out, "scratch written") {
		t.Errorf("the spec's tmpfs was not written:\n%s", out)
	}
	if strings.Contains(out, "below written") || strings.Contains(out, "node made") {
		t.Errorf("the host's mount below the read-only root was written:\n%s", out)
	}
	if entries, _ := os.ReadDir(below); len(entries) > 0 {
		t.Errorf("the host's mount below the root holds %d entries, want none", len(entries))
	}
}
