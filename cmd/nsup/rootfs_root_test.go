package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsup/nsup/planner"
)

// requireBusybox returns the host's static busybox, or skips (fails under
// CI=true).
func requireBusybox(t *testing.T) string {
	t.Helper()
	const bb = "/bin/busybox"
	out, err := exec.Command("file", "-L", bb).Output()
	if _, serr := os.Stat(bb); serr != nil || (err == nil && !bytes.Contains(out, []byte("statically linked"))) {
		skipOrFail(t, "needs busybox-static at /bin/busybox (apt-get install busybox-static)")
	}
	return bb
}

// busyboxTree makes root/bin/busybox, a copy of the host's static
// busybox, or skips (fails under CI=true) without it.
func busyboxTree(t *testing.T, root string) {
	t.Helper()
	b, err := os.ReadFile(requireBusybox(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// alpineTarball writes dir/minirootfs.tar.gz, laid out as Alpine's
// minimal root filesystem is: /bin/busybox and its applets as symlinks to
// it, /etc with passwd, group, os-release and hostname, the usual empty
// folders (/dev, /proc, /tmp sticky, /root 0700, …), members named
// "./...", owned by root. It returns the archive's path.
func alpineTarball(t *testing.T, dir string) string {
	t.Helper()
	bb, err := os.ReadFile(requireBusybox(t))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "minirootfs.tar.gz")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z := gzip.NewWriter(f)
	tw := tar.NewWriter(z)
	mtime := time.Unix(1700000000, 0)
	add := func(h *tar.Header, body []byte) {
		h.ModTime, h.Uname, h.Gname = mtime, "root", "root"
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	add(&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	for _, d := range []string{"bin", "sbin", "etc", "dev", "proc", "sys", "run", "var", "var/log", "usr", "usr/bin", "usr/sbin", "home", "mnt", "srv"} {
		add(&tar.Header{Name: "./" + d + "/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	}
	add(&tar.Header{Name: "./tmp/", Typeflag: tar.TypeDir, Mode: 0o1777}, nil)
	add(&tar.Header{Name: "./root/", Typeflag: tar.TypeDir, Mode: 0o700}, nil)
	add(&tar.Header{Name: "./bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755}, bb)
	for _, a := range []string{"sh", "ash", "ls", "cat", "echo", "id", "hostname", "stat", "touch", "mkdir", "rm", "grep", "sed", "head", "true", "false", "sleep", "uname", "sha256sum", "wc", "test", "env", "cut"} {
		add(&tar.Header{Name: "./bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "/bin/busybox", Mode: 0o777}, nil)
	}
	add(&tar.Header{Name: "./etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("root:x:0:0:root:/root:/bin/ash\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n"))
	add(&tar.Header{Name: "./etc/group", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("root:x:0:root\nnogroup:x:65534:\n"))
	add(&tar.Header{Name: "./etc/os-release", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("NAME=\"nsup test Alpine\"\nID=alpine\n"))
	add(&tar.Header{Name: "./etc/hostname", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("localhost\n"))
	add(&tar.Header{Name: "./etc/mtab", Typeflag: tar.TypeSymlink, Linkname: "../proc/mounts", Mode: 0o777}, nil)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

const alpineSpec = `version: 1
environments:
  alpine:
    rootfs: {tar: ./minirootfs.tar.gz}
    namespaces: [mnt, pid, uts, ipc, net]
    hostname: alpine
    env: {HOME: /root}
    mounts:
      - {type: proc, target: /proc}
      - {type: tmpfs, target: /tmp, mode: "1777"}
      - {type: dev, target: /dev}
    processes:
      - name: main
        command: [sh, -c, '. /etc/os-release; echo "$$NAME on $$(hostname), uid $$(id -u), pid1 $$(cat /proc/1/comm)"; ls /; touch /x 2>&1 | grep -o "Read-only file system"; echo tmp > /tmp/t && cat /tmp/t; stat -c "%a %u" /tmp /root /bin/busybox; cat /etc/mtab | head -1 | cut -d" " -f2']
`

// TestRootAlpineTarball: an Alpine-style minimal root filesystem, made in
// the test from busybox-static, runs through rootfs.tar with nsup apply:
// unpacked once into the cache, its commands found in its PATH at plan
// time (in the archive's shape; before, when they started), read-only, with its own /proc, /tmp and /dev; and nsup lock lists
// its members.
func TestRootAlpineTarball(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	t.Setenv("NSUP_CACHE_DIR", cache)
	archive := alpineTarball(t, dir)
	specFile := filepath.Join(dir, "alpine.yaml")
	os.WriteFile(specFile, []byte(alpineSpec), 0o644)
	code, plan, errs := nsup(t, "plan", specFile)
	if code != 0 {
		t.Fatalf("plan: %d %s", code, errs)
	}
	if !strings.Contains(plan, `rootfs(tar, "`+cache+`/tar/`) || !regexp.MustCompile(`proc +\d+  execve\("/bin/sh"`).MatchString(plan) {
		t.Errorf("plan:\n%s", plan)
	}
	want := "nsup test Alpine on alpine, uid 0, pid1 " + planner.InitName + "\n" +
		"bin\ndev\netc\nhome\nmnt\nproc\nroot\nrun\nsbin\nsrv\nsys\ntmp\nusr\nvar\n" +
		"Read-only file system\ntmp\n1777 0\n700 0\n755 0\n/\n"
	for i := 0; i < 2; i++ { // unpacked, then reused
		code, out, errs := nsup(t, "apply", specFile)
		if code != 0 {
			t.Fatalf("apply %d: exit %d\n%s%s", i, code, out, errs)
		}
		if out != want {
			t.Errorf("apply %d: output\n%s\nwant\n%s", i, out, want)
		}
	}
	ents, _ := filepath.Glob(filepath.Join(cache, "tar", "*"))
	data, _ := os.ReadFile(archive)
	sum := sha256.Sum256(data)
	hexd := hex.EncodeToString(sum[:])
	if len(ents) != 3 || filepath.Base(ents[0]) != hexd {
		t.Errorf("cache: %q, want the entry %s (keyed by the archive's sha256), its .build and .json", ents, hexd)
	}
	// No device node, no setuid bit: busybox is 0755 in the tree.
	if fi, err := os.Stat(filepath.Join(cache, "tar", hexd, "bin", "busybox")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/busybox in the cache: %v %v", fi, err)
	}
	// The lock lists the archive's members, busybox with the host's digest.
	if code, _, errs := nsup(t, "lock", specFile); code != 0 {
		t.Fatalf("lock: %d %s", code, errs)
	}
	lock, _ := os.ReadFile(specFile + ".lock")
	bbData, _ := os.ReadFile("/bin/busybox")
	bbSum := sha256.Sum256(bbData)
	for _, line := range []string{
		`{"env":"alpine","rootfs":"tar","digest":"sha256:` + hexd + `"}`,
		fmt.Sprintf(`{"env":"alpine","path":"/bin/busybox","type":"file","mode":"0755","size":%d,"digest":"sha256:%s"}`, len(bbData), hex.EncodeToString(bbSum[:])),
		`{"env":"alpine","path":"/bin/sh","type":"symlink","link":"/bin/busybox"}`,
		`{"env":"alpine","path":"/tmp","type":"dir","mode":"1777"}`,
	} {
		if !strings.Contains(string(lock), line+"\n") {
			t.Errorf("the lock lacks %s:\n%s", line, lock)
		}
	}
	if code, out, errs := nsup(t, "apply", specFile); code != 0 || !strings.HasPrefix(out, "nsup test Alpine") {
		t.Errorf("apply with the lock: %d %s %s", code, out, errs)
	}
}

// TestRootConcurrentApplies: eight nsup processes apply one spec at once,
// on a cold cache: all succeed, and the cache holds one closure entry and
// one tar entry, nothing half built.
func TestRootConcurrentApplies(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	bin := buildNsup(t)
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	alpineTarball(t, dir)
	specFile := filepath.Join(dir, "both.yaml")
	os.WriteFile(specFile, []byte(`version: 1
environments:
  closed:
    rootfs: {closure: [/bin/sh, /bin/cat, /usr/bin/sha256sum]}
    namespaces: [mnt, pid]
    processes:
      - {name: main, command: [sh, -c, "sha256sum /bin/cat && echo closed ok"]}
  tarred:
    rootfs: {tar: ./minirootfs.tar.gz}
    namespaces: [mnt, pid]
    processes:
      - {name: main, command: [sh, -c, "echo tarred ok"]}
`), 0o644)
	const n = 8
	var wg sync.WaitGroup
	outs := make([]string, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cmd := exec.Command(bin, "apply", specFile)
			cmd.Env = append(os.Environ(), "NSUP_CACHE_DIR="+cache)
			<-start
			out, err := cmd.CombinedOutput()
			outs[i], errs[i] = string(out), err
		}(i)
	}
	close(start)
	wg.Wait()
	for i := 0; i < n; i++ {
		if errs[i] != nil || !strings.Contains(outs[i], "closed ok\n") || !strings.Contains(outs[i], "tarred ok\n") {
			t.Errorf("apply %d: %v\n%s", i, errs[i], outs[i])
		}
	}
	for _, kind := range []string{"closure", "tar"} {
		ents, _ := os.ReadDir(filepath.Join(cache, kind))
		var names []string
		trees := 0
		for _, e := range ents {
			names = append(names, e.Name())
			if e.IsDir() {
				trees++
			}
		}
		if trees != 1 || len(ents) != 3 {
			t.Errorf("%s: %q, want one tree with its .build and .json", kind, names)
		}
	}
	t.Setenv("NSUP_CACHE_DIR", cache)
	code, out, e := nsup(t, "cache", "ls")
	if code != 0 || strings.Count(out, "\nclosure ") != 1 || strings.Count(out, "\ntar ") != 1 {
		t.Errorf("cache ls: %d\n%s%s", code, out, e)
	}
}

// buildLib compiles a shared library, libnsupdata.so.1, whose nsup_value()
// returns value, into dir.
func buildLib(t *testing.T, gcc, dir string, value int) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "lib.c")
	os.WriteFile(src, []byte(fmt.Sprintf("int nsup_value(void) { return %d; }\n", value)), 0o644)
	out, err := exec.Command(gcc, "-shared", "-fPIC", "-Wl,-soname,libnsupdata.so.1", "-o", filepath.Join(dir, "libnsupdata.so.1"), src).CombinedOutput()
	if err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
}

// TestRootLockLibrary: a program and its library are copied into a folder
// of their own (the program finds it through DT_RUNPATH $ORIGIN/../lib);
// the spec's closure of the program is locked. Once the library changes,
// plan and apply refuse, naming the library, its locked and new digests
// and the program that needs it; --update-lock accepts, and the program
// then runs with the new library.
func TestRootLockLibrary(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		skipOrFail(t, "needs gcc")
	}
	dir := t.TempDir()
	t.Setenv("NSUP_CACHE_DIR", filepath.Join(dir, "cache"))
	app := filepath.Join(dir, "app")
	libDir, binDir := filepath.Join(app, "lib"), filepath.Join(app, "bin")
	os.MkdirAll(libDir, 0o755)
	os.MkdirAll(binDir, 0o755)
	buildLib(t, gcc, libDir, 1)
	src := filepath.Join(dir, "prog.c")
	os.WriteFile(src, []byte("int nsup_value(void);\nint main(void) { return nsup_value() == 1 ? 0 : 3; }\n"), 0o644)
	prog := filepath.Join(binDir, "prog")
	if out, err := exec.Command(gcc, "-o", prog, src, "-L"+libDir, "-l:libnsupdata.so.1",
		"-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	specFile := filepath.Join(dir, "prog.yaml")
	os.WriteFile(specFile, []byte(`version: 1
environments:
  prog:
    rootfs: {closure: [`+prog+`]}
    namespaces: [mnt, pid]
    mounts:
      # glibc's loader finds $ORIGIN of a program through /proc/self/exe.
      - {type: proc, target: /proc}
    processes:
      - {name: main, command: [`+prog+`]}
`), 0o644)
	if code, out, errs := nsup(t, "lock", specFile); code != 0 {
		t.Fatalf("lock: %d %s %s", code, out, errs)
	}
	lib := filepath.Join(libDir, "libnsupdata.so.1")
	old, _ := os.ReadFile(lib)
	// In the spec's folder: locked relative to it.
	const locked = "./app/lib/libnsupdata.so.1"
	if lock, _ := os.ReadFile(specFile + ".lock"); !strings.Contains(string(lock), `"path":"`+locked+`"`) {
		t.Fatalf("the library is not in the lock:\n%s", lock)
	}
	if code, out, errs := nsup(t, "apply", specFile); code != 0 {
		t.Fatalf("apply with the lock: %d %s %s", code, out, errs)
	}
	entries := func() int { e, _ := filepath.Glob(filepath.Join(dir, "cache", "closure", "*.json")); return len(e) }
	if entries() != 1 {
		t.Fatalf("%d cache entries", entries())
	}

	buildLib(t, gcc, libDir, 2)
	now, _ := os.ReadFile(lib)
	want := fmt.Sprintf("  prog: %s: %s (locked) -> %s (now), needed by %s\n", locked, sha(old), sha(now), prog)
	for _, cmd := range []string{"plan", "apply"} {
		code, out, errs := nsup(t, cmd, specFile)
		if code != 2 || out != "" || !strings.Contains(errs, "prog.yaml.lock: refused") || !strings.Contains(errs, want) {
			t.Errorf("%s with a changed library: exit %d, stdout %q, stderr:\n%s\nwant the line\n%s", cmd, code, out, errs, want)
		}
	}
	if entries() != 1 {
		t.Errorf("the refused apply built a cache entry")
	}
	// Accepted: the program runs, and sees the new library (3: not 1).
	code, _, errs := nsup(t, "apply", "--update-lock", specFile)
	if code != 3 || !strings.Contains(errs, "prog.yaml.lock updated") {
		t.Errorf("apply --update-lock: exit %d (want 3, the new library's), %s", code, errs)
	}
	if code, _, errs := nsup(t, "plan", specFile); code != 0 {
		t.Errorf("plan after the update: %d %s", code, errs)
	}
}
